"""Performance, measured side by side (never a timed test):

    python benchmarks/run.py --out benchmarks/run.json [--quick] [--readme]

- training throughput: `itlib.train.fit` vs `transformers.Trainer` on the same model (the shipped base),
  data, batch size, optimizer, schedule and precision (fp32); tokens/s counts real (non-padding) tokens;
- time to quality: training seconds until held-out exact match >= 0.9 on the standard suite (snapshots
  every few steps, evaluated afterwards, evaluation time not counted), itlib vs Trainer;
- padding efficiency of training batches (both);
- CPU FLOP/s utilisation: (6 N + 12 L d s) FLOPs per trained token x tokens/s, divided by the FLOP/s
  of a large fp32 matrix product measured in the same run;
- evaluation: batched greedy generation with the KV cache vs one example at a time;
- scaling: seconds per epoch as the data grows 1x, 4x, 16x; peak memory as the sequence length grows.
`--readme` writes the table into README.md between the BENCH markers.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

import itlib
from itlib.evaluate import evaluate, generate
from itlib.files import write_atomically
from itlib.formats import render
from itlib.pipeline import RECIPES, suite_data
from itlib.train import batch_plan, fit

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.9


# --------------------------------------------------------------------------------------- training runs


def snapshots_every(total_steps: int, n: int = 12) -> int:
    return max(1, total_steps // n)


def run_itlib(model, tok, rendered, epochs, every):
    snaps = []

    def keep(step, m, result):
        if step % every == 0:
            snaps.append((result.seconds, step, copy.deepcopy(m.state_dict())))

    res = fit(model, tok, rendered=rendered, epochs=epochs, progress=False, callback=keep, device="cpu",
              precision="fp32", **{k: v for k, v in RECIPES["pretrained"].items() if k != "epochs"})
    snaps.append((res.seconds, res.steps, copy.deepcopy(model.state_dict())))
    return {"seconds": res.seconds, "steps": res.steps, "tokens": res.tokens,
            "padding_efficiency": res.padding_efficiency}, snaps


def run_trainer(model, tok, rendered, epochs, batch_size, every, out_dir, sampling="random"):
    from datasets import Dataset
    from transformers import Trainer, TrainerCallback, TrainingArguments

    ds = Dataset.from_dict({
        "input_ids": [r.input_ids for r in rendered],
        "labels": [[t if m else -100 for t, m in zip(r.input_ids, r.loss_mask)] for r in rendered],
    })

    counted = {"real": 0, "padded": 0}

    def pad(features):
        width = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), width), tok.pad_token_id)
        labels = torch.full((len(features), width), -100)
        attn = torch.zeros((len(features), width), dtype=torch.long)
        for i, f in enumerate(features):
            n = len(f["input_ids"])
            ids[i, :n], labels[i, :n], attn[i, :n] = torch.tensor(f["input_ids"]), torch.tensor(f["labels"]), 1
        counted["real"] += int(attn.sum())
        counted["padded"] += attn.numel()
        return {"input_ids": ids, "labels": labels, "attention_mask": attn}

    recipe = RECIPES["pretrained"]
    args = TrainingArguments(
        output_dir=str(out_dir), per_device_train_batch_size=batch_size, num_train_epochs=epochs,
        learning_rate=recipe["lr"], lr_scheduler_type="cosine_with_min_lr", lr_scheduler_kwargs={"min_lr_rate": 0.1},
        warmup_steps=0.05, adam_beta1=0.9, adam_beta2=0.95, weight_decay=0.0, max_grad_norm=1.0,
        optim="adamw_torch", use_cpu=True, bf16=False, save_strategy="no", logging_strategy="no",
        report_to="none", disable_tqdm=True, seed=0, dataloader_num_workers=0, train_sampling_strategy=sampling,
    )
    snaps, clock = [], {}

    class Snapshots(TrainerCallback):
        def on_train_begin(self, *a, **k):
            clock["t0"], clock["paused"] = time.perf_counter(), 0.0

        def on_step_end(self, a, state, control, model=None, **k):
            if state.global_step % every == 0:
                t = time.perf_counter()
                snaps.append((t - clock["t0"] - clock["paused"], state.global_step, copy.deepcopy(model.state_dict())))
                clock["paused"] += time.perf_counter() - t

    trainer = Trainer(model=model, args=args, train_dataset=ds, data_collator=pad, callbacks=[Snapshots()])
    t0 = time.perf_counter()
    out = trainer.train()
    seconds = time.perf_counter() - t0 - clock["paused"]
    snaps.append((seconds, out.global_step, copy.deepcopy(model.state_dict())))
    return {"seconds": seconds, "steps": out.global_step, "tokens": counted["real"],
            "padding_efficiency": counted["real"] / counted["padded"]}, snaps


def time_to_quality(model, tok, snaps, test) -> tuple[float | None, list]:
    curve = []
    for seconds, step, state in snaps:
        model.load_state_dict(state)
        em = evaluate(model, tok, test)["exact_match"]
        curve.append({"seconds": round(seconds, 1), "step": step, "exact_match": round(em, 3)})
    reached = [c["seconds"] for c in curve if c["exact_match"] >= TARGET]
    return (reached[0] if reached else None), curve


# --------------------------------------------------------------------------------------- hardware use


def matmul_flops(n: int = 2048, seconds: float = 3.0) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def flops_per_token(model, mean_len: float) -> float:
    """Training FLOPs per token: 6 N (forward + backward through the weights) + 12 L d s (attention)."""
    c = model.config
    n = sum(p.numel() for p in model.parameters())
    return 6 * n + 12 * c.num_hidden_layers * c.hidden_size * mean_len


# --------------------------------------------------------------------------------------- evaluation speed


def eval_speed(model, tok, examples) -> dict:
    out = {}
    for name, bs in (("batched", 64), ("one_by_one", 1)):
        t0 = time.perf_counter()
        generate(model, tok, examples, batch_size=bs)
        out[f"{name}_examples_per_s"] = round(len(examples) / (time.perf_counter() - t0), 1)
    out["eval_speedup_batched"] = round(out["batched_examples_per_s"] / out["one_by_one_examples_per_s"], 2)
    return out


# --------------------------------------------------------------------------------------- scaling

MEMORY_PROBE = """
import sys, threading, time, psutil, torch
import itlib
from itlib.train import masked_nll
torch.set_num_threads(2)
model, tok = itlib.load_base()
L, B = int(sys.argv[1]), 32
ids = torch.randint(10, 1000, (B, L))
opt = torch.optim.AdamW(model.parameters())
proc, peak, done = psutil.Process(), [0], threading.Event()
before = proc.memory_info().rss
def watch():  # the peak of the current RSS while the steps run (ru_maxrss would include loading)
    while not done.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.001)
t = threading.Thread(target=watch); t.start()
for _ in range(3):
    loss = masked_nll(model(input_ids=ids).logits, ids, torch.ones_like(ids))
    opt.zero_grad(); loss.backward(); opt.step()
done.set(); t.join()
print((peak[0] - before) / 2**20)
"""


def scaling(tok, quick: bool) -> dict:
    base, _ = itlib.load_base()
    per_task = 15 if quick else 50
    rows = []
    for k in (1, 4, 16):
        data = suite_data(n_train_per_task=per_task * k, n_test_per_task=1)["train"]
        res = fit(copy.deepcopy(base), tok, data, epochs=1, progress=False, device="cpu", precision="fp32",
                  **{k2: v for k2, v in RECIPES["pretrained"].items() if k2 != "epochs"})
        rows.append({"data": f"{k}x", "examples": len(data), "seconds_per_epoch": round(res.seconds, 2),
                     "ms_per_example": round(1000 * res.seconds / len(data), 3)})
    mem = []
    for length in (64, 128, 256):
        done = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(length)], capture_output=True, text=True,
                              check=True)
        mem.append({"seq_len": length, "batch": 32, "training_peak_mb": round(float(done.stdout.split()[-1]))})
    linear = rows[-1]["ms_per_example"] / rows[0]["ms_per_example"]
    return {"time_per_epoch": rows, "epoch_time_linearity_16x": round(linear, 2), "memory_vs_seq_len": mem}


# --------------------------------------------------------------------------------------- main


def main(quick: bool = False) -> dict:
    torch.set_num_threads(int(os.environ.get("ITLIB_THREADS", "2")))
    base, tok = itlib.load_base()
    splits = suite_data(n_train_per_task=150 if quick else 1000, n_test_per_task=8 if quick else 30)
    rendered = [render(ex, tok) for ex in splits["train"]]
    epochs = 1.0 if quick else RECIPES["pretrained"]["epochs"]
    lengths = [len(r.input_ids) for r in rendered]
    mean_len = sum(lengths) / len(lengths)
    n_steps = len(batch_plan(lengths, epochs, RECIPES["pretrained"]["batch_tokens"], 128, 0))
    every = snapshots_every(n_steps)
    it, it_snaps = run_itlib(copy.deepcopy(base), tok, rendered, epochs, every)
    # Trainer gets the same number of examples per batch as itlib's token-budget batches on average
    batch_size = max(1, round(len(rendered) * epochs / it["steps"]))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        trainer_model = copy.deepcopy(base)
        tr, tr_snaps = run_trainer(trainer_model, tok, rendered, epochs, batch_size, snapshots_every(
            math.ceil(len(rendered) / batch_size * epochs)), tmp)
    it["tokens_per_s"] = round(it["tokens"] / it["seconds"])
    tr["tokens_per_s"] = round(tr["tokens"] / tr["seconds"])
    probe = copy.deepcopy(base)
    it_ttq, it_curve = time_to_quality(probe, tok, it_snaps, splits["test_inputs"])
    tr_ttq, tr_curve = time_to_quality(probe, tok, tr_snaps, splits["test_inputs"])
    peak = matmul_flops()
    achieved = flops_per_token(base, mean_len) * it["tokens_per_s"]
    probe.load_state_dict(it_snaps[-1][2])
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
                   f"{torch.get_num_threads()} threads",
        "quick": quick,
        "data": {"train_examples": len(rendered), "epochs": epochs, "mean_tokens": round(mean_len, 1),
                 "trainer_batch_size": batch_size},
        "itlib": {**{k: v for k, v in it.items()}, "time_to_0.9": it_ttq, "curve": it_curve},
        "trainer": {**{k: v for k, v in tr.items()}, "time_to_0.9": tr_ttq, "curve": tr_curve},
        "throughput_ratio_vs_trainer": round(it["tokens_per_s"] / tr["tokens_per_s"], 2),
        "time_to_quality_ratio_vs_trainer": (round(tr_ttq / it_ttq, 2) if it_ttq and tr_ttq else None),
        "padding_efficiency": round(it["padding_efficiency"], 4),
        "trainer_padding_efficiency": round(tr["padding_efficiency"], 4),
        "matmul_gflops": round(peak / 1e9, 1),
        "training_gflops": round(achieved / 1e9, 2),
        "cpu_flops_utilisation": round(achieved / peak, 3),
        **eval_speed(probe, tok, splits["test_inputs"][: 64 if quick else 160]),
        "scaling": scaling(tok, quick),
    }
    return result


TABLE = """| what | itlib | transformers.Trainer | ratio |
|---|---|---|---|
| training throughput (real tokens/s, fp32) | {itlib[tokens_per_s]} | {trainer[tokens_per_s]} | **{throughput_ratio_vs_trainer}×** |
| seconds until held-out exact match ≥ 0.9 | {itlib_ttq} | {trainer_ttq} | **{ttq_ratio}×** |
| padding efficiency (real / all token slots) | {pad_it} | {pad_tr} | |
| training FLOP/s vs a 2048² fp32 matmul ({matmul_gflops} GFLOP/s) | {training_gflops} GFLOP/s = {util} | | |
| greedy generation, examples/s: batched with KV cache vs one by one | {batched_examples_per_s} | {one_by_one_examples_per_s} (one by one) | **{eval_speedup_batched}×** |
| seconds per epoch at 1× / 4× / 16× data | {epochs} | | linearity {lin} |
| peak memory of a training step above the loaded model (MB), sequence length 64 / 128 / 256, batch 32 | {mem} | | |

Same model (the shipped base), data ({data[train_examples]} examples, {data[epochs]} passes), batch
({data[trainer_batch_size]} examples on average), optimizer, schedule and fp32 on {machine}.
"""


def table(r: dict) -> str:
    fmt = lambda s: "–" if s is None else f"{s:.0f} s"  # noqa: E731
    return TABLE.format(
        **r, itlib_ttq=fmt(r["itlib"]["time_to_0.9"]), trainer_ttq=fmt(r["trainer"]["time_to_0.9"]),
        ttq_ratio=r["time_to_quality_ratio_vs_trainer"] or "–",
        pad_it=f"{100 * r['padding_efficiency']:.1f} %", pad_tr=f"{100 * r['trainer_padding_efficiency']:.1f} %",
        util=f"{100 * r['cpu_flops_utilisation']:.1f} %",
        epochs=" / ".join(f"{x['seconds_per_epoch']:.1f}" for x in r["scaling"]["time_per_epoch"]),
        lin=r["scaling"]["epoch_time_linearity_16x"],
        mem=" / ".join(str(x["training_peak_mb"]) for x in r["scaling"]["memory_vs_seq_len"]))


def write_readme(r: dict) -> None:
    readme = ROOT / "README.md"
    start, end = "<!-- BENCH:START -->", "<!-- BENCH:END -->"
    text = readme.read_text(encoding="utf-8")
    new = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{table(r)}{end}", text, flags=re.S)
    readme.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "run.json"))
    ap.add_argument("--quick", action="store_true", help="small data: checks the script, not the numbers")
    ap.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = ap.parse_args()
    r = main(args.quick)
    write_atomically(args.out, json.dumps(r, indent=2) + "\n")
    print(table(r))
    if args.readme:
        write_readme(r)
