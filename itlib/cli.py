"""The `itlib` command line: train, eval, demo, pretrain.

Bad arguments or files give one clear message and exit code 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from itlib.files import strict_json


def _number(kind, low, low_open=False, high=None):
    """An argparse type: a finite `kind` (int or float) in [low, high] ((low, high] with `low_open`)."""
    bounds = f"{'>' if low_open else '>='} {low}" + (f" and <= {high}" if high is not None else "")

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'} {bounds}, "
                                             f"got {text!r}") from None
        if not math.isfinite(value) or value < low or (low_open and value == low) or (high and value > high):
            what = "an integer" if kind is int else "a finite number"
            raise argparse.ArgumentTypeError(f"must be {what} {bounds}, got {text}")
        return value

    return parse


def _add_common(p):
    p.add_argument("--fmt", default="prefix", choices=["prefix", "infilling", "seq2seq", "chat"],
                   help="instruction format f(X, I) (default: prefix)")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    p.add_argument("--seed", type=_number(int, 0), default=0, help="random seed, an integer >= 0 (default 0)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="itlib", description="Instruction tuning of small language models.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="instruction-tune a model, evaluate it and save an HF folder")
    t.add_argument("--out", required=True, help="output folder (HF model + metrics.json)")
    t.add_argument("--data", help="your own data: Alpaca JSON/JSONL, chat `messages` JSONL, ShareGPT `conversations` "
                        "JSON/JSONL, Parquet, CSV or a `datasets` save_to_disk folder (default: the synthetic suite)")
    t.add_argument("--base", default="default",
                   help="'default' (the shipped base model), 'none' (from scratch), or an HF folder / hub id")
    t.add_argument("--epochs", type=_number(float, 0, low_open=True, high=1000), default=None,
                   help="passes over the training data, > 0 (a fraction is part of a pass; default: the recipe's)")
    t.add_argument("--n-train", type=_number(int, 1), default=None,
                   help="suite training examples per task, >= 1 (default 1000 from a base, 3750 from scratch)")
    t.add_argument("--lr", type=_number(float, 0, low_open=True), default=None,
                   help="peak learning rate, > 0 (default: the recipe's)")
    t.add_argument("--size", default="tiny", help="model size for --base none (micro, tiny, small)")
    t.add_argument("--arch", default="llama", help="architecture for --base none (llama, gpt2)")
    t.add_argument("--overwrite", action="store_true",
                   help="replace an --out folder that itlib wrote before (a folder itlib did not write is never replaced)")
    t.add_argument("--checkpoint-every", type=_number(int, 0), default=100,
                   help="save a checkpoint in OUT/checkpoints every N steps (0: only on Ctrl-C; default 100)")
    t.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from the checkpoints in --out (same arguments otherwise)")
    _add_common(t)

    e = sub.add_parser("eval", help="evaluate a saved model; prints metrics as JSON")
    e.add_argument("--model", required=True, help="an HF model folder (or hub id)")
    e.add_argument("--data", help="a file to evaluate on (default: the suite's held-out splits)")
    _add_common(e)

    d = sub.add_parser("demo", help="base model vs instruction-tuned model on the same instructions")
    _add_common(d)

    pt = sub.add_parser("pretrain", help="pretrain the base model on the synthetic corpus")
    pt.add_argument("--out", required=True)
    pt.add_argument("--overwrite", action="store_true")
    pt.add_argument("--device", default="auto")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from itlib.data import DataError
    from itlib.train import CheckpointError, TrainingDiverged

    try:
        return COMMANDS[args.command](args)
    except (TrainingDiverged, CheckpointError) as err:
        print(f"itlib {args.command}: error: {err}; no model was saved", file=sys.stderr)
        return 1
    except (DataError, FileNotFoundError, FileExistsError, ValueError, OSError) as err:
        print(f"itlib {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        where = getattr(args, "out", None)
        hint = (f"; the last checkpoint is in {where}/checkpoints — run the same command with --resume to continue"
                if args.command == "train" else "")
        print(f"itlib {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


def cmd_train(args) -> int:
    from itlib.pipeline import run_training

    metrics = run_training(out=args.out, data=args.data, base=args.base, fmt=args.fmt, seed=args.seed,
                           epochs=args.epochs, lr=args.lr, n_train_per_task=args.n_train, size=args.size,
                           arch=args.arch, device=args.device, overwrite=args.overwrite, resume=args.resume,
                           checkpoint_every=args.checkpoint_every)
    if metrics is None:  # a rank > 0 under torchrun: rank 0 reports and saves
        return 0
    print(strict_json({k: metrics[k] for k in ("exact_match", "train_seconds", "per_task")}, indent=2,
                      ensure_ascii=False))
    print(f"saved to {args.out}")
    return 0


def cmd_eval(args) -> int:
    from itlib.pipeline import run_eval

    print(strict_json(run_eval(args.model, data=args.data, fmt=args.fmt, seed=args.seed, device=args.device),
                      indent=2, ensure_ascii=False))
    return 0


def cmd_demo(args) -> int:
    from itlib.pipeline import demo

    demo(fmt=args.fmt, seed=args.seed, device=args.device)
    return 0


def cmd_pretrain(args) -> int:
    from itlib.pretrain import pretrain

    t0 = time.perf_counter()
    out = pretrain(Path(args.out), device=args.device, overwrite=args.overwrite)
    print(f"pretrained base model written to {out} in {time.perf_counter() - t0:.0f} s")
    return 0


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "demo": cmd_demo, "pretrain": cmd_pretrain}

if __name__ == "__main__":
    sys.exit(main())
