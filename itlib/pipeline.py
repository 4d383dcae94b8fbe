"""The five-step pipeline in a few calls: collect examples -> represent them -> fine-tune ->
evaluate -> save. Used by the CLI, the demo, the benchmarks and notebook 00."""

from __future__ import annotations

import json
import random
from pathlib import Path

from itlib.data import load_examples
from itlib.files import CHECKPOINTS

DEFAULT_BASE = "default"
N_TRAIN_PER_TASK = 1000  # suite training examples per task (tuning a pretrained model)


def suite_data(n_train_per_task: int = N_TRAIN_PER_TASK, n_test_per_task: int = 30, seed: int = 0, heldout_tasks=()):
    """Step 1, collect: the synthetic suite split into train / test_inputs / test_templates / test_tasks."""
    from itlib.tasks import suite_splits

    return suite_splits(n_train_per_task=n_train_per_task, n_test_per_task=n_test_per_task, seed=seed,
                        heldout_tasks=heldout_tasks)


def user_data(path: str | Path, test_fraction: float = 0.1, seed: int = 0) -> dict:
    """A user's own data (any format `itlib.data.load_examples` reads) split into train and held-out test_inputs."""
    examples = load_examples(path)
    if len(examples) < 2:
        raise ValueError(f"{path}: needs at least 2 records to hold some out for evaluation, found {len(examples)}")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_test = max(1, round(len(examples) * test_fraction))
    return {"train": [examples[i] for i in order[n_test:]], "test_inputs": [examples[i] for i in order[:n_test]]}


def starting_model(base: str | Path = DEFAULT_BASE, seed: int = 0, arch: str = "llama", size: str = "tiny",
                   device: str | None = None):
    """The model instruction tuning starts from, and its tokenizer.

    base="default": the shipped pretrained base; "none": the same architecture, randomly
    initialised (from scratch); anything else: a folder or hub id of a Hugging Face causal LM.
    """
    import itlib
    from itlib.models import build_model, load_model

    if str(base) == DEFAULT_BASE:
        return itlib.load_base(device=device)
    if str(base) == "none":
        tokenizer = default_tokenizer()
        model = build_model(tokenizer, arch=arch, size=size, seed=seed)
        return (model.to(device) if device else model), tokenizer
    return load_model(base, device=device)


def default_tokenizer():
    """The shipped base model's tokenizer when present, else one trained on the suite in seconds."""
    import itlib
    from itlib.pretrain import suite_tokenizer
    from itlib.tokenizer import load_tokenizer

    if (itlib.BASE_DIR / "tokenizer.json").exists():
        return load_tokenizer(itlib.BASE_DIR)
    return suite_tokenizer()


# The recipes `itlib train` uses: tuning the base, and training the same architecture from scratch
# (fresh examples, one pass, small batches: a recipe that holds for several seeds). What they reach and the
# alternatives tried are measured by benchmarks/suite.py (benchmarks/suite.json) and reported in the README.
RECIPES = {"scratch": {"epochs": 1.0, "lr": 6e-4, "batch_tokens": 768},
           "pretrained": {"epochs": 2.0, "lr": 2e-3, "batch_tokens": 1024}}
TRAIN_EXAMPLES_PER_TASK = {"scratch": 3750, "pretrained": N_TRAIN_PER_TASK}


def tune(model, tokenizer, train, fmt: str = "prefix", epochs: float | None = None, lr: float | None = None,
         seed: int = 0, device: str = "auto", recipe: str = "pretrained", progress: bool = True, **fit_kwargs):
    """Step 3, fine-tune: `train.fit` with the recipe's epochs and learning rate unless given."""
    from itlib.train import fit

    kwargs = {**RECIPES[recipe], **fit_kwargs}
    if epochs is not None:
        kwargs["epochs"] = epochs
    if lr is not None:
        kwargs["lr"] = lr
    return fit(model, tokenizer, train, fmt=fmt, seed=seed, device=device, progress=progress, **kwargs)


def run_training(out, data=None, base=DEFAULT_BASE, fmt="prefix", seed=0, epochs=None, lr=None,
                 n_train_per_task=None, size="tiny", arch="llama", device="auto", overwrite=False,
                 resume=False, checkpoint_every=100, progress=True) -> dict:
    """The whole pipeline: data -> model -> fit -> evaluate on held-out inputs -> save `out`.

    `out` is checked before training (`itlib.files.prepare_output`: a folder of the user's is never
    replaced); checkpoints go to `out/checkpoints` every `checkpoint_every` steps and on Ctrl-C, and
    `resume=True` continues from them (same data and settings only). A run that diverges raises
    `TrainingDiverged` and saves no model. On success `out` becomes the HF folder with `metrics.json`
    (exact_match on held-out inputs of seen tasks, per_task, per_difficulty, train_seconds, ...).
    Returns the metrics. Under `torchrun` every rank trains on its shard of the data and only rank 0
    evaluates and saves (other ranks return None)."""
    from itlib.evaluate import evaluate
    from itlib.files import write_manifest
    from itlib.models import save_model
    from itlib.train import TrainingDiverged, distributed, pick_device

    settings = {"data": str(data) if data else None, "base": str(base), "fmt": fmt, "seed": seed, "epochs": epochs,
                "lr": lr, "n_train_per_task": n_train_per_task, "size": size, "arch": arch}
    device = pick_device(device)
    recipe = "scratch" if str(base) == "none" else "pretrained"
    if n_train_per_task is None:
        n_train_per_task = TRAIN_EXAMPLES_PER_TASK[recipe]
    splits = user_data(data, seed=seed) if data else suite_data(n_train_per_task, seed=seed)
    model, tokenizer = starting_model(base, seed=seed, arch=arch, size=size, device=device)
    rank, world = distributed()
    out = _prepare_run_folder(Path(out), settings, overwrite, resume) if rank == 0 else Path(out)
    try:
        result = tune(model, tokenizer, splits["train"], fmt=fmt, epochs=epochs, lr=lr, seed=seed, device=device,
                      recipe=recipe, progress=progress, checkpoint_dir=out / CHECKPOINTS,
                      checkpoint_every=checkpoint_every, resume=resume)
    except TrainingDiverged as err:
        if rank == 0:
            write_manifest(out, "failed", run=settings, error=str(err))
        raise
    if rank > 0:
        _finish(world)
        return None
    report = evaluate(model, tokenizer, splits["test_inputs"], fmt=fmt)
    metrics = {k: v for k, v in report.items() if k != "predictions"}
    metrics.update(train_seconds=round(result.seconds, 2), train_steps=result.steps, final_loss=result.losses[-1],
                   padding_efficiency=result.padding_efficiency, base=str(base), fmt=fmt, seed=seed,
                   device=result.device, n_train=len(splits["train"]))
    if "test_templates" in splits:
        metrics["exact_match_heldout_templates"] = evaluate(model, tokenizer, splits["test_templates"],
                                                            fmt=fmt)["exact_match"]
    metrics["world_size"] = world
    save_model(model.cpu(), tokenizer, out, metrics=metrics, overwrite=True)  # checked by _prepare_run_folder
    _finish(world)
    return metrics


def _prepare_run_folder(out: Path, settings: dict, overwrite: bool, resume: bool) -> Path:
    """Make `out` ready before the first step and mark it as itlib's; with `resume`, check that its
    checkpoints were made by the same command (same data, base, format and settings)."""
    import shutil

    from itlib.files import MANIFEST, prepare_output, write_manifest

    checkpoints = out / CHECKPOINTS
    if resume and not any(checkpoints.glob("step-*")):  # before prepare_output creates anything
        raise FileNotFoundError(f"--resume: there is no checkpoint to continue from in {checkpoints}")
    prepare_output(out, overwrite=overwrite, resume=resume)
    if resume:
        before = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("run", {})
        differ = [k for k in settings if k in before and before[k] != settings[k]]
        if differ:
            raise ValueError("--resume: the checkpoints in " + str(out) + " were made with "
                             + ", ".join(f"{k}={before[k]!r} (now {settings[k]!r})" for k in differ)
                             + "; resume with the same arguments, or train into a new --out")
    else:
        shutil.rmtree(checkpoints, ignore_errors=True)  # itlib's own (checked): a new run starts afresh
    write_manifest(out, "training", run=settings)
    return out


def _finish(world: int) -> None:
    """Under torchrun: wait until rank 0 has saved, then close the process group."""
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


def run_eval(model_dir, data=None, fmt="prefix", seed=0, device="auto") -> dict:
    """Evaluate a saved model on a file, or on the suite's held-out splits."""
    from itlib.evaluate import evaluate
    from itlib.models import load_model
    from itlib.train import pick_device

    model, tokenizer = load_model(model_dir, device=pick_device(device))
    if data:
        report = evaluate(model, tokenizer, load_examples(data), fmt=fmt)
        return {k: v for k, v in report.items() if k != "predictions"}
    splits = suite_data(seed=seed)
    result = {}
    for name in ("test_inputs", "test_templates"):
        report = evaluate(model, tokenizer, splits[name], fmt=fmt)
        result[name] = {k: v for k, v in report.items() if k != "predictions"}
    result["exact_match"] = result["test_inputs"]["exact_match"]
    result["per_task"] = result["test_inputs"]["per_task"]
    return result


def demo(fmt="prefix", seed=0, device="auto", n_show: int = 8) -> dict:
    """Headless demo: the shipped base model and the same model after ~1 minute of instruction
    tuning, answering the same held-out instructions side by side."""
    import copy

    from itlib.evaluate import generate
    from itlib.train import pick_device

    device = pick_device(device)
    splits = suite_data(n_train_per_task=500, seed=seed)
    base, tokenizer = starting_model(DEFAULT_BASE, device=device)
    tuned = copy.deepcopy(base)
    print("instruction tuning the shipped base model ...")
    result = tune(tuned, tokenizer, splits["train"], fmt=fmt, seed=seed, device=device)
    show = splits["test_inputs"][:: max(1, len(splits["test_inputs"]) // n_show)][:n_show]
    before = generate(base, tokenizer, show, fmt)
    after = generate(tuned, tokenizer, show, fmt)
    for ex, b, a in zip(show, before, after):
        print(f"\n> {ex.instruction}\n  input:     {ex.input}\n  reference: {ex.output}")
        print(f"  base:      {b!r}\n  tuned:     {a!r}  {'✓' if a.strip() == ex.output else '✗'}")
    from itlib.evaluate import exact_match

    em_before = exact_match(generate(base, tokenizer, splits["test_inputs"], fmt), [e.output for e in splits["test_inputs"]])
    em_after = exact_match(generate(tuned, tokenizer, splits["test_inputs"], fmt), [e.output for e in splits["test_inputs"]])
    print(f"\nexact match on {len(splits['test_inputs'])} held-out inputs: base {em_before:.2f} -> tuned {em_after:.2f}"
          f" after {result.seconds:.0f} s of tuning")
    return {"base": em_before, "tuned": em_after, "seconds": result.seconds}
