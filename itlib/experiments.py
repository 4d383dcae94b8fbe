"""Experiments in miniature: what the pretrained base model brings to instruction tuning."""

from __future__ import annotations

import copy
import random

from itlib.evaluate import evaluate
from itlib.pipeline import suite_data
from itlib.train import fit


def steps_to_epochs(n_examples: int, steps: int, batch_tokens: int, tokens_per_example: int = 40) -> float:
    """Epochs that give about `steps` optimiser steps, so runs on different N get the same compute."""
    per_epoch = max(1, round(n_examples * tokens_per_example / batch_tokens))
    return steps / per_epoch


def few_examples(ns=(16, 64, 256), steps: int = 400, seed: int = 0, n_test_per_task: int = 12,
                 batch_tokens: int = 1024, lr: float = 2e-3, progress: bool = False) -> list[dict]:
    """The seed's claim that a *small number* of instruction examples suffices — on a pretrained base.

    For each N: tune the shipped base on N suite examples, and train the same architecture from
    scratch on the same N, with the same number of steps; exact match on held-out inputs of seen
    tasks. Returns one row per (N, start)."""
    import itlib
    from itlib.models import build_model

    base, tok = itlib.load_base()
    splits = suite_data(n_train_per_task=max(ns) // 4 + 16, n_test_per_task=n_test_per_task, seed=seed)
    pool = list(splits["train"])
    random.Random(seed).shuffle(pool)
    rows = []
    for n in ns:
        train = pool[:n]
        epochs = steps_to_epochs(n, steps, batch_tokens)
        starts = {"pretrained base": copy.deepcopy(base),
                  "from scratch": build_model(tok, arch="llama", size="tiny", seed=seed)}
        for start, model in starts.items():
            res = fit(model, tok, train, epochs=epochs, lr=lr, batch_tokens=batch_tokens, seed=seed,
                      progress=progress)
            em = evaluate(model, tok, splits["test_inputs"])["exact_match"]
            rows.append({"N": n, "start": start, "exact_match": em, "steps": res.steps,
                         "seconds": round(res.seconds, 1)})
    return rows
