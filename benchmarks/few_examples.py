"""N = 16, 64, 256 instruction examples: the pretrained base vs the same architecture from scratch.

    python benchmarks/few_examples.py --out benchmarks/few_examples.json
"""

import argparse
import json

import torch

from itlib.experiments import few_examples

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/few_examples.json")
    ap.add_argument("--steps", type=int, default=150)
    args = ap.parse_args()
    torch.set_num_threads(2)
    rows = few_examples(ns=(16, 64, 256), steps=args.steps, n_test_per_task=30)
    for r in rows:
        print(r)
    with open(args.out, "w") as f:
        json.dump(rows, f, indent=2)
