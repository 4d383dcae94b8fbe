"""N = 16, 64, 256 instruction examples: the pretrained base vs the same architecture from scratch,
over several draws of the N examples, drawn to cover the tasks' phrasings (`covering_sample`) and
drawn at random. Then the rest of the curve, N = 512, 1024, 2048 (covering draws, `--curve-steps`
steps: more examples need more steps, and 150 leave N = 1024 at 0.84), to see where the base comes
close to its full-data score (16 000 examples). Last, the base's own knowledge of each skill in prose
(`experiments.prose_accuracy`, by difficulty): the ceiling that a few instruction examples carry over.

    python benchmarks/few_examples.py --out benchmarks/few_examples.json
"""

import argparse
import json
import statistics

import torch

import itlib
from itlib.experiments import few_examples, prose_accuracy
from itlib.files import write_atomically
from itlib.tasks import SUITE


def summary(rows):
    """Mean and spread of exact match per (sample, N, start) over the draws, and the mean by difficulty."""
    groups = {}
    for r in rows:
        groups.setdefault(f'{r["sample"]} N={r["N"]} {r["start"]}', []).append(r)
    return {k: over_draws(v) for k, v in groups.items()}


def over_draws(rows):
    """One (sample, N, start)'s rows, one per draw: exact match mean / min / max, mean by difficulty."""
    em = [r["exact_match"] for r in rows]
    return {"mean": round(statistics.mean(em), 3), "min": round(min(em), 3), "max": round(max(em), 3),
            "by_difficulty": {d: round(statistics.mean(r["per_difficulty"][d] for r in rows), 3)
                              for d in rows[0]["per_difficulty"]},
            "draws": len(rows)}


def base_prose(n: int = 30) -> dict:
    """The shipped base's prose accuracy per task and difficulty, and its mean by difficulty."""
    model, tok = itlib.load_base()
    per_task = {t.name: {str(d): prose_accuracy(model, tok, t.name, difficulty=d, n=n) for d in (1, 2, 3)}
                for t in SUITE}
    by_difficulty = {str(d): round(statistics.mean(v[str(d)] for v in per_task.values()), 3)
                     for d in (1, 2, 3)}
    return {"by_difficulty": by_difficulty, "per_task": per_task}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/few_examples.json")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--curve-steps", type=int, default=300)
    ap.add_argument("--draws", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    rows = []
    for sample in ("covering", "random"):
        rows += few_examples(ns=(16, 64, 256), steps=args.steps, n_test_per_task=30, draws=args.draws, sample=sample)
    rows += few_examples(ns=(512, 1024, 2048), steps=args.curve_steps, n_test_per_task=30, draws=args.draws)
    result = {"summary": summary(rows), "base_prose": base_prose(), "rows": rows}
    print(json.dumps({k: result[k] for k in ("summary", "base_prose")}, indent=2))
    write_atomically(args.out, json.dumps(result, indent=2))
