"""Scale-out: `fit` and `itlib train` run unchanged under `torchrun` (2 processes, gloo on CPU)."""

import json
import os
import subprocess
import sys
import textwrap

from itlib.models import load_model

SCRIPT = textwrap.dedent("""
    import json, os, random, sys
    import torch
    from itlib.data import Example
    from itlib.models import build_model
    from itlib.pipeline import default_tokenizer
    from itlib.train import fit

    torch.set_num_threads(1)
    rng = random.Random(0)
    data = []
    for _ in range(96):
        xs = [str(rng.randint(0, 9)) for _ in range(rng.randint(2, 5))]
        data.append(Example("Reverse the list.", " ".join(xs), " ".join(xs[::-1])))
    tok = default_tokenizer()
    model = build_model(tok, size="micro")
    res = fit(model, tok, data, epochs=2, batch_tokens=256, device="cpu", progress=False,
              checkpoint_dir=sys.argv[1] + "/ckpt")
    rank = os.environ.get("RANK", "0")
    checksum = sum(float(p.double().sum()) for p in model.parameters())
    with open(f"{sys.argv[1]}/rank{rank}.json", "w") as f:
        json.dump({"losses": res.losses, "steps": res.steps, "checksum": checksum}, f)
""")


def torchrun(*args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_fit_under_torchrun_shards_the_data_and_keeps_ranks_in_step(tmp_path):
    script = tmp_path / "run_fit.py"
    script.write_text(SCRIPT)
    torchrun(str(script), str(tmp_path), cwd=tmp_path)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    # gradients are averaged: both ranks take identical steps and end with identical weights
    assert r0["checksum"] == r1["checksum"]
    assert r0["losses"] == r1["losses"]
    # each rank sees half the batches of a single-process run
    (tmp_path / "single").mkdir()
    single = subprocess.run([sys.executable, str(script), str(tmp_path / "single")], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]
    one = json.loads((tmp_path / "single" / "rank0.json").read_text())
    assert r0["steps"] == one["steps"] // 2
    # checkpoints are written by rank 0 only, once
    assert len(list((tmp_path / "ckpt").glob("step-*"))) >= 1
    assert not list((tmp_path / "ckpt").glob(".tmp-*"))


def test_itlib_train_under_torchrun_saves_once_and_the_model_loads(tmp_path):
    done = torchrun("-m", "itlib.cli", "train", "--out", "out", "--base", "none", "--size", "micro",
                    "--n-train", "16", "--epochs", "1", cwd=tmp_path)
    assert done.stdout.count("saved to out") == 1  # one report, from rank 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    model, tok = load_model(tmp_path / "out")
    assert model.num_parameters() > 0 and tok.eos_token_id is not None
