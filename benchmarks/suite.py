"""Measure the README's headline numbers on this machine (never run as a timed test):

- from scratch: the default tiny model, trained on the suite, exact match on held-out inputs of seen tasks,
  with seed 0 and then further seeds (`--scratch-seeds`), so that a lucky seed cannot carry the claim
- from the shipped base: the same, starting from `itlib.load_base()`
- before tuning: the base model's exact match, and its prose continuation

    python benchmarks/suite.py --out benchmarks/suite.json
"""

import argparse
import copy
import json
import os
import platform
import time

import torch

import itlib
from itlib.evaluate import evaluate
from itlib.files import write_atomically
from itlib.models import build_model, n_params
from itlib.pipeline import RECIPES, TRAIN_EXAMPLES_PER_TASK, suite_data
from itlib.train import fit


def run(model, tokenizer, splits, recipe, seed=0):
    res = fit(model, tokenizer, splits["train"], progress=False, seed=seed, **RECIPES[recipe])
    inputs = evaluate(model, tokenizer, splits["test_inputs"])
    templates = evaluate(model, tokenizer, splits["test_templates"])
    return {"train_seconds": round(res.seconds, 1), "steps": res.steps, "tokens_per_second": round(res.tokens_per_second),
            "padding_efficiency": round(res.padding_efficiency, 4),
            "exact_match": round(inputs["exact_match"], 3), "per_difficulty": inputs["per_difficulty"],
            "per_task": inputs["per_task"], "exact_match_heldout_templates": round(templates["exact_match"], 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/suite.json")
    ap.add_argument("--scratch-seeds", type=int, nargs="*", default=[1, 2],
                    help="further seeds of the from-scratch run (data, initialisation and batch order): is it robust?")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("ITLIB_THREADS", "2")))
    splits = suite_data(TRAIN_EXAMPLES_PER_TASK["pretrained"])
    out = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
           "torch": torch.__version__}
    base, tok = itlib.load_base()
    before = evaluate(base, tok, splits["test_inputs"])
    out["base_before_tuning"] = {"exact_match": round(before["exact_match"], 3)}
    out["from_base"] = run(copy.deepcopy(base), tok, splits, "pretrained")
    out["from_scratch_other_seeds"] = []
    for seed in (0, *args.scratch_seeds):  # what `itlib train --base none --seed N` does
        model = build_model(tok, size="tiny", seed=seed)
        # the same test sets for seed 0 (more training inputs than from the base); other seeds draw their own
        r = run(model, tok, suite_data(TRAIN_EXAMPLES_PER_TASK["scratch"], seed=seed), "scratch", seed=seed)
        if seed == 0:
            out["from_scratch"] = {"params": n_params(model), **r}
        else:
            out["from_scratch_other_seeds"].append({"seed": seed, **{k: r[k] for k in (
                "exact_match", "per_difficulty", "train_seconds", "tokens_per_second",
                "exact_match_heldout_templates")}})
    print(json.dumps(out, indent=2, ensure_ascii=False))
    write_atomically(args.out, json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"done in {time.time() - t0:.0f} s")
