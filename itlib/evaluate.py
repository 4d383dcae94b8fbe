"""Evaluation: batched greedy generation with the KV cache, and the automatic metrics.

- exact match:  EM = (1/n) sum_i [pred_i == ref_i]  (after stripping surrounding whitespace)
- accuracy:     EM restricted to classification examples (the answer is one label)
- tag precision / recall / F1 for labelling, over (position, tag) pairs:
      P = |pred ∩ ref| / |pred|,  R = |pred ∩ ref| / |ref|,  F1 = 2PR / (P + R)
  micro-averaged over all pairs, or macro-averaged per tag (as scikit-learn's average="macro").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch

from itlib.formats import prompt_ids


def normalise(text: str) -> str:
    return " ".join(text.split())


def exact_matches(preds: Sequence[str], refs: Sequence[str]) -> list[bool]:
    """Per example: is the prediction equal to its reference (whitespace-normalised)?"""
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions for {len(refs)} references")
    return [normalise(p) == normalise(r) for p, r in zip(preds, refs)]


def exact_match(preds: Sequence[str], refs: Sequence[str]) -> float:
    """Share of predictions equal to their reference (whitespace-normalised): the mean of `exact_matches`."""
    return sum(exact_matches(preds, refs)) / max(len(refs), 1)


def tag_prf(preds: Sequence[str], refs: Sequence[str], average: str = "micro") -> dict[str, float]:
    """Precision, recall and F1 of predicted tag sequences ("NUM COL ANI") against references.

    A tag counts as correct when it sits at the same position with the same value. Extra predicted
    tags lower precision, missing ones lower recall.
    """
    pairs_pred, pairs_ref = [], []
    for n, (p, r) in enumerate(zip(preds, refs, strict=True)):
        pairs_pred += [(n, i, t) for i, t in enumerate(p.split())]
        pairs_ref += [(n, i, t) for i, t in enumerate(r.split())]
    if average == "micro":
        return _prf(len(set(pairs_pred) & set(pairs_ref)), len(pairs_pred), len(pairs_ref))
    if average != "macro":
        raise ValueError("average must be 'micro' or 'macro'")
    tags = sorted({t for *_, t in pairs_ref} | {t for *_, t in pairs_pred})
    per_tag = []
    for tag in tags:
        pp = {x for x in pairs_pred if x[2] == tag}
        rr = {x for x in pairs_ref if x[2] == tag}
        per_tag.append(_prf(len(pp & rr), len(pp), len(rr)))
    return {k: sum(d[k] for d in per_tag) / max(len(per_tag), 1) for k in ("precision", "recall", "f1")}


def _prf(correct: int, predicted: int, reference: int) -> dict[str, float]:
    p = correct / predicted if predicted else 0.0
    r = correct / reference if reference else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


@torch.no_grad()
def generate(model, tokenizer, examples, fmt: str = "prefix", batch_size: int = 64,
             max_new_tokens: int = 32, progress: bool = False) -> list[str]:
    """Greedy answers for `examples`, in their order. Prompts of similar length are batched together
    (left-padded) and decoded with the KV cache; each answer ends at the EOS token."""
    from itlib.progress import bar as progress_bar

    device = next(model.parameters()).device
    prompts = keep_in_context([prompt_ids(ex, tokenizer, fmt) for ex in examples], model, max_new_tokens)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers: list[str] = [""] * len(prompts)
    was_training = model.training
    model.eval()
    starts = range(0, len(order), batch_size)
    # transient (leave=False) live, silent headless: answers follow, not a summary line
    for s in progress_bar(starts, desc="generate", disable=not progress, leave=False, summary=False):
        idx = order[s: s + batch_size]
        width = max(len(prompts[i]) for i in idx)
        ids = torch.full((len(idx), width), tokenizer.pad_token_id, dtype=torch.long)
        attn = torch.zeros_like(ids)
        for row, i in enumerate(idx):
            ids[row, width - len(prompts[i]):] = torch.tensor(prompts[i])
            attn[row, width - len(prompts[i]):] = 1
        out = model.generate(
            input_ids=ids.to(device), attention_mask=attn.to(device), do_sample=False,
            max_new_tokens=max_new_tokens, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id, use_cache=True,
        )
        for row, i in enumerate(idx):
            answers[i] = decode_answer(tokenizer, out[row, width:].tolist())
    model.train(was_training)
    return answers


def keep_in_context(prompts: list[list[int]], model, max_new_tokens: int) -> list[list[int]]:
    """Prompts longer than the model's context minus `max_new_tokens` keep their last tokens (the
    answer is generated after them), with one warning that says how many were cut."""
    from itlib.train import context_length

    limit = context_length(model)
    if not limit:
        return prompts
    room = max(limit - max_new_tokens, 1)
    long = [i for i, p in enumerate(prompts) if len(p) > room]
    if long:
        import warnings

        warnings.warn(f"{len(long)} of {len(prompts)} prompts are longer than the model's context of {limit} tokens "
                      f"minus max_new_tokens={max_new_tokens}; they keep their last {room} tokens (the first "
                      f"was example {long[0]})", stacklevel=3)
    return [p[-room:] if len(p) > room else p for p in prompts]


def decode_answer(tokenizer, ids: list[int]) -> str:
    """Decode generated ids up to (not including) the first EOS."""
    if tokenizer.eos_token_id in ids:
        ids = ids[: ids.index(tokenizer.eos_token_id)]
    return tokenizer.decode(ids, skip_special_tokens=True)


def score(examples, preds: Sequence[str]) -> dict:
    """All metrics for `preds` against `examples`: exact match overall and per task, cluster, kind
    and difficulty; accuracy on classification; tag P/R/F1 on labelling."""
    refs = [ex.output for ex in examples]
    report = {"n": len(refs), "exact_match": exact_match(preds, refs)}
    for key in ("task", "cluster", "kind", "difficulty"):
        groups = defaultdict(list)
        for ex, p in zip(examples, preds):
            groups[getattr(ex, key)].append(normalise(p) == normalise(ex.output))
        report[f"per_{key}"] = {str(k): sum(v) / len(v) for k, v in sorted(groups.items(), key=lambda kv: str(kv[0]))}
    cls = [(p, ex.output) for ex, p in zip(examples, preds) if ex.kind == "classification"]
    if cls:
        report["accuracy"] = exact_match(*zip(*cls))
    lab = [(p, ex.output) for ex, p in zip(examples, preds) if ex.kind == "labelling"]
    if lab:
        report["labelling"] = tag_prf(*zip(*lab))
    return report


def evaluate(model, tokenizer, examples, fmt: str = "prefix", batch_size: int = 64,
             max_new_tokens: int = 32, progress: bool = False) -> dict:
    """Generate greedily for every example and `score` the answers; adds `predictions`."""
    preds = generate(model, tokenizer, examples, fmt, batch_size, max_new_tokens, progress)
    return {**score(examples, preds), "predictions": preds}
