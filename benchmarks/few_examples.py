"""N = 16, 64, 256 instruction examples: the pretrained base vs the same architecture from scratch,
over several draws of the N examples, drawn to cover the tasks' phrasings (`covering_sample`) and
drawn at random. Then the rest of the curve, N = 512, 1024, 2048 (covering draws, `--curve-steps`
steps: more examples need more steps, and 150 leave N = 1024 at 0.84), to see where the base comes
close to its full-data score (16 000 examples).

    python benchmarks/few_examples.py --out benchmarks/few_examples.json
"""

import argparse
import json
import statistics

import torch

from itlib.experiments import few_examples


def summary(rows):
    """Mean and spread of exact match per (sample, N, start) over the draws."""
    out = {}
    for r in rows:
        out.setdefault(f'{r["sample"]} N={r["N"]} {r["start"]}', []).append(r["exact_match"])
    return {k: {"mean": round(statistics.mean(v), 3), "min": round(min(v), 3), "max": round(max(v), 3),
                "draws": len(v)} for k, v in out.items()}


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
    result = {"summary": summary(rows), "rows": rows}
    print(json.dumps(result["summary"], indent=2))
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
