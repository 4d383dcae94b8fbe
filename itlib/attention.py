"""Instruction attention: let the instruction decide which input tokens matter.

Given encoded input tokens h_1 .. h_n (one vector each) and an instruction embedding e_I,

    s_i = h_i^T W e_I                 (a raw score per input token, W is learned)
    alpha_i = softmax_i(s_i)          (weights over the input tokens; padding gets weight 0)
    c = sum_i alpha_i h_i             (the context vector the answer is predicted from)

`instruction_attention` is the functional form, `InstructionAttention` the module, and
`reference_attention` the same thing written as a plain loop over i (for tests and teaching).

The rest of the module is a small task on which this attention can be watched at work: the same
mixed input ("7 red cat 2 blue ...") with different instructions ("what is the first digit",
"which colour comes last", ...), a tiny model `Selector` (items embedded + positions -> h_i; e_I =
mean of the instruction's word embeddings; the answer predicted from c) and its training loop.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from itlib.tasks import ANIMALS, COLOURS, DIGITS

__all__ = [
    "SELECT_TASKS",
    "AttentionOutput",
    "InstructionAttention",
    "SelectExample",
    "SelectVocab",
    "Selector",
    "TrainResult",
    "selector_accuracy",
    "encode_batch",
    "instruction_attention",
    "item_positions",
    "kind_mass",
    "make_example",
    "make_select_data",
    "position_mass",
    "predict",
    "reference_attention",
    "train_selector",
]


class AttentionOutput(NamedTuple):
    """What instruction attention returns: `context` c (batch, d_h), `weights` alpha (batch, n) and
    the raw `scores` s before the softmax (batch, n; -inf at padding)."""

    context: torch.Tensor
    weights: torch.Tensor
    scores: torch.Tensor


def _check_shapes(h: torch.Tensor, e: torch.Tensor, W: torch.Tensor, mask: torch.Tensor | None):
    if h.dim() != 3:
        raise ValueError(f"h must have shape (batch, tokens, d_h), got {tuple(h.shape)}")
    if e.dim() != 2 or e.shape[0] != h.shape[0]:
        raise ValueError(f"e_I must have shape (batch, d_e) = ({h.shape[0]}, d_e), got {tuple(e.shape)}")
    if W.shape != (h.shape[-1], e.shape[-1]):
        raise ValueError(f"W must have shape (d_h, d_e) = ({h.shape[-1]}, {e.shape[-1]}), got {tuple(W.shape)}")
    if mask is not None:
        if mask.shape != h.shape[:2]:
            raise ValueError(f"mask must have shape (batch, tokens) = {tuple(h.shape[:2])}, got {tuple(mask.shape)}")
        if not bool(mask.bool().any(dim=1).all()):
            raise ValueError("every sequence needs at least one real (unmasked) token")


def instruction_attention(h: torch.Tensor, e: torch.Tensor, W: torch.Tensor,
                          mask: torch.Tensor | None = None) -> AttentionOutput:
    """alpha_i = softmax_i(h_i^T W e_I) over the real tokens, c = sum_i alpha_i h_i.

    h: (batch, n, d_h) encoded input tokens; e: (batch, d_e) instruction embeddings; W: (d_h, d_e);
    mask: (batch, n), 1 for real tokens and 0 for padding (padding gets exactly zero weight).
    """
    _check_shapes(h, e, W, mask)
    scores = torch.einsum("bnd,de,be->bn", h, W, e)  # s_i = h_i^T W e_I
    if mask is not None:
        scores = scores.masked_fill(~mask.bool(), float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    context = torch.einsum("bn,bnd->bd", weights, h)  # c = sum_i alpha_i h_i
    return AttentionOutput(context, weights, scores)


def reference_attention(h: torch.Tensor, e: torch.Tensor, W: torch.Tensor,
                        mask: torch.Tensor | None = None) -> AttentionOutput:
    """The same computation as `instruction_attention`, written as loops over the batch and over i
    (slow; for tests and for reading)."""
    _check_shapes(h, e, W, mask)
    B, n, _ = h.shape
    contexts, all_weights, all_scores = [], [], []
    for b in range(B):
        real = [i for i in range(n) if mask is None or bool(mask[b, i])]
        s = [float("-inf")] * n
        for i in real:
            s[i] = float(h[b, i] @ W @ e[b])
        top = max(s[i] for i in real)
        z = sum(torch.exp(torch.tensor(s[i] - top)) for i in real)
        a = [float(torch.exp(torch.tensor(s[i] - top)) / z) if i in real else 0.0 for i in range(n)]
        c = torch.zeros(h.shape[-1], dtype=h.dtype)
        for i in real:
            c = c + a[i] * h[b, i]
        contexts.append(c)
        all_weights.append(torch.tensor(a, dtype=h.dtype))
        all_scores.append(torch.tensor(s, dtype=h.dtype))
    return AttentionOutput(torch.stack(contexts), torch.stack(all_weights), torch.stack(all_scores))


class InstructionAttention(nn.Module):
    """The learned bilinear instruction attention: one matrix W of shape (d_h, d_e).

    `forward(h, e, mask)` returns `AttentionOutput(context, weights, scores)`."""

    def __init__(self, d_h: int, d_e: int | None = None, seed: int | None = None):
        super().__init__()
        d_e = d_h if d_e is None else d_e
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.W = nn.Parameter(torch.randn(d_h, d_e, generator=gen) / (d_h * d_e) ** 0.25)

    def forward(self, h: torch.Tensor, e: torch.Tensor, mask: torch.Tensor | None = None) -> AttentionOutput:
        return instruction_attention(h, e, self.W, mask)

    def extra_repr(self) -> str:
        return f"d_h={self.W.shape[0]}, d_e={self.W.shape[1]}"


# ============================================================================ the selection task

KINDS = {"digit": DIGITS, "colour": COLOURS, "animal": ANIMALS}
ITEMS = (*DIGITS, *COLOURS, *ANIMALS)


def _first(kind):
    return lambda items: next(x for x in items if x in KINDS[kind])


def _last(kind):
    return lambda items: next(x for x in reversed(items) if x in KINDS[kind])


def _largest(items):
    return max(x for x in items if x in DIGITS)


@dataclass(frozen=True)
class SelectTask:
    """An instruction that picks one item of a `kind` from a mixed input; `solve(items)` answers it."""

    name: str
    kind: str
    phrasings: tuple[str, ...]
    solve: Callable[[Sequence[str]], str]


SELECT_TASKS: dict[str, SelectTask] = {t.name: t for t in (
    SelectTask("first_digit", "digit", (
        "what is the first digit", "give the first number", "which digit comes first",
        "name the earliest number in the list"), _first("digit")),
    SelectTask("last_digit", "digit", (
        "what is the last digit", "give the last number", "which digit comes last",
        "name the final number in the list"), _last("digit")),
    SelectTask("largest_digit", "digit", (
        "what is the largest digit", "give the biggest number", "which digit is the highest",
        "name the greatest number in the list"), _largest),
    SelectTask("first_colour", "colour", (
        "what is the first colour", "give the first colour word", "which colour comes first",
        "name the earliest colour in the list"), _first("colour")),
    SelectTask("last_colour", "colour", (
        "what is the last colour", "give the last colour word", "which colour comes last",
        "name the final colour in the list"), _last("colour")),
    SelectTask("first_animal", "animal", (
        "what is the first animal", "give the first animal word", "which animal comes first",
        "name the earliest animal in the list"), _first("animal")),
    SelectTask("last_animal", "animal", (
        "what is the last animal", "give the last animal word", "which animal comes last",
        "name the final animal in the list"), _last("animal")),
)}


@dataclass(frozen=True)
class SelectExample:
    """One example of the selection task: an `instruction`, the input `items`, the `answer` item,
    the `task` name, and the positions of the tokens that matter: `relevant` (every item of the
    asked kind) and `answer_positions` (where the answer item itself stands)."""

    instruction: str
    items: tuple[str, ...]
    answer: str
    task: str
    relevant: tuple[int, ...] = field(default=())
    answer_positions: tuple[int, ...] = field(default=())


def words_of(instruction: str) -> list[str]:
    """The instruction's words: lower case, punctuation dropped."""
    return re.findall(r"[a-z0-9]+", instruction.lower())


def make_example(task: str | SelectTask, items: Sequence[str], instruction: str | None = None) -> SelectExample:
    """The example for `task` on `items` (phrased as `instruction`, default its first phrasing)."""
    t = SELECT_TASKS[task] if isinstance(task, str) else task
    items = tuple(items)
    answer = t.solve(items)
    return SelectExample(
        instruction=instruction or t.phrasings[0], items=items, answer=answer, task=t.name,
        relevant=tuple(i for i, x in enumerate(items) if x in KINDS[t.kind]),
        answer_positions=tuple(i for i, x in enumerate(items) if x == answer),
    )


def random_items(rng: random.Random, min_len: int = 5, max_len: int = 8) -> tuple[str, ...]:
    """A mixed input with at least two digits, two colours and one animal, the rest random."""
    n = rng.randint(min_len, max_len)
    items = [rng.choice(DIGITS), rng.choice(DIGITS), rng.choice(COLOURS), rng.choice(COLOURS), rng.choice(ANIMALS)]
    items += [rng.choice(ITEMS) for _ in range(n - len(items))]
    rng.shuffle(items)
    return tuple(items)


def make_select_data(n: int, seed: int = 0, tasks: Sequence[str] | None = None, min_len: int = 5,
                     max_len: int = 8, phrasings: slice = slice(None)) -> list[SelectExample]:
    """`n` examples cycling through `tasks` (default all of SELECT_TASKS), with random phrasings
    (from `phrasings`, a slice of each task's phrasings) and random mixed inputs; deterministic."""
    if min_len < 5:
        raise ValueError("min_len must be at least 5 (two digits, two colours and an animal)")
    rng = random.Random(seed)
    names = list(tasks or SELECT_TASKS)
    out = []
    for k in range(n):
        t = SELECT_TASKS[names[k % len(names)]]
        out.append(make_example(t, random_items(rng, min_len, max_len), rng.choice(t.phrasings[phrasings])))
    return out


class SelectVocab:
    """Ids for input items and for instruction words; id 0 is padding, 1 an unknown word."""

    PAD, UNK = 0, 1

    def __init__(self, words: Sequence[str] | None = None):
        if words is None:
            words = sorted({w for t in SELECT_TASKS.values() for p in t.phrasings for w in words_of(p)})
        self.items = ["<pad>", *ITEMS]
        self.words = ["<pad>", "<unk>", *words]
        self.item_id = {x: i for i, x in enumerate(self.items)}
        self.word_id = {w: i for i, w in enumerate(self.words)}

    def encode_items(self, items: Sequence[str]) -> list[int]:
        unknown = [x for x in items if x not in self.item_id]
        if unknown:
            raise ValueError(f"unknown input item(s) {unknown}; items are digits, colours and animals: "
                             f"{' '.join(ITEMS)}")
        return [self.item_id[x] for x in items]

    def encode_instruction(self, instruction: str) -> list[int]:
        ids = [self.word_id.get(w, self.UNK) for w in words_of(instruction)]
        if not ids:
            raise ValueError(f"the instruction {instruction!r} has no words")
        return ids


def _pad(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for b, r in enumerate(rows):
        ids[b, : len(r)] = torch.tensor(r)
        mask[b, : len(r)] = 1
    return ids, mask


def encode_batch(examples: Sequence[SelectExample], vocab: SelectVocab) -> dict[str, torch.Tensor]:
    """Right-padded tensors: items, item_mask, words, word_mask, and the answer ids as `target`."""
    items, item_mask = _pad([vocab.encode_items(ex.items) for ex in examples])
    words, word_mask = _pad([vocab.encode_instruction(ex.instruction) for ex in examples])
    target = torch.tensor([vocab.item_id[ex.answer] for ex in examples])
    return {"items": items, "item_mask": item_mask, "words": words, "word_mask": word_mask, "target": target}


class SelectorOutput(NamedTuple):
    logits: torch.Tensor  # (batch, n_items)
    weights: torch.Tensor  # alpha (batch, n)
    scores: torch.Tensor  # raw scores before the softmax (batch, n)
    context: torch.Tensor  # c (batch, d)
    h: torch.Tensor  # encoded input tokens (batch, n, d)
    e: torch.Tensor  # instruction embeddings (batch, d)


class Selector(nn.Module):
    """A tiny instruction-conditioned reader.

    h_i = item embedding + position embedding (`encoder="position"`), or a bidirectional GRU over
    them (`encoder="gru"`); e_I = the mean of the instruction's word embeddings; then
    `pool="attention"`: c = sum_i alpha_i h_i with alpha_i = softmax_i(h_i^T W e_I), or, as a
    baseline that ignores the instruction when reading, `pool="mean"`: c = mean_i h_i. The answer
    is predicted by a small MLP over all items, from c alone with attention (so c must carry the
    answer), from [c; e_I] for the mean-pooling baseline (so it at least knows what was asked).
    """

    def __init__(self, vocab: SelectVocab, d: int = 32, max_len: int = 16, encoder: str = "position",
                 pool: str = "attention", seed: int = 0):
        super().__init__()
        if encoder not in ("position", "gru"):
            raise ValueError(f"encoder must be 'position' or 'gru', got {encoder!r}")
        if pool not in ("attention", "mean"):
            raise ValueError(f"pool must be 'attention' or 'mean', got {pool!r}")
        torch.manual_seed(seed)
        self.vocab, self.encoder, self.pool, self.max_len = vocab, encoder, pool, max_len
        self.item_emb = nn.Embedding(len(vocab.items), d, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, d)
        self.word_emb = nn.Embedding(len(vocab.words), d, padding_idx=0)
        self.gru = nn.GRU(d, d // 2, batch_first=True, bidirectional=True) if encoder == "gru" else None
        self.attention = InstructionAttention(d, d, seed=seed)
        d_in = d if pool == "attention" else 2 * d
        self.head = nn.Sequential(nn.Linear(d_in, 2 * d), nn.ReLU(), nn.Linear(2 * d, len(vocab.items)))

    def encode(self, items: torch.Tensor, item_mask: torch.Tensor) -> torch.Tensor:
        """h: (batch, n, d)."""
        n = items.shape[1]
        if n > self.max_len:
            raise ValueError(f"input of {n} items is longer than the model's max_len={self.max_len}")
        h = self.item_emb(items) + self.pos_emb(torch.arange(n, device=items.device))
        if self.gru is not None:
            lengths = item_mask.sum(1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False)
            h, _ = self.gru(packed)
            h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=n)
        return h * item_mask.unsqueeze(-1)

    def instruction_embedding(self, words: torch.Tensor, word_mask: torch.Tensor) -> torch.Tensor:
        """e_I = mean of the instruction's word embeddings (padding excluded): (batch, d)."""
        m = word_mask.unsqueeze(-1).float()
        return (self.word_emb(words) * m).sum(1) / m.sum(1).clamp(min=1)

    def forward(self, items, item_mask, words, word_mask) -> SelectorOutput:
        h = self.encode(items, item_mask)
        e = self.instruction_embedding(words, word_mask)
        if self.pool == "attention":
            c, alpha, scores = self.attention(h, e, item_mask)
        else:
            m = item_mask.float()
            alpha = m / m.sum(1, keepdim=True)
            scores = torch.zeros_like(alpha).masked_fill(~item_mask.bool(), float("-inf"))
            c = torch.einsum("bn,bnd->bd", alpha, h)
        logits = self.head(c if self.pool == "attention" else torch.cat([c, e], dim=-1))
        return SelectorOutput(logits, alpha, scores, c, h, e)


@dataclass
class TrainResult:
    losses: list[float]
    seconds: float
    steps: int


def train_selector(model: Selector, examples: Sequence[SelectExample], epochs: int = 20, lr: float = 1e-2,
                   batch_size: int = 128, seed: int = 0, progress: bool = True) -> TrainResult:
    """Cross-entropy on the answer item; Adam with a cosine learning-rate decay to lr/10; shuffled
    mini-batches; seeded (two runs with the same seed give the same losses)."""
    with one_thread():
        return _train(model, examples, epochs, lr, batch_size, seed, progress)


@contextmanager
def one_thread():
    """Run with one intra-op thread: for a model this small, more threads only add overhead (and on
    a busy machine thread contention makes every step many times slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train(model, examples, epochs, lr, batch_size, seed, progress) -> TrainResult:
    """Cross-entropy over the input items with Adam and a cosine schedule. Not `itlib.train.fit`: that
    loop trains causal LMs on token sequences with a loss mask; this model is no LM and reads items."""
    from itlib.progress import bar as progress_bar

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    optim = torch.optim.Adam(model.parameters(), lr=lr)
    n_batches = (len(examples) + batch_size - 1) // batch_size
    total = epochs * n_batches
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda step: 0.1 + 0.45 * (1 + math.cos(math.pi * step / total)))
    losses: list[float] = []
    model.train()
    t0 = time.perf_counter()
    bar = progress_bar(total=epochs * n_batches, desc="train selector", disable=not progress, leave=False)
    for _ in range(epochs):
        order = torch.randperm(len(examples), generator=gen).tolist()
        for s in range(0, len(order), batch_size):
            batch = encode_batch([examples[i] for i in order[s: s + batch_size]], model.vocab)
            out = model(batch["items"], batch["item_mask"], batch["words"], batch["word_mask"])
            loss = F.cross_entropy(out.logits, batch["target"])
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            sched.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            bar.update(1)
    bar.close(loss=losses[-1] if losses else None)
    model.eval()
    return TrainResult(losses, time.perf_counter() - t0, len(losses))


@torch.no_grad()
def predict(model: Selector, examples: Sequence[SelectExample], batch_size: int = 512) -> dict:
    """Predicted answers and the attention of each example: {"answers", "weights", "scores"}
    (weights and scores as lists of per-example tensors over that example's items)."""
    model.eval()
    with one_thread():
        return _predict(model, examples, batch_size)


def _predict(model, examples, batch_size) -> dict:
    answers, weights, scores = [], [], []
    for s in range(0, len(examples), batch_size):
        chunk = examples[s: s + batch_size]
        batch = encode_batch(chunk, model.vocab)
        out = model(batch["items"], batch["item_mask"], batch["words"], batch["word_mask"])
        answers += [model.vocab.items[i] for i in out.logits.argmax(-1).tolist()]
        for b, ex in enumerate(chunk):
            weights.append(out.weights[b, : len(ex.items)].clone())
            scores.append(out.scores[b, : len(ex.items)].clone())
    return {"answers": answers, "weights": weights, "scores": scores}


def selector_accuracy(model: Selector, examples: Sequence[SelectExample]) -> float:
    """Share of examples whose predicted answer item is right."""
    answers = predict(model, examples)["answers"]
    return sum(a == ex.answer for a, ex in zip(answers, examples)) / max(len(examples), 1)


def kind_mass(weights: torch.Tensor, items: Sequence[str], kind: str) -> float:
    """Attention mass on the items of `kind` ("digit", "colour" or "animal")."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return float(sum(weights[i] for i, x in enumerate(items) if x in KINDS[kind]))


def position_mass(weights: torch.Tensor, positions: Sequence[int]) -> float:
    """Attention mass on the given positions."""
    return float(sum(weights[i] for i in positions))


# ============================================================================ a transformer's view of the same question

def item_positions(tokenizer, example, fmt: str = "prefix") -> list[list[int]]:
    """For each whitespace-separated item of `example.input`, the positions of its tokens in
    `itlib.formats.prompt_ids(example, tokenizer, fmt)` (position 0 is BOS)."""
    from itlib.formats import prompt_text

    text = prompt_text(example, fmt)
    start = text.rfind(example.input)
    if not example.input or start < 0:
        raise ValueError(f"the input {example.input!r} does not appear in the {fmt} prompt")
    spans, pos = [], start
    for item in example.input.split():
        s = text.index(item, pos)
        spans.append((s, s + len(item)))
        pos = s + len(item)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    out: list[list[int]] = [[] for _ in spans]
    for t, (a, b) in enumerate(enc["offset_mapping"]):
        for k, (s, e) in enumerate(spans):
            if a < e and b > s:
                out[k].append(t + 1)  # + 1 for BOS
    return out
