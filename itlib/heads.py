"""One instruction-conditioned backbone, three ways to use it.

The backbone reads f(X, I) (the prompt: instruction + input) and gives a hidden state h_t at every
position t. Three ways to turn that into an answer:

- conditional generation: the LM head continues f(X, I) with the answer tokens
  (train: `itlib.train.fit`; score: exact match with `itlib.evaluate`);
- sequence classification: one label for the whole input,
      p(y | X, I) = softmax(W h_last + b),   h_last = the hidden state of the last non-pad token,
  trained with cross-entropy (`SequenceClassifier`); or without any new parameters, a *verbaliser*
  over the LM: score every label word's log-probability after the prompt and pick the best,
      y_hat = argmax_y  sum_k log P(y_k | f(X, I), y_<k)            (`verbalise`);
- sequence labelling: one tag per input item,
      p(z_j | X, I) = softmax(W h_{t_j} + b),   t_j = the last token of the input's j-th item,
  trained with cross-entropy over all items (`TokenTagger`). The instruction is part of f(X, I), so
  the same item can get different tags under different instructions.

Both heads work on any Hugging Face causal LM (`backbone.base_model` gives the hidden states).
`train_head` is a small training loop for them that reuses `itlib.train`'s batching (length-grouped
batches, `collate`) and schedule; `fit` itself trains only the LM loss.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from itlib.data import Example
from itlib.formats import Rendered, encode, prompt_ids, prompt_text
from itlib.train import FitResult, collate, fit

__all__ = [
    "Encoded", "SequenceClassifier", "TokenTagger", "encode_classification", "encode_tagging",
    "item_positions", "label_logprobs", "last_token_index", "majority_baseline", "predict_labels",
    "predict_tags", "sequence_logprobs", "task_labels", "train_head", "verbalise",
]

IGNORE = -100  # label value that cross_entropy skips


# ------------------------------------------------------------------------------------------ heads


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position of the last real (non-pad) token in each row, for right- or left-padded batches."""
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    return (attention_mask.long() * (positions + 1)).argmax(dim=1)


class _Head(nn.Module):
    """A backbone (any HF causal LM) plus a linear layer on its final hidden states."""

    def __init__(self, backbone, n_out: int, names: Sequence[str] | None = None):
        super().__init__()
        if names is not None and len(names) != n_out:
            raise ValueError(f"{len(names)} names for {n_out} outputs")
        self.backbone = backbone
        self.head = nn.Linear(backbone.config.hidden_size, n_out)
        self.names = list(names) if names is not None else [str(i) for i in range(n_out)]
        torch.nn.init.normal_(self.head.weight, std=0.02)
        torch.nn.init.zeros_(self.head.bias)

    def hidden_states(self, input_ids, attention_mask=None) -> torch.Tensor:
        """(batch, length, hidden): the backbone's final hidden states (after its last norm)."""
        body = self.backbone.base_model  # LlamaModel / GPT2Model / ...: no LM head computed
        return body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class SequenceClassifier(_Head):
    """p(y | X, I) = softmax(W h_last + b): a classification head on the hidden state of the last
    non-pad token of f(X, I) (a causal model has read everything by then). `labels` names the classes."""

    def __init__(self, backbone, n_labels: int, labels: Sequence[str] | None = None):
        super().__init__(backbone, n_labels, labels)

    @property
    def labels(self) -> list[str]:
        return self.names

    def forward(self, input_ids, attention_mask=None) -> torch.Tensor:
        """(batch, n_labels) logits."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        h = self.hidden_states(input_ids, attention_mask)
        last = last_token_index(attention_mask)
        return self.head(h[torch.arange(h.shape[0], device=h.device), last])

    def batch_logits(self, batch: dict) -> torch.Tensor:
        """One row of logits per example (what the loss compares with the labels)."""
        return self(batch["input_ids"], batch["attention_mask"])


class TokenTagger(_Head):
    """p(z_t | X, I) = softmax(W h_t + b) at every position t; only the positions that end an input
    item are trained and read (`read_mask`, built by `encode_tagging`). `tags` names the tags."""

    def __init__(self, backbone, n_tags: int, tags: Sequence[str] | None = None):
        super().__init__(backbone, n_tags, tags)

    @property
    def tags(self) -> list[str]:
        return self.names

    def forward(self, input_ids, attention_mask=None) -> torch.Tensor:
        """(batch, length, n_tags) logits at every position."""
        return self.head(self.hidden_states(input_ids, attention_mask))

    def batch_logits(self, batch: dict) -> torch.Tensor:
        """(number of read positions, n_tags): the read positions row by row, left to right."""
        logits = self(batch["input_ids"], batch["attention_mask"])
        return logits[batch["loss_mask"].bool()]


# ------------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class Encoded:
    """An example for a head: the prompt's token ids, a 0/1 `read` mask (where the head is read:
    the last token for a classifier, the last token of each input item for a tagger) and one
    label id per read position."""

    input_ids: list[int]
    read: list[int]
    labels: list[int]

    def as_rendered(self) -> Rendered:
        """For `itlib.train.collate` (the read mask travels as its loss_mask)."""
        return Rendered(self.input_ids, self.read, len(self.input_ids))


def item_positions(example: Example, tokenizer, fmt: str = "prefix") -> list[int]:
    """For each whitespace-separated item of the input, the index (in `prompt_ids(example)`) of the
    last token that covers it: the first position where a causal model has read the whole item.

    Needs a fast tokenizer (character offsets). Two items inside one token share its position."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("item_positions needs a fast tokenizer (one that returns offset mappings)")
    text = prompt_text(example, fmt)
    marker = "\ue000"  # a private-use character: where the input starts in f(X, I)
    start = prompt_text(dataclasses.replace(example, input=marker + example.input), fmt).index(marker)
    if text[start: start + len(example.input)] != example.input:
        raise ValueError(f"cannot find the input {example.input!r} in the {fmt} prompt")
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    if enc["input_ids"] != encode(tokenizer, text):
        raise ValueError("tokenising with offsets gave other ids than `formats.encode`")
    shift = len(prompt_ids(example, tokenizer, fmt)) - len(enc["input_ids"])  # BOS (and the like) first
    positions = []
    for m in re.finditer(r"\S+", example.input):
        lo, hi = start + m.start(), start + m.end()
        covering = [k for k, (a, b) in enumerate(enc["offset_mapping"]) if a < hi and b > lo]
        if not covering:
            raise ValueError(f"no token covers the item {m.group()!r} of {example.input!r}")
        positions.append(covering[-1] + shift)
    return positions


def _index(names: Sequence[str], value: str, what: str) -> int:
    try:
        return list(names).index(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not one of {list(names)}") from None


def encode_classification(examples: Sequence[Example], tokenizer, labels: Sequence[str],
                          fmt: str = "prefix") -> list[Encoded]:
    """Each example's prompt f(X, I), read at its last token, with its output's index in `labels`."""
    out = []
    for ex in examples:
        ids = prompt_ids(ex, tokenizer, fmt)
        out.append(Encoded(ids, [0] * (len(ids) - 1) + [1], [_index(labels, ex.output.strip(), "label")]))
    return out


def encode_tagging(examples: Sequence[Example], tokenizer, tags: Sequence[str],
                   fmt: str = "prefix") -> list[Encoded]:
    """Each example's prompt, read at the last token of every input item, with one tag per item
    (the output's tags, in order, as indices into `tags`)."""
    out = []
    for ex in examples:
        ids = prompt_ids(ex, tokenizer, fmt)
        positions = item_positions(ex, tokenizer, fmt)
        gold = ex.output.split()
        if len(gold) != len(positions):
            raise ValueError(f"{len(gold)} tags for {len(positions)} input items: {ex.input!r} -> {ex.output!r}")
        if len(set(positions)) != len(positions):
            raise ValueError(f"two items of {ex.input!r} share one token; the tagger cannot tell them apart")
        read = [0] * len(ids)
        for p in positions:
            read[p] = 1
        out.append(Encoded(ids, read, [_index(tags, t, "tag") for t in gold]))
    return out


def _batch(items: Sequence[Encoded], pad_id: int, device="cpu") -> dict:
    batch = collate([it.as_rendered() for it in items], pad_id)
    batch["labels"] = torch.tensor([y for it in items for y in it.labels], dtype=torch.long)
    return {k: v.to(device) for k, v in batch.items()}


# ------------------------------------------------------------------------------------------ training


def train_head(model: _Head, tokenizer, data: Sequence[Encoded], *, epochs: float = 3.0, lr: float = 2e-3,
               batch_tokens: int = 1024, max_batch: int = 128, warmup: float = 0.05, clip: float = 1.0,
               seed: int = 0, device: str = "auto", progress: bool = True) -> FitResult:
    """Minimise the cross-entropy of the head's logits at the read positions,
        L = -(1/N) sum_n log softmax(W h_n + b)[y_n],
    over all parameters that require grad (backbone and head): `itlib.train.fit` (length-grouped
    batches, AdamW, warm-up + cosine decay, gradient clipping, seeded) with the head's loss."""
    if not data:
        raise ValueError("train_head got no training examples")
    return fit(model, tokenizer, rendered=data, collate_fn=_batch, loss_fn=head_loss, epochs=epochs, lr=lr,
               batch_tokens=batch_tokens, max_batch=max_batch, warmup=warmup, clip=clip, seed=seed,
               device=device, precision="fp32", progress=progress)


def head_loss(model: _Head, batch: dict) -> torch.Tensor:
    """Cross-entropy of the head's logits at the read positions against the labels."""
    return F.cross_entropy(model.batch_logits(batch), batch["labels"])


# ------------------------------------------------------------------------------------------ prediction


@torch.no_grad()
def _logits_in_batches(model: _Head, tokenizer, data: Sequence[Encoded], batch_size: int) -> list[torch.Tensor]:
    """The head's logits at each example's read positions, in the order of `data`."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    order = sorted(range(len(data)), key=lambda i: len(data[i].input_ids))
    out: list[torch.Tensor] = [torch.empty(0)] * len(data)
    for s in range(0, len(order), batch_size):
        idx = order[s: s + batch_size]
        logits = model.batch_logits(_batch([data[i] for i in idx], tokenizer.pad_token_id, device)).cpu()
        counts = [sum(data[i].read) for i in idx] if isinstance(model, TokenTagger) else [1] * len(idx)
        for i, chunk in zip(idx, logits.split(counts)):
            out[i] = chunk
    model.train(was_training)
    return out


def predict_labels(model: SequenceClassifier, tokenizer, examples: Sequence[Example], fmt: str = "prefix",
                   batch_size: int = 64) -> list[str]:
    """The classifier's label for each example (argmax over all its labels)."""
    data = [Encoded(ids, [0] * (len(ids) - 1) + [1], [0]) for ids in (prompt_ids(e, tokenizer, fmt) for e in examples)]
    return [model.labels[int(row.argmax())] for row in _logits_in_batches(model, tokenizer, data, batch_size)]


def predict_tags(model: TokenTagger, tokenizer, examples: Sequence[Example], fmt: str = "prefix",
                 batch_size: int = 64) -> list[str]:
    """The tagger's tags for each example, one per input item, joined by spaces ("NUM COL ANI"),
    ready for `itlib.evaluate.tag_prf`."""
    data = []
    for e in examples:
        ids = prompt_ids(e, tokenizer, fmt)
        read = [0] * len(ids)
        for p in item_positions(e, tokenizer, fmt):
            read[p] = 1
        data.append(Encoded(ids, read, [0] * sum(read)))
    rows = _logits_in_batches(model, tokenizer, data, batch_size)
    return [" ".join(model.tags[int(k)] for k in row.argmax(dim=-1)) for row in rows]


# ------------------------------------------------------------------------------------------ verbaliser


@torch.no_grad()
def sequence_logprobs(model, tokenizer, items: Sequence[Rendered], batch_size: int = 64) -> torch.Tensor:
    """For each rendered sequence, sum_{t: loss_mask_t = 1} log P(x_t | x_<t): the log-probability
    the LM gives the masked tokens. One number per sequence (a tensor of len(items))."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = torch.empty(len(items))
    order = sorted(range(len(items)), key=lambda i: len(items[i].input_ids))
    for s in range(0, len(order), batch_size):
        idx = order[s: s + batch_size]
        batch = {k: v.to(device) for k, v in collate([items[i] for i in idx], tokenizer.pad_token_id).items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        logp = F.log_softmax(logits[:, :-1].float(), dim=-1)
        token = logp.gather(-1, batch["input_ids"][:, 1:].unsqueeze(-1)).squeeze(-1)
        out[idx] = (token * batch["loss_mask"][:, 1:]).sum(dim=1).cpu()
    model.train(was_training)
    return out


def task_labels(example: Example) -> tuple[str, ...]:
    """The label words of the suite task an example comes from (e.g. ("positive", "negative"))."""
    from itlib.tasks import get_task

    labels = get_task(example.task).labels
    if not labels:
        raise ValueError(f"task {example.task!r} has no label words; pass `labels` to verbalise")
    return labels


LabelsArg = Sequence[str] | dict | Callable[[Example], Sequence[str]] | None


def _labels_for(labels: LabelsArg, example: Example) -> list[str]:
    if labels is None:
        return list(task_labels(example))
    if callable(labels):
        return list(labels(example))
    if isinstance(labels, dict):
        return list(labels[example.task])
    return list(labels)


def label_logprobs(model, tokenizer, examples: Sequence[Example], labels: LabelsArg = None, fmt: str = "prefix",
                   eos: bool = False, batch_size: int = 64) -> list[dict[str, float]]:
    """For each example, {label: log P(label tokens | f(X, I))} (+ the EOS token when `eos`).
    `labels`: one list for all examples, a dict {task: labels}, a function of the example, or None
    (the suite task's own label words)."""
    items, owners = [], []
    for n, ex in enumerate(examples):
        prompt = prompt_ids(ex, tokenizer, fmt)
        for label in _labels_for(labels, ex):
            answer = encode(tokenizer, label) + ([tokenizer.eos_token_id] if eos else [])
            items.append(Rendered(prompt + answer, [0] * len(prompt) + [1] * len(answer), len(prompt)))
            owners.append((n, label))
    scores = sequence_logprobs(model, tokenizer, items, batch_size)
    out: list[dict[str, float]] = [{} for _ in examples]
    for (n, label), s in zip(owners, scores.tolist()):
        out[n][label] = s
    return out


def verbalise(model, tokenizer, examples: Sequence[Example], labels: LabelsArg = None, fmt: str = "prefix",
              eos: bool = False, batch_size: int = 64) -> list[str]:
    """Zero new parameters: for each example the label whose words the LM finds most likely after
    the prompt, argmax_y log P(y | f(X, I)). See `label_logprobs` for `labels`."""
    scores = label_logprobs(model, tokenizer, examples, labels, fmt, eos, batch_size)
    return [max(s, key=s.get) for s in scores]


# ------------------------------------------------------------------------------------------ baselines


def majority_baseline(train: Sequence[Example], test: Sequence[Example]) -> list[str]:
    """Per task, predict the most frequent training output unit for every test example: the most
    frequent label (classification) or, per item, the most frequent tag (labelling)."""
    from collections import Counter

    counts: dict[str, Counter] = {}
    for ex in train:
        units = ex.output.split() if ex.kind == "labelling" else [ex.output.strip()]
        counts.setdefault(ex.task, Counter()).update(units)
    out = []
    for ex in test:
        top = counts[ex.task].most_common(1)[0][0]
        out.append(" ".join([top] * len(ex.input.split())) if ex.kind == "labelling" else top)
    return out
