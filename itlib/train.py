"""Fine-tuning: minimise the masked negative log-likelihood of the answer tokens,

    L(theta) = - (1 / |A|) * sum_{t in A} log P_theta(x_t | x_<t),   A = answer tokens + EOS,

with AdamW, linear warm-up then cosine decay, gradient clipping, batches grouped by length
(so that almost every token in a batch is a real token, not padding), seeded and resumable.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from itlib.formats import Rendered, render


@dataclass
class FitResult:
    """What a training run leaves behind: the loss per step, time, tokens and padding share."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    tokens: int = 0  # real (non-padding) tokens seen
    padded_tokens: int = 0  # all token slots in the batches, padding included
    device: str = "cpu"

    @property
    def padding_efficiency(self) -> float:
        return self.tokens / max(self.padded_tokens, 1)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / max(self.seconds, 1e-9)

    def record(self, loss: float, batch: dict, steps: int) -> None:
        """After an update: its loss, the real and all token slots of its batch, the steps done."""
        self.losses.append(loss)
        self.tokens += int(batch["attention_mask"].sum())
        self.padded_tokens += batch["attention_mask"].numel()
        self.steps = steps


def available_devices() -> list[str]:
    """The devices this PyTorch build can train on here, "auto" first."""
    found = ["auto", "cpu"]
    if torch.cuda.is_available():
        found += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        found.append("mps")
    return found


def pick_device(device: str = "auto") -> str:
    """cuda > mps > cpu when `device="auto"`; any other name must be available here (ValueError
    naming the available devices otherwise)."""
    here = available_devices()
    if str(device) not in here:
        raise ValueError(f"--device {device}: not available with this PyTorch build on this machine "
                         f"(available: {', '.join(here)})")
    if device != "auto":
        return str(device)
    return here[2] if len(here) > 2 else "cpu"


def use_bf16(model, device: str, precision: str = "auto") -> bool:
    """bf16 autocast on GPUs that support it; on CPU only from ~5 M parameters up, below which it
    is no faster (measured on a 2-core CPU)."""
    if precision in ("fp32", "bf16"):
        return precision == "bf16"
    if device == "cuda":
        return torch.cuda.is_bf16_supported()
    return device == "cpu" and sum(p.numel() for p in model.parameters()) >= 5_000_000


def masked_nll(logits: torch.Tensor, input_ids: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """L = -(1/|A|) sum_{t in A} log softmax(logits_{t-1})[x_t]: the token at t is predicted from
    position t-1, and only positions with loss_mask = 1 count. Equals the transformers loss with
    labels = input_ids where the mask is 1 and -100 elsewhere."""
    logp = F.log_softmax(logits[:, :-1].float(), dim=-1)
    target = input_ids[:, 1:]
    mask = loss_mask[:, 1:].float()
    token_logp = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    return -(token_logp * mask).sum() / mask.sum().clamp(min=1)


def answer_loss(model, batch: dict) -> torch.Tensor:
    """The default training loss: `masked_nll` of the model's logits on a collated batch."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return masked_nll(logits, batch["input_ids"], batch["loss_mask"])


@torch.no_grad()
def mean_nll(model, tokenizer, rendered: Sequence[Rendered], batch_size: int = 64) -> float:
    """Mean `masked_nll` per loss-carrying token over `rendered` (token-weighted across batches), in
    eval mode; the model's train/eval mode is restored afterwards."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for s in range(0, len(rendered), batch_size):
        b = {k: v.to(device) for k, v in collate(rendered[s: s + batch_size], tokenizer.pad_token_id).items()}
        n = int(b["loss_mask"][:, 1:].sum())
        total += answer_loss(model, b).item() * n
        count += n
    model.train(was_training)
    return total / max(count, 1)


def length_grouped_batches(lengths: Sequence[int], batch_tokens: int, max_batch: int,
                           generator: torch.Generator) -> list[list[int]]:
    """Shuffle, sort by length (random order within a length), cut into batches of at most
    `batch_tokens` token slots, and shuffle the batches: little padding, random order."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    order.sort(key=lambda i: lengths[i])
    batches, current, longest = [], [], 0
    for i in order:
        longest_if_added = max(longest, lengths[i])
        if current and (longest_if_added * (len(current) + 1) > batch_tokens or len(current) == max_batch):
            batches.append(current)
            current, longest_if_added = [], lengths[i]
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(current)
    perm = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[j] for j in perm]


def batch_plan(lengths: Sequence[int], epochs: float, batch_tokens: int, max_batch: int,
               seed: int) -> list[list[int]]:
    """Every step's batch (indices into the data) for `epochs` passes, a fraction of a pass included:
    `length_grouped_batches` once per started pass, cut to round(epochs / passes) of the batches."""
    gen = torch.Generator().manual_seed(seed)
    passes = max(1, math.ceil(epochs))
    plan: list[list[int]] = []
    for _ in range(passes):
        plan += length_grouped_batches(lengths, batch_tokens, max_batch, gen)
    return plan[: max(1, round(len(plan) * epochs / passes))]


def collate(items: Sequence[Rendered], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of rendered examples into input_ids, attention_mask and loss_mask tensors."""
    width = max(len(r.input_ids) for r in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(items), width), dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, r in enumerate(items):
        n = len(r.input_ids)
        ids[row, :n] = torch.tensor(r.input_ids)
        attn[row, :n] = 1
        mask[row, :n] = torch.tensor(r.loss_mask)
    return {"input_ids": ids, "attention_mask": attn, "loss_mask": mask}


def fit_to_context(rendered: Sequence[Rendered], max_len: int | None) -> list[Rendered]:
    """Cut sequences longer than the model's context (`max_len` tokens) to their first `max_len`
    tokens, with one warning that says how many were cut and how many tokens were dropped."""
    rendered = list(rendered)
    if not max_len:
        return rendered
    long = [i for i, r in enumerate(rendered) if isinstance(r, Rendered) and len(r.input_ids) > max_len]
    if long:
        import warnings

        dropped = sum(len(rendered[i].input_ids) - max_len for i in long)
        warnings.warn(f"{len(long)} of {len(rendered)} training sequences are longer than the model's context of "
                      f"{max_len} tokens and were cut to {max_len} ({dropped} tokens dropped; the first was "
                      f"sequence {long[0]})", stacklevel=3)
        for i in long:
            r = rendered[i]
            rendered[i] = Rendered(r.input_ids[:max_len], r.loss_mask[:max_len], min(r.prompt_len, max_len))
    return rendered


def context_length(model) -> int | None:
    """The longest sequence the model accepts (max_position_embeddings / n_positions), if it says."""
    config = getattr(model, "config", None)
    return getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)


def distributed() -> tuple[int, int]:
    """(rank, world size) under `torchrun` (its RANK / WORLD_SIZE variables); (0, 1) otherwise.
    Starts the process group on first use: gloo on CPU, nccl on GPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


def average_gradients(params, world: int) -> None:
    """Data parallelism: every rank computed gradients on its own shard; replace them by the mean
    over ranks (one all-reduce of a flat buffer), so all ranks take the same optimizer step."""
    import torch.distributed as dist

    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset: offset + g.numel()].view_as(g))
        offset += g.numel()


def lr_factor(step: int, total: int, warmup: int, floor: float = 0.1) -> float:
    """Linear warm-up to 1 over `warmup` steps, then cosine decay to `floor`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def make_optimizer(params: list, lr: float, weight_decay: float = 0.0) -> torch.optim.AdamW:
    """AdamW (betas 0.9, 0.95); weight decay on matrices only, never on biases and norm gains."""
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.95),
    )


class TrainingDiverged(RuntimeError):
    """The loss, the gradients or the weights became NaN or infinite: the run is not a result."""


def check_finite(step: int, loss: torch.Tensor, grad_norm: torch.Tensor | None) -> None:
    """Stop before the update of `step` if its loss or gradient norm is NaN or infinite."""
    for what, value in (("loss", loss), ("gradient norm", grad_norm)):
        if value is not None and not torch.isfinite(value).all():
            raise TrainingDiverged(f"training diverged at step {step}: the {what} became {value.item()} (the weights "
                                   "of the last good step are kept; try a smaller learning rate)")


def check_weights(model, steps: int) -> None:
    """After training: every weight must be a finite number."""
    bad = [n for n, p in model.named_parameters() if not torch.isfinite(p).all()]
    if bad:
        raise TrainingDiverged(f"training diverged: after {steps} steps {len(bad)} weight tensors hold NaN or inf "
                               f"(first: {bad[0]})")


class StepBoundaryInterrupts:
    """While enabled (main thread only), Ctrl-C (SIGINT) only sets a flag; `fit` checks it after each
    step and stops there, so a checkpoint never holds half a step. A second Ctrl-C stops at once."""

    def __init__(self, enabled: bool):
        import signal
        import threading

        self.hits, self.previous = 0, None
        if enabled and threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        self.hits += 1
        if self.hits > 1:
            raise KeyboardInterrupt

    def __call__(self) -> bool:
        return self.hits > 0

    def restore(self) -> None:
        if self.previous is not None:
            import signal

            signal.signal(signal.SIGINT, self.previous)
            self.previous = None


def run_signature(model, rendered: Sequence, **settings) -> dict:
    """What a run is made from: a hash of the training tokens and loss masks, a hash of the model's
    architecture (parameter names and shapes), and the settings that fix the batch plan. Stored in
    checkpoints; resuming with anything else is refused."""
    import hashlib

    data = hashlib.sha256()
    for r in rendered:
        data.update(torch.tensor(r.input_ids, dtype=torch.int64).numpy().tobytes())
        data.update(bytes(getattr(r, "loss_mask", b"")))
    shapes = [(name, list(t.shape)) for name, t in model.state_dict().items()]
    model_hash = hashlib.sha256(json.dumps(shapes).encode()).hexdigest()[:16]
    return {"data": data.hexdigest()[:16], "examples": len(rendered), "model": model_hash, **settings}


def fit(model, tokenizer, examples: Sequence | None = None, *, rendered: Sequence[Rendered] | None = None,
        fmt: str = "prefix", epochs: float = 1.0, lr: float = 3e-3, weight_decay: float = 0.0, warmup: float = 0.05,
        batch_tokens: int = 4096, max_batch: int = 128, clip: float = 1.0, seed: int = 0, device: str = "auto",
        precision: str = "auto", penalty: Callable[[torch.nn.Module], torch.Tensor] | None = None,
        loss_fn: Callable[[torch.nn.Module, dict], torch.Tensor] | None = None,
        collate_fn: Callable[[Sequence, int], dict] | None = None,
        callback: Callable[[int, torch.nn.Module, FitResult], None] | None = None,
        checkpoint_dir: str | Path | None = None, checkpoint_every: int = 0, resume: bool = False,
        progress: bool = True, log_every: int = 1) -> FitResult:
    """Instruction-tune `model` on `examples` (or pre-`rendered` token sequences): minimise the masked
    NLL of the answer tokens (`masked_nll`) plus `penalty(model)` if given (a prior, see `itlib.bayes`).
    `loss_fn(model, batch)` replaces the answer loss (distillation, noisy embeddings); `collate_fn(items,
    pad_id)` makes batches (default `collate`); `callback(step, model, result)` runs after each update
    (not timed). Only parameters with requires_grad train; same seed on CPU, same losses. With
    `checkpoint_dir`: a checkpoint every `checkpoint_every` steps, at the end and on Ctrl-C; `resume=True`
    continues from the newest and ends with the weights of an uninterrupted run.
    """
    from itlib.progress import bar as progress_bar

    rendered = training_sequences(model, tokenizer, examples, rendered, fmt, epochs=epochs, lr=lr,
                                  batch_tokens=batch_tokens)
    rank, world = distributed()
    device = training_device(device, rank, world)
    bf16 = use_bf16(model, device, precision)
    torch.manual_seed(seed)
    model.to(device).train()
    plan = shard(batch_plan([len(r.input_ids) for r in rendered], epochs, batch_tokens, max_batch, seed), rank, world)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = make_optimizer(params, lr, weight_decay)
    sched = warmup_cosine(optim, total=len(plan), warmup=warmup)
    result = FitResult(device=str(device))
    saver = Checkpointer(checkpoint_dir, checkpoint_every, model, optim, sched, result, writes=rank == 0,
                         made_from=checkpoint_dir and run_signature(model, rendered, epochs=epochs, seed=seed,
                                                                    batch_tokens=batch_tokens, max_batch=max_batch, world=world))
    start = saver.restore() if resume else 0
    clock = Stopwatch(already=result.seconds)
    bar = progress_bar(total=len(plan), initial=start, desc="fit", disable=not progress or rank > 0, leave=False,
                       mininterval=0.5)  # redrawn at most every 0.5 s: a bar per step floods a notebook
    try:
        with saver.saving_on_interrupt(clock):
            for step in range(start, len(plan)):
                batch = collate_batch([rendered[i] for i in plan[step]], tokenizer.pad_token_id, collate_fn, device)
                loss = backward(model, batch, params, loss_fn or answer_loss, penalty, clip, bf16, world, step + 1)
                with saver.updating():  # from here on the weights hold this step: a checkpoint must say so
                    optim.step()
                    sched.step()
                    result.record(loss.item(), batch, step + 1)
                if step % log_every == 0:
                    bar.set_postfix(loss=f"{result.losses[-1]:.3f}", refresh=False)
                bar.update(1)
                clock.call(callback, step + 1, model, result)
                saver.after_step(step + 1, clock)
    finally:
        bar.close(loss=result.losses[-1] if result.losses else None)  # headless: one summary line
    result.seconds = clock.seconds
    check_weights(model, result.steps)
    if result.steps > start:
        saver.save()
    model.eval()
    return result


def training_sequences(model, tokenizer, examples, rendered, fmt: str, **settings) -> list[Rendered]:
    """The token sequences to train on: `rendered` as given, else every example rendered as f(X, I) in
    `fmt`; cut to the model's context. Raises ValueError for no data or a setting that is not > 0."""
    for name, value in settings.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"fit: {name} must be a finite number > 0, got {value!r}")
    if rendered is None:
        if examples is None:
            raise ValueError("fit needs examples or rendered sequences")
        rendered = [render(ex, tokenizer, fmt) for ex in examples]
    if not rendered:
        raise ValueError("fit got no training examples")
    return fit_to_context(rendered, context_length(model))


def training_device(device: str, rank: int, world: int) -> str:
    """`pick_device`, and under torchrun on GPUs each process its own GPU (LOCAL_RANK)."""
    device = pick_device(device)
    if device == "cuda" and world > 1:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', rank))}"
    return device


def shard(plan: list, rank: int, world: int) -> list:
    """Data parallelism: rank r takes batches r, r + world, ...; every rank takes as many steps."""
    return plan if world == 1 else plan[rank::world][: len(plan) // world]


def warmup_cosine(optim, total: int, warmup: float):
    """The learning-rate schedule `lr_factor` over `total` steps, the first `warmup` share warming up."""
    warm = max(1, int(warmup * total))
    return torch.optim.lr_scheduler.LambdaLR(optim, lambda s: lr_factor(s, total, warm))


def collate_batch(items: Sequence, pad_id: int, collate_fn, device) -> dict[str, torch.Tensor]:
    """One training batch on `device`: `collate_fn` (default `collate`) of the items."""
    return {k: v.to(device) for k, v in (collate_fn or collate)(items, pad_id).items()}


def backward(model, batch: dict, params: list, loss_fn, penalty, clip: float, bf16: bool, world: int,
             step: int) -> torch.Tensor:
    """Forward pass and L = loss_fn(model, batch) (+ penalty(model)); gradients by backprop, averaged
    over processes, clipped to norm `clip`; refuses a non-finite loss or gradient. Returns the loss
    (without the penalty, averaged over processes)."""
    device = batch["input_ids"].device.type
    with torch.autocast(device_type="cpu" if device == "mps" else device, dtype=torch.bfloat16, enabled=bf16):
        loss = loss_fn(model, batch)
    total_loss = loss + penalty(model) if penalty is not None else loss
    for p in params:
        p.grad = None
    total_loss.backward()
    if world > 1:
        average_gradients(params, world)
        loss = loss.detach().clone()
        torch.distributed.all_reduce(loss)
        loss /= world
    grad_norm = torch.nn.utils.clip_grad_norm_(params, clip) if clip else None
    check_finite(step, loss, grad_norm)
    return loss


class Stopwatch:
    """Seconds of training so far (`already` from a resumed run included), with pauses left out."""

    def __init__(self, already: float = 0.0):
        self.t0 = time.perf_counter() - already

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.t0

    @contextmanager
    def paused(self):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.t0 += time.perf_counter() - t

    def call(self, callback, step: int, model, result: FitResult) -> None:
        """`callback(step, model, result)` (if any) with `result.seconds` up to date, its own time not
        counted: a callback is not training."""
        if callback is not None:
            with self.paused():
                result.seconds = self.seconds
                callback(step, model, result)


class Checkpointer:
    """A run's checkpoints in `folder` (none if None): written by one process (`writes`) every `every`
    steps, at the end, and on Ctrl-C (at a step boundary, see `StepBoundaryInterrupts`); restored by
    every process. A checkpoint's step number always equals the updates it holds."""

    def __init__(self, folder, every: int, model, optim, sched, result: FitResult, writes: bool = True,
                 made_from: dict | None = None):
        self.folder, self.every, self.made_from = folder, every, made_from
        self.state = (model, optim, sched, result)
        self.writes = writes and folder is not None
        self.mid_update = False
        self.interrupted = StepBoundaryInterrupts(enabled=False)

    def restore(self) -> int:
        return 0 if self.folder is None else load_checkpoint(self.folder, *self.state, made_from=self.made_from)

    def save(self, seconds: float | None = None) -> None:
        if self.writes:
            if seconds is not None:
                self.state[3].seconds = seconds
            save_checkpoint(self.folder, *self.state, self.made_from)

    def after_step(self, steps: int, clock: Stopwatch) -> None:
        if self.every and steps % self.every == 0:
            self.save(clock.seconds)
        if self.interrupted():
            raise KeyboardInterrupt

    @contextmanager
    def updating(self):
        self.mid_update = True
        yield
        self.mid_update = False

    @contextmanager
    def saving_on_interrupt(self, clock: Stopwatch):
        self.interrupted = StepBoundaryInterrupts(enabled=self.writes)
        try:
            yield
        except KeyboardInterrupt:
            if not self.mid_update:
                self.save(clock.seconds)
            raise
        finally:
            self.interrupted.restore()


# ---------------------------------------------------------------------------------------- checkpoints


class CheckpointError(RuntimeError):
    """A checkpoint folder that cannot be read: names the folder and the missing or broken file."""


def _checkpoints(folder: Path) -> list[Path]:
    found = [p for p in folder.glob("step-*") if p.is_dir() and p.name[5:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[5:]))


def _remove_stale_temporaries(folder: Path) -> None:
    """Remove `.tmp-step-N-PID` folders whose process is gone (left by a `kill -9` mid-write)."""
    for tmp in folder.glob(".tmp-step-*-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def save_checkpoint(folder, model, optim, sched, result: FitResult, made_from: dict | None = None,
                    keep: int = 2) -> Path:
    """Write step-N/ (weights, optimizer, scheduler, history, what the run is made from) into a
    temporary folder, then rename it: a crash mid-write never leaves a half-written checkpoint. The
    newest `keep` are kept."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(folder)
    final = folder / f"step-{result.steps}"
    tmp = folder / f".tmp-step-{result.steps}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(_untie(state), tmp / "model.safetensors")
    torch.save({"optim": optim.state_dict(), "sched": sched.state_dict()}, tmp / "optim.pt")
    history = {"losses": result.losses, "seconds": result.seconds, "steps": result.steps,
               "tokens": result.tokens, "padded_tokens": result.padded_tokens, "made_from": made_from}
    (tmp / "state.json").write_text(json.dumps(history, allow_nan=False))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in _checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _untie(state: dict) -> dict:
    """safetensors refuses tensors that share memory (tied embeddings): store clones."""
    seen, out = set(), {}
    for k, v in state.items():
        out[k] = v.clone() if v.data_ptr() in seen else v
        seen.add(v.data_ptr())
    return out


def _check_same_run(ckpt: Path, stored: dict | None, made_from: dict | None) -> None:
    """Refuse to resume a checkpoint made from other data, settings or starting weights."""
    if not stored or not made_from:
        return
    differ = [k for k in made_from if k in stored and stored[k] != made_from[k]]
    if differ:
        detail = ", ".join(f"{k}: {stored[k]} then, {made_from[k]} now" for k in differ)
        raise CheckpointError(f"cannot resume from {ckpt}: it was made from a different run ({detail}); "
                              "use the same data, settings and model, or train into a new output folder")


def load_checkpoint(folder, model, optim, sched, result: FitResult, made_from: dict | None = None) -> int:
    """Restore the newest readable checkpoint; a broken newer one is reported and skipped
    (the previous good one is used). With `made_from` (see `run_signature`), a checkpoint of another
    run raises `CheckpointError`. Returns the step to continue from (0 if none)."""
    folder = Path(folder)
    if folder.is_dir():
        _remove_stale_temporaries(folder)
    errors = []
    for ckpt in reversed(_checkpoints(folder)):
        try:
            weights = load_file(ckpt / "model.safetensors")
            states = torch.load(ckpt / "optim.pt", weights_only=True)
            history = json.loads((ckpt / "state.json").read_text())
        except Exception as err:  # noqa: BLE001 - any unreadable file means: try the previous one
            errors.append(f"{ckpt.name}: {type(err).__name__}: {err}")
            continue
        _check_same_run(ckpt, history.get("made_from"), made_from)
        model.load_state_dict(weights, strict=False)
        optim.load_state_dict(states["optim"])
        sched.load_state_dict(states["sched"])
        result.losses = history["losses"]
        result.seconds = history["seconds"]
        result.steps = history["steps"]
        result.tokens = history["tokens"]
        result.padded_tokens = history["padded_tokens"]
        if errors:
            import warnings

            warnings.warn(f"skipped unreadable checkpoints in {folder}: " + "; ".join(errors), stacklevel=2)
        return result.steps
    if errors:
        raise CheckpointError(f"no readable checkpoint in {folder}: " + "; ".join(errors))
    return 0
