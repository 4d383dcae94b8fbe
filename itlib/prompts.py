"""Prompts as a representation to choose, to learn and to combine.

- **Prompt engineering** (`score_templates`): one model, the same inputs X_i, several phrasings I_k of
  the instruction; each phrasing gets its own exact match

      EM_k = (1/n) sum_i [ generate(f(X_i, I_k)) == Y_i ]

  and the spread max_k EM_k - min_k EM_k is how much the wording alone matters.
- **Prompt tuning** (`SoftPrompt`, Lester et al. 2021): m "virtual tokens" P in R^{m x d} are placed
  among the input embeddings (where the instruction was, or in front of everything as `peft` does);
  the model theta stays frozen and only P is trained on the answer tokens:

      P* = argmin_P  - sum_i log P_theta(Y_i | [E(head_i); P; E(tail_i)])

  Training goes through `itlib.train.fit` (its `loss_fn=` and `collate_fn=` hooks); `soft_prompt_with_peft`
  gives the same model through `peft`'s `PromptTuningConfig`.
- **Prompt ensembling**: K prompts answer the same input. `majority_vote` keeps the most frequent
  answer; `ensemble_by_probability` averages each candidate answer's probability over the prompts,

      y_hat = argmax_{y in C_i} (1/K) sum_k P_theta(y | f(X_i, I_k)),

  with P(y | .) the probability of the whole answer (its tokens and EOS), optionally renormalised over
  the candidates C_i of each prompt.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from itlib.data import Example
from itlib.evaluate import decode_answer, exact_match, generate, normalise
from itlib.formats import encode, prompt_ids, prompt_text
from itlib.train import collate, masked_nll

__all__ = [
    "SLOT", "SlotRendered", "SoftPrompt", "answer_logprobs", "collate_slots", "distinct_answers",
    "ensemble_by_probability", "generate_soft", "init_prompt", "instruction_tokens", "majority_vote", "render_slot", "rephrase",
    "score_templates", "soft_prompt_loss", "soft_prompt_with_peft", "train_soft_prompt",
]


# ---------------------------------------------------------------------------------------------
# prompt engineering: the same inputs under many phrasings


def rephrase(examples: Sequence[Example], instruction: str) -> list[Example]:
    """The same examples (inputs, answers, task labels) asked with another `instruction`."""
    return [dataclasses.replace(ex, instruction=instruction, template=-1) for ex in examples]


def _split_of(task_name: str, instruction: str) -> str:
    """"train" / "held-out" for a template of the task in `itlib.tasks`, "new" for any other text."""
    from itlib.tasks import TASKS

    task = TASKS.get(task_name)
    if task is None or instruction not in task.all_templates():
        return "new"
    return "held-out" if instruction in task.heldout_templates() else "train"


def score_templates(model, tokenizer, examples: Sequence[Example], templates: dict[str, Sequence[str]] | None = None,
                    fmt: str = "prefix", batch_size: int = 64, english_only: bool = False, progress: bool = False):
    """Exact match of `model` on the inputs of `examples` asked with every template of their task.

    For each task in `examples`, its inputs and reference answers are re-asked with each of the task's
    templates (`itlib.tasks`: training and held-out, English and Chinese; `english_only=True` drops the
    Chinese ones) plus, if given, the extra phrasings `templates[task]`. All prompts are generated in one
    batched call. Returns a pandas DataFrame with one row per (task, phrasing): task, template (index
    in the task's templates, -1 for an extra one), instruction, split ("train", "held-out" or "new"),
    exact_match, n, and the predictions (in the order of that task's examples).
    """
    import pandas as pd

    from itlib.tasks import TASKS

    by_task: dict[str, list[Example]] = {}
    for ex in examples:
        by_task.setdefault(ex.task, []).append(ex)
    jobs = []  # (task, template index, instruction, examples)
    for name, exs in by_task.items():
        task = TASKS.get(name)
        own = [] if task is None else (list(task.templates) if english_only else task.all_templates())
        extra = [t for t in (templates or {}).get(name, []) if t not in own]
        if not own and not extra:
            raise ValueError(f"no templates for task {name!r}: it is not in itlib.tasks; pass templates={{{name!r}: [...]}}")
        for instruction in own + extra:
            index = own.index(instruction) if instruction in own else -1
            jobs.append((name, index, instruction, rephrase(exs, instruction)))
    flat = [ex for *_, exs in jobs for ex in exs]
    preds = generate(model, tokenizer, flat, fmt=fmt, batch_size=batch_size, progress=progress)
    rows, start = [], 0
    for name, index, instruction, exs in jobs:
        p = preds[start: start + len(exs)]
        start += len(exs)
        rows.append({"task": name, "template": index, "instruction": instruction,
                     "split": _split_of(name, instruction), "exact_match": exact_match(p, [e.output for e in exs]),
                     "n": len(exs), "predictions": p})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# prompt tuning: soft prompts

SLOT = "\ue000"  # a private-use character: marks where the instruction goes while splitting f(X, I)
WHERE = ("instruction", "start")


@dataclass(frozen=True)
class SlotRendered:
    """A rendered example (as `itlib.formats.Rendered`) with `slot`: the index in `input_ids` before
    which the soft prompt's m vectors go."""

    input_ids: list[int]
    loss_mask: list[int]
    prompt_len: int
    slot: int


def _around_instruction(example: Example, fmt: str) -> tuple[str, str, str]:
    """f(X, I)'s prompt text split around the instruction: (head, lead, tail), where `lead` is the
    whitespace just before the instruction (its tokens carry it: "Instruction:" + " Sort ...")."""
    head, tail = prompt_text(dataclasses.replace(example, instruction=SLOT), fmt).split(SLOT)
    stripped = head.rstrip(" ")
    return stripped, head[len(stripped):], tail


def instruction_tokens(tokenizer, instruction: str, fmt: str = "prefix") -> list[int]:
    """The token ids `instruction` has inside f(X, I) (with the space before it): a soft prompt
    initialised with their embeddings (init="text", token_ids=...) *is* the hand-written prompt."""
    _, lead, _ = _around_instruction(Example(instruction, "x", "y"), fmt)
    return encode(tokenizer, lead + instruction)


def render_slot(example: Example, tokenizer, fmt: str = "prefix", where: str = "instruction") -> SlotRendered:
    """Tokenise f(X, I) + Y + EOS and mark the soft prompt's place.

    where="instruction": the soft prompt *replaces* the instruction: the tokens are f(X, ·) with the
    instruction's tokens removed, and `slot` is where they were ("<s>Instruction:[P]\\nInput: ...");
    P = the embeddings of `instruction_tokens(...)` gives exactly the model's input for f(X, I).
    where="start": the instruction stays, and the soft prompt goes in front of everything (slot 0,
    before BOS), as `peft`'s prompt tuning does.
    """
    answer = encode(tokenizer, example.output) + [tokenizer.eos_token_id]
    if where == "start":
        prompt, slot = prompt_ids(example, tokenizer, fmt), 0
    elif where == "instruction":
        head, _, tail = _around_instruction(example, fmt)
        prompt = [tokenizer.bos_token_id] + encode(tokenizer, head)
        slot = len(prompt)
        prompt += encode(tokenizer, tail)
    else:
        raise ValueError(f"where must be one of {', '.join(WHERE)}, got {where!r}")
    return SlotRendered(prompt + answer, [0] * len(prompt) + [1] * len(answer), len(prompt), slot)


def collate_slots(items: Sequence[SlotRendered], pad_id: int) -> dict[str, torch.Tensor]:
    """`itlib.train.collate` (right padding) plus a `slot` tensor: one position per row."""
    batch = collate(items, pad_id)
    batch["slot"] = torch.tensor([r.slot for r in items], dtype=torch.long)
    return batch


def _insert(x: torch.Tensor, slot: torch.Tensor, m: int, fill) -> torch.Tensor:
    """Insert `m` copies of `fill` into every row of `x` (batch, length) before position slot[row]."""
    b, n = x.shape
    j = torch.arange(n + m, device=x.device).expand(b, -1)
    s = slot.to(x.device).view(-1, 1)
    virtual = (j >= s) & (j < s + m)
    src = torch.where(j < s, j, j - m).clamp(0, max(n - 1, 0))
    out = x.gather(1, src)
    return out.masked_fill(virtual, fill)


def init_prompt(embeddings: torch.Tensor, n_tokens: int, init: str = "random", token_ids: Sequence[int] | None = None,
                seed: int = 0) -> torch.Tensor:
    """Starting values for P (n_tokens x d), from the model's embedding matrix E (vocab x d):

    - "random": N(0, sigma^2) with sigma = the standard deviation of E's entries (the scale of real tokens)
    - "vocab":  the embeddings of `n_tokens` tokens drawn uniformly from the vocabulary (peft's SAMPLE_VOCAB)
    - "text":   the embeddings of `token_ids` (e.g. the hand-written instruction's or the label words'),
                repeated or cut to `n_tokens` (as peft's TEXT init)
    """
    gen = torch.Generator().manual_seed(seed)
    E = embeddings.detach().float().cpu()
    if init == "random":
        return torch.randn(n_tokens, E.shape[1], generator=gen) * E.std()
    if init == "vocab":
        return E[torch.randint(0, E.shape[0], (n_tokens,), generator=gen)].clone()
    if init == "text":
        ids = list(token_ids or [])
        if not ids:
            raise ValueError('init="text" needs token_ids (the tokens of the text to start from)')
        ids = (ids * math.ceil(n_tokens / len(ids)))[:n_tokens]
        return E[torch.tensor(ids)].clone()
    raise ValueError(f'init must be "random", "vocab" or "text", got {init!r}')


class SoftPrompt(nn.Module):
    """A frozen causal LM with m trainable virtual-token vectors P (the only trainable parameters).

    `forward(input_ids, attention_mask, slot)` embeds the tokens, inserts P before position `slot`
    (an int or one per row; 0 = in front of everything) and runs the model on the embeddings. The
    returned logits cover the longer sequence (length + m), as `peft` does.

    `init`: "random", "vocab" or "text" (see `init_prompt`); for "text" pass `tokenizer` and `text`
    (or `token_ids`). The model's parameters get requires_grad=False, so `fit` trains only P.
    `n_tokens=0` is the empty prompt: with where="instruction", the model asked with no instruction.
    """

    def __init__(self, model, n_tokens: int = 8, init: str = "random", tokenizer=None, text: str | None = None,
                 token_ids: Sequence[int] | None = None, seed: int = 0):
        super().__init__()
        if n_tokens < 0:
            raise ValueError(f"n_tokens must be >= 0 (0 = no prompt at all), got {n_tokens}")
        self.model = model
        for p in model.parameters():
            p.requires_grad_(False)
        emb = model.get_input_embeddings().weight
        if init == "text" and token_ids is None:
            if tokenizer is None or text is None:
                raise ValueError('init="text" needs tokenizer= and text= (or token_ids=)')
            token_ids = encode(tokenizer, text)
        self.prompt = nn.Parameter(init_prompt(emb, n_tokens, init, token_ids, seed).to(emb.device, emb.dtype))

    @property
    def n_tokens(self) -> int:
        return self.prompt.shape[0]

    def _slot(self, input_ids: torch.Tensor, slot) -> torch.Tensor:
        if isinstance(slot, int):
            return torch.full((input_ids.shape[0],), slot, dtype=torch.long, device=input_ids.device)
        return slot.to(input_ids.device)

    def embed(self, input_ids: torch.Tensor, slot=0) -> torch.Tensor:
        """Input embeddings with P inserted before position `slot`: (batch, length + m, d)."""
        slot = self._slot(input_ids, slot)
        m = self.n_tokens
        if m == 0:
            return self.model.get_input_embeddings()(input_ids)
        ids = _insert(input_ids, slot, m, 0)
        virtual = _insert(torch.zeros_like(input_ids, dtype=torch.bool), slot, m, True)
        emb = self.model.get_input_embeddings()(ids)
        which = (virtual.long().cumsum(1) - 1).clamp(0, m - 1)  # the j-th virtual position gets P[j]
        placed = self.prompt.to(emb.dtype)[which]
        return torch.where(virtual.unsqueeze(-1), placed, emb)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, slot=0, **kwargs):
        slot = self._slot(input_ids, slot)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        mask = _insert(attention_mask, slot, self.n_tokens, 1)
        return self.model(inputs_embeds=self.embed(input_ids, slot), attention_mask=mask, **kwargs)


def soft_prompt_loss(soft: SoftPrompt, batch: dict) -> torch.Tensor:
    """The answer loss with the soft prompt in place: `masked_nll` on the longer sequence, where the m
    virtual positions carry no loss. A `loss_fn` for `itlib.train.fit` (batch from `collate_slots`)."""
    slot, m = batch["slot"], soft.n_tokens
    logits = soft(batch["input_ids"], batch["attention_mask"], slot).logits
    ids = _insert(batch["input_ids"], slot, m, 0)
    loss_mask = _insert(batch["loss_mask"], slot, m, 0)
    return masked_nll(logits, ids, loss_mask)


def train_soft_prompt(soft: SoftPrompt, tokenizer, examples: Sequence[Example], fmt: str = "prefix",
                      where: str = "instruction", epochs: float = 2.0, lr: float = 3e-2, batch_tokens: int = 1024,
                      seed: int = 0, progress: bool = True, **fit_kwargs):
    """Train only P on `examples` with `itlib.train.fit` (`loss_fn=soft_prompt_loss`,
    `collate_fn=collate_slots`). Returns fit's FitResult."""
    from itlib.train import fit

    rendered = [render_slot(ex, tokenizer, fmt, where) for ex in examples]
    return fit(soft, tokenizer, rendered=rendered, epochs=epochs, lr=lr, batch_tokens=batch_tokens, seed=seed,
               loss_fn=soft_prompt_loss, collate_fn=collate_slots, progress=progress, **fit_kwargs)


@torch.no_grad()
def generate_soft(soft: SoftPrompt, tokenizer, examples: Sequence[Example], fmt: str = "prefix",
                  where: str = "instruction", batch_size: int = 64, max_new_tokens: int = 32) -> list[str]:
    """Greedy answers with the soft prompt in place (KV cache). Prompts of equal length are batched
    together, so no padding is needed and positions are exactly those seen in training."""
    device = soft.prompt.device
    items = [render_slot(ex, tokenizer, fmt, where) for ex in examples]
    groups: dict[tuple[int, int], list[int]] = {}
    for i, r in enumerate(items):
        groups.setdefault((r.prompt_len, r.slot), []).append(i)
    answers = [""] * len(items)
    was_training = soft.training
    soft.eval()
    for (n, slot), idx in sorted(groups.items()):
        for s in range(0, len(idx), batch_size):
            rows = idx[s: s + batch_size]
            ids = torch.tensor([items[i].input_ids[:n] for i in rows], device=device)
            embeds = soft.embed(ids, slot)
            out = soft.model.generate(
                inputs_embeds=embeds, attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long, device=device),
                do_sample=False, max_new_tokens=max_new_tokens, eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id, use_cache=True,
            )
            for row, i in enumerate(rows):  # with inputs_embeds alone, generate returns only the new tokens
                answers[i] = decode_answer(tokenizer, out[row].tolist())
    soft.train(was_training)
    return answers


def soft_prompt_with_peft(model, prompt: torch.Tensor):
    """The same soft prompt through `peft`: `get_peft_model` with `PromptTuningConfig` (CAUSAL_LM,
    m = len(prompt) virtual tokens, in front of the input), its prompt embedding set to `prompt`.
    Note that peft wraps `model` in place (and freezes it): pass a copy to keep the original."""
    from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

    config = PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=prompt.shape[0],
                                token_dim=prompt.shape[1], prompt_tuning_init=PromptTuningInit.RANDOM)
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        peft_model.prompt_encoder["default"].embedding.weight.copy_(prompt.detach())
    return peft_model


# ---------------------------------------------------------------------------------------------
# prompt ensembling


def majority_vote(predictions: Sequence[Sequence[str]]) -> list[str]:
    """`predictions[k][i]`: prompt k's answer to input i. For each input, the most frequent answer
    (compared whitespace-normalised). A tie goes to the tied answer given by the earliest prompt in
    the list, so list the prompts best first."""
    if not predictions:
        raise ValueError("majority_vote needs the predictions of at least one prompt")
    n = len(predictions[0])
    if any(len(p) != n for p in predictions):
        raise ValueError(f"every prompt needs one answer per input: got {[len(p) for p in predictions]}")
    out = []
    for i in range(n):
        answers = [normalise(p[i]) for p in predictions]
        counts = Counter(answers)
        best = max(counts.values())
        out.append(next(a for a in answers if counts[a] == best))  # first in prompt order among the tied
    return out


def distinct_answers(predictions: Sequence[Sequence[str]]) -> list[list[str]]:
    """Per input, the different (whitespace-normalised) answers the prompts gave, in prompt order:
    the candidate sets for `ensemble_by_probability`."""
    return [list(dict.fromkeys(normalise(p[i]) for p in predictions)) for i in range(len(predictions[0]))]


@torch.no_grad()
def answer_logprobs(model, tokenizer, examples: Sequence[Example], candidates: Sequence[Sequence[str]],
                    fmt: str = "prefix", batch_size: int = 128) -> list[list[float]]:
    """log P(y + EOS | f(X_i, I_i)) for every candidate y in `candidates[i]`: the summed log-probability
    of the answer's tokens and the end-of-sequence token, tokenised as in training."""
    device = next(model.parameters()).device
    jobs = []  # (example index, candidate index, ids, mask)
    for i, (ex, cands) in enumerate(zip(examples, candidates, strict=True)):
        prompt = prompt_ids(ex, tokenizer, fmt)
        for c, text in enumerate(cands):
            answer = encode(tokenizer, text) + [tokenizer.eos_token_id]
            jobs.append((i, c, prompt + answer, [0] * len(prompt) + [1] * len(answer)))
    out = [[0.0] * len(c) for c in candidates]
    order = sorted(range(len(jobs)), key=lambda j: len(jobs[j][2]))
    was_training = model.training
    model.eval()
    for s in range(0, len(order), batch_size):
        chunk = [jobs[j] for j in order[s: s + batch_size]]
        width = max(len(ids) for *_, ids, _ in chunk)
        ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        attn = torch.zeros_like(ids)
        for row, (*_, tokens, m) in enumerate(chunk):
            ids[row, :len(tokens)] = torch.tensor(tokens)
            mask[row, :len(tokens)] = torch.tensor(m)
            attn[row, :len(tokens)] = 1
        ids, mask, attn = ids.to(device), mask.to(device), attn.to(device)
        logits = model(input_ids=ids, attention_mask=attn).logits.float()
        logp = F.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        total = (logp * mask[:, 1:]).sum(1).tolist()
        for (i, c, *_), value in zip(chunk, total):
            out[i][c] = value
    model.train(was_training)
    return out


def ensemble_by_probability(model, tokenizer, prompts: Sequence[Sequence[Example]],
                            candidates: Sequence[Sequence[str]], fmt: str = "prefix", normalise_over: bool = True,
                            batch_size: int = 128) -> list[str]:
    """`prompts[k][i]`: input i asked with prompt k. Each candidate y in `candidates[i]` scores
    (1/K) sum_k p_k(y), where p_k(y) = P(y | prompt k) (the whole answer, EOS included), renormalised
    over the candidates when `normalise_over` (each prompt then casts one unit of probability); the
    answer is the best-scoring candidate (ties: the first candidate). An input with one candidate gets
    it without scoring."""
    if not prompts:
        raise ValueError("ensemble_by_probability needs at least one prompt")
    n = len(candidates)
    if any(len(p) != n for p in prompts):
        raise ValueError(f"every prompt needs one example per input ({n}): got {[len(p) for p in prompts]}")
    todo = [i for i in range(n) if len(candidates[i]) > 1]
    answers = [normalise(c[0]) if c else "" for c in candidates]
    if not todo:
        return answers
    total = {i: torch.zeros(len(candidates[i]), dtype=torch.float64) for i in todo}
    jobs = [(examples[i], i) for examples in prompts for i in todo]  # every prompt's scoring in one batched call
    logp = answer_logprobs(model, tokenizer, [ex for ex, _ in jobs], [candidates[i] for _, i in jobs], fmt, batch_size)
    for (_, i), lp in zip(jobs, logp):
        lp = torch.tensor(lp, dtype=torch.float64)
        total[i] += torch.softmax(lp, 0) if normalise_over else lp.exp()
    for i in todo:
        answers[i] = normalise(candidates[i][int(torch.argmax(total[i]))])  # argmax: first of the tied
    return answers
