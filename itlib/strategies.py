"""Fine-tuning strategies: which parameters move, and what the loss sees.

- full fine-tuning: every parameter is trained (`itlib.train.fit` as it is);
- partial: `freeze_except(model, top_layers=k)` (only the top k blocks), `bias_only(model)` (BitFit:
  only bias vectors; a model without biases gets zero ones, so its function does not change),
  `add_lora(model, r, alpha)` (LoRA by hand: W x + (alpha / r) B A x, A random, B = 0, W frozen),
  `lora_with_peft(...)` (the same with `peft`), `merge_lora` (fold B A back into W);
- loss functions for `fit(loss_fn=...)`: `neftune_loss(alpha)` (uniform noise of size
  alpha / sqrt(L d) on the input embeddings), `fgm_loss(epsilon)` (the worst-case embedding
  perturbation of size epsilon along the gradient), `distill_loss(teacher, T)` (KL to a teacher's
  softened distribution on the answer tokens);
- meta-learning: `reptile(...)`, whose inner loop is `fit` on one task at a time.

Every function takes a Hugging Face causal LM (the course's tiny Llama, or a user's own).
"""

from __future__ import annotations

import copy
import math
import random
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from itlib.train import masked_nll

DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


# ------------------------------------------------------------------------------------------- freezing


def decoder_layers(model) -> nn.ModuleList:
    """The model's stack of transformer blocks (Llama: model.model.layers, GPT-2: model.transformer.h):
    the longest nn.ModuleList in the model."""
    lists = [m for m in model.modules() if isinstance(m, nn.ModuleList)]
    if not lists:
        raise ValueError(f"{type(model).__name__} has no nn.ModuleList of transformer blocks")
    return max(lists, key=len)


def trainable(model) -> tuple[int, int]:
    """(trainable parameters, all parameters), shared (tied) tensors counted once."""
    seen, n_train, n_all = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        n_all += p.numel()
        if p.requires_grad:  # only some rows of an embedding may train (`train_embedding_rows`)
            rows = getattr(p, "_itlib_rows", None)
            n_train += p.numel() if rows is None else rows * p.shape[1]
    return n_train, n_all


def freeze_all(model):
    """requires_grad = False for every parameter (and no partly trainable embedding rows left)."""
    for p in model.parameters():
        p.requires_grad_(False)
        _drop_row_hook(p)
    return model


def _drop_row_hook(p) -> None:
    hook = getattr(p, "_itlib_row_hook", None)
    if hook is not None:
        hook.remove()
        del p._itlib_row_hook, p._itlib_rows


def freeze_except(model, top_layers: int | None = None, names: Iterable[str] = ()):
    """Freeze every parameter except those of the top `top_layers` transformer blocks (with the
    final norm after them) and those whose name contains one of `names` (e.g. names=["norm"]: the
    RMSNorm/LayerNorm gains only). The embeddings (tied to the output layer here) stay frozen unless
    named. Returns the model."""
    names = tuple(names)
    freeze_all(model)
    keep: set[int] = set()
    if top_layers:
        layers = decoder_layers(model)
        if not 0 < top_layers <= len(layers):
            raise ValueError(f"top_layers must be between 1 and {len(layers)}, got {top_layers}")
        for layer in list(layers)[-top_layers:]:
            keep |= {id(p) for p in layer.parameters()}
        keep |= {id(p) for n, p in model.named_parameters() if _is_final_norm(n)}
    for n, p in model.named_parameters():
        if id(p) in keep or any(s in n for s in names):
            p.requires_grad_(True)
    return model


def _is_final_norm(name: str) -> bool:
    return name in ("model.norm.weight", "model.norm.bias", "transformer.ln_f.weight", "transformer.ln_f.bias")


def bias_only(model, add_missing: bool = True, include_head: bool = True):
    """BitFit: train only the bias vectors. Linear layers without a bias (every layer of a Llama)
    get a zero bias first when `add_missing` -- zero, so the model computes exactly what it did
    before -- and everything else is frozen. `include_head=False` leaves the output layer without
    one. Returns the model.

    Note: the added biases are not in the model's config; `save_pretrained` writes them but a plain
    `from_pretrained` of a bias-free architecture ignores them."""
    head = model.get_output_embeddings()
    freeze_all(model)
    for module in model.modules():
        if not isinstance(module, nn.Linear) or (module is head and not include_head):
            continue
        if module.bias is None and add_missing:
            w = module.weight
            module.bias = nn.Parameter(torch.zeros(w.shape[0], device=w.device, dtype=w.dtype))
        if module.bias is not None:
            module.bias.requires_grad_(True)
    for name, p in model.named_parameters():
        if name.endswith(".bias") and not (name.startswith("lm_head") and not include_head):
            p.requires_grad_(True)
    return model


def unseen_token_ids(tokenizer, examples: Sequence, docs: Sequence[str], fmt: str = "prefix") -> list[int]:
    """Token ids that the rendered `examples` use but the text of the pretraining `docs` never does
    (template words, newlines, labels, ...): the base model never read these as inputs. Their
    embedding rows need not be random: with embeddings tied to the output layer they were trained as
    outputs (pushed away from every hidden state), but no layer learnt to read them. The sequence
    markers (BOS, EOS) count as unseen too although pretraining read and predicted them at document
    boundaries: instruction tuning gives EOS a new job, ending every answer."""
    from itlib.formats import render

    used = {i for ex in examples for i in render(ex, tokenizer, fmt).input_ids}
    docs, seen = list(docs), set()
    for start in range(0, len(docs), 2000):  # in chunks: the ids of a whole corpus at once cost memory
        seen.update(i for ids in tokenizer(docs[start:start + 2000], add_special_tokens=False)["input_ids"] for i in ids)
    return sorted(used - seen)


def train_embedding_rows(model, token_ids: Sequence[int]):
    """Make the rows `token_ids` of the input embedding (and of the output layer when they are tied)
    trainable and nothing else of it: a gradient hook zeroes the other rows' gradients, so AdamW
    (without weight decay on them) leaves them exactly as they were. peft's equivalent is
    `LoraConfig(trainable_token_indices=...)`. Call it after freezing the rest. Returns the model."""
    weight = model.get_input_embeddings().weight
    rows = torch.zeros(weight.shape[0], 1, dtype=weight.dtype, device=weight.device)
    rows[list(token_ids)] = 1
    _drop_row_hook(weight)
    weight.requires_grad_(True)
    weight._itlib_row_hook = weight.register_hook(lambda g: g * rows)
    weight._itlib_rows = len(set(token_ids))
    return model


# ----------------------------------------------------------------------------------------------- LoRA


class LoRALinear(nn.Module):
    """y = W x + (alpha / r) * B A x with W frozen, A (r x in) random, B (out x r) zero at the start,
    so the wrapped layer computes exactly W x until B is trained."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0):
        super().__init__()
        self.base = base
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        w = base.weight
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, device=w.device, dtype=w.dtype))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, device=w.device, dtype=w.dtype))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # as nn.Linear, as the LoRA paper and peft
        for p in base.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling

    def merged(self) -> nn.Linear:
        """A plain nn.Linear with W + (alpha / r) B A: the same function, no extra cost at inference."""
        out = copy.deepcopy(self.base)
        with torch.no_grad():
            out.weight += self.scaling * self.lora_B @ self.lora_A
        out.weight.requires_grad_(True)
        return out


def _targets(model, targets: Sequence[str]) -> list[tuple[nn.Module, str, nn.Linear]]:
    head = model.get_output_embeddings()
    found = []
    for parent in model.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.Linear) and child is not head and child_name in targets:
                found.append((parent, child_name, child))
    return found


def add_lora(model, r: int = 8, alpha: float = 16.0, targets: Sequence[str] = DEFAULT_LORA_TARGETS,
             seed: int = 0):
    """LoRA by hand: freeze the whole model, then replace every nn.Linear whose name is in `targets`
    by a `LoRALinear` (only its A and B train). Returns the model."""
    freeze_all(model)
    found = _targets(model, targets)
    if not found:
        raise ValueError(f"no nn.Linear named one of {list(targets)} in {type(model).__name__}")
    torch.manual_seed(seed)
    for parent, name, child in found:
        setattr(parent, name, LoRALinear(child, r=r, alpha=alpha))
    return model


def merge_lora(model):
    """Replace every `LoRALinear` by its merged nn.Linear (W + (alpha/r) B A): the result is a plain
    model of the original architecture, saveable as a Hugging Face folder. Returns the model."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, LoRALinear):
                setattr(parent, name, child.merged())
    for p in model.parameters():
        _drop_row_hook(p)
        p.requires_grad_(True)
    return model


def lora_with_peft(model, r: int = 8, alpha: float = 16.0, targets: Sequence[str] = DEFAULT_LORA_TARGETS):
    """The same adapter with `peft`: `get_peft_model(model, LoraConfig(...))` (no dropout, no bias).
    Wraps (and changes) `model` in place; deep-copy it first to keep the original."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=list(targets), lora_dropout=0.0, bias="none",
                        task_type="CAUSAL_LM")
    with warnings.catch_warnings():  # peft calls a transformers method deprecated in v5 (a FutureWarning)
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*is_gradient_checkpointing.*")
        return get_peft_model(model, config)


def _plain_name(name: str) -> str:
    return name.removeprefix("base_model.model.")  # peft's wrapper


def lora_weights(model) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{layer name: (A, B)} of a model with hand-written (`add_lora`) or peft adapters; the names are
    the same for both (e.g. "model.layers.0.self_attn.q_proj")."""
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, LoRALinear):
            out[_plain_name(name)] = (module.lora_A.detach(), module.lora_B.detach())
        elif isinstance(getattr(module, "lora_A", None), nn.ModuleDict) and "default" in module.lora_A:
            out[_plain_name(name)] = (module.lora_A["default"].weight.detach(), module.lora_B["default"].weight.detach())
    return out


def load_lora_weights(model, weights: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Copy (A, B) pairs from `lora_weights` of another model into this one's adapters (hand or peft)."""
    missing = set(weights)
    for name, module in model.named_modules():
        key = _plain_name(name)
        if key not in weights:
            continue
        a, b = weights[key]
        with torch.no_grad():
            if isinstance(module, LoRALinear):
                module.lora_A.copy_(a)
                module.lora_B.copy_(b)
            elif hasattr(module, "lora_A") and isinstance(module.lora_A, nn.ModuleDict):
                module.lora_A["default"].weight.copy_(a)
                module.lora_B["default"].weight.copy_(b)
            else:
                continue
        missing.discard(key)
    if missing:
        raise KeyError(f"no LoRA adapter for: {', '.join(sorted(missing))}")


# ------------------------------------------------------------------------- noisy / adversarial inputs


def _forward_embeds(model, embeds: torch.Tensor, batch: dict) -> torch.Tensor:
    return model(inputs_embeds=embeds, attention_mask=batch["attention_mask"]).logits


def neftune_noise(embeds: torch.Tensor, attention_mask: torch.Tensor, alpha: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """NEFTune's noise: uniform in [-s, s] with s = alpha / sqrt(L * d) per sequence, L its real
    length (attention_mask.sum), d the embedding width; zero on padding."""
    lengths = attention_mask.sum(dim=1).clamp(min=1).to(embeds.dtype)  # (batch,)
    scale = alpha / torch.sqrt(lengths * embeds.shape[-1])
    u = torch.rand(embeds.shape, generator=generator, device=embeds.device, dtype=embeds.dtype) * 2 - 1
    return u * scale[:, None, None] * attention_mask[..., None].to(embeds.dtype)


def neftune_loss(alpha: float = 5.0) -> Callable[[nn.Module, dict], torch.Tensor]:
    """A `fit(loss_fn=...)`: the answer loss with NEFTune noise added to the input embeddings (fresh
    noise every step, drawn from torch's seeded generator)."""

    def loss_fn(model, batch):
        embeds = model.get_input_embeddings()(batch["input_ids"])
        noisy = embeds + neftune_noise(embeds, batch["attention_mask"], alpha)
        return masked_nll(_forward_embeds(model, noisy, batch), batch["input_ids"], batch["loss_mask"])

    return loss_fn


def fgm_perturbation(grad: torch.Tensor, epsilon: float) -> torch.Tensor:
    """FGM: r = epsilon * g / ||g|| per sequence (the step that raises the loss most, to first order)."""
    norm = grad.flatten(1).norm(dim=1).clamp(min=1e-12)
    return epsilon * grad / norm[:, None, None]


def fgm_loss(epsilon: float = 1.0) -> Callable[[nn.Module, dict], torch.Tensor]:
    """A `fit(loss_fn=...)` for adversarial training (FGM, Miyato et al. 2017): the mean of the clean
    answer loss and the loss with the embeddings moved by `fgm_perturbation` of the clean loss's
    gradient. Costs about two forward and three backward passes per step."""

    def loss_fn(model, batch):
        embeds = model.get_input_embeddings()(batch["input_ids"])
        if not embeds.requires_grad:  # frozen embeddings: still need the gradient w.r.t. their output
            embeds.requires_grad_(True)
        clean = masked_nll(_forward_embeds(model, embeds, batch), batch["input_ids"], batch["loss_mask"])
        (grad,) = torch.autograd.grad(clean, embeds, retain_graph=True)
        r = fgm_perturbation(grad.detach(), epsilon) * batch["attention_mask"][..., None].to(grad.dtype)
        adv = masked_nll(_forward_embeds(model, embeds + r, batch), batch["input_ids"], batch["loss_mask"])
        return (clean + adv) / 2

    return loss_fn


# --------------------------------------------------------------------------------------- distillation


def kd_divergence(student_logits: torch.Tensor, teacher_logits: torch.Tensor, loss_mask: torch.Tensor,
                  temperature: float = 2.0) -> torch.Tensor:
    """T^2 * mean over answer positions of KL(softmax(z_teacher / T) || softmax(z_student / T)),
    positions aligned as in `masked_nll` (logits at t-1 predict the answer token at t)."""
    t = temperature
    s = F.log_softmax(student_logits[:, :-1].float() / t, dim=-1)
    p = F.log_softmax(teacher_logits[:, :-1].float() / t, dim=-1)
    kl = (p.exp() * (p - s)).sum(-1)  # (batch, length - 1)
    mask = loss_mask[:, 1:].float()
    return t * t * (kl * mask).sum() / mask.sum().clamp(min=1)


def distill_loss(teacher, temperature: float = 2.0, hard_weight: float = 0.0):
    """A `fit(loss_fn=...)` for knowledge distillation: (1 - hard_weight) * `kd_divergence` to the
    teacher's logits (computed without gradients; the teacher is not changed) + hard_weight * the
    usual answer loss on the data."""
    teacher.eval()

    def loss_fn(model, batch):
        device = batch["input_ids"].device
        if next(teacher.parameters()).device != device:
            teacher.to(device)
        with torch.no_grad():
            t_logits = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        s_logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss = kd_divergence(s_logits, t_logits, batch["loss_mask"], temperature)
        if hard_weight:
            loss = (1 - hard_weight) * loss + hard_weight * masked_nll(s_logits, batch["input_ids"], batch["loss_mask"])
        return loss

    return loss_fn


def keep_layers(model, layers: Sequence[int]):
    """A smaller copy of `model` with only the transformer blocks `layers` (e.g. [0, 3]): a student
    that starts from the teacher's (or the base's) own weights. Returns the new model."""
    small = copy.deepcopy(model)
    stack = decoder_layers(small)
    kept = [stack[i] for i in layers]
    for i, block in enumerate(kept):
        if hasattr(getattr(block, "self_attn", None), "layer_idx"):
            block.self_attn.layer_idx = i  # the KV cache is indexed by it
    stack_parent = next(m for m in small.modules() if any(c is stack for c in m.children()))
    name = next(n for n, c in stack_parent.named_children() if c is stack)
    setattr(stack_parent, name, nn.ModuleList(kept))
    for attr in ("num_hidden_layers", "n_layer"):
        if hasattr(small.config, attr):
            setattr(small.config, attr, len(kept))
    if getattr(small.config, "layer_types", None):
        small.config.layer_types = [small.config.layer_types[i] for i in layers]
    return small


# ---------------------------------------------------------------------------------------- meta-learning


@dataclass
class ReptileResult:
    """The outer loop's record: which task each meta-step used, its last inner loss, the time."""

    tasks: list[str] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    inner_steps: int = 0


def reptile_step(model, tokenizer, examples: Sequence, epsilon: float, inner_batch: int = 16,
                 inner_lr: float = 2e-3, fmt: str = "prefix", seed: int = 0, device: str = "auto") -> float:
    """One Reptile meta-step on one task's `examples`: phi = `fit` of the model on them (one pass,
    batches of `inner_batch`), then theta <- theta + epsilon * (phi - theta) for the trainable
    parameters. epsilon = 1 is plain fine-tuning. Returns the inner run's last loss."""
    from itlib.train import fit

    params = [p for p in model.parameters() if p.requires_grad]
    theta = [p.detach().clone() for p in params]
    inner = fit(model, tokenizer, examples, fmt=fmt, epochs=1.0, lr=inner_lr, warmup=0.0, batch_tokens=10**9,
                max_batch=inner_batch, seed=seed, device=device, progress=False)
    with torch.no_grad():
        for p, old in zip(params, theta):
            p.copy_(old + epsilon * (p - old))
    return inner.losses[-1]


def reptile(model, tokenizer, examples: Sequence, *, meta_steps: int = 50, inner_steps: int = 4,
            inner_batch: int = 16, inner_lr: float = 2e-3, meta_lr: float = 0.5, anneal: bool = True,
            fmt: str = "prefix", seed: int = 0, device: str = "auto", progress: bool = True) -> ReptileResult:
    """Reptile (Nichol et al. 2018), first-order meta-learning over tasks:

        for each meta-step: pick a task, phi = theta trained `inner_steps` steps on it (by `fit`),
                            theta <- theta + epsilon * (phi - theta)          (`reptile_step`)

    with epsilon = `meta_lr`, linearly annealed towards 0 when `anneal`. `examples` are grouped by
    their `task`; tasks take turns in a shuffled order; each inner run gets `inner_steps *
    inner_batch` of that task's examples (drawn without replacement while they last), one pass.
    Only trainable parameters move. Returns a `ReptileResult`.
    """
    from itlib.progress import bar as progress_bar

    by_task: dict[str, list] = {}
    for ex in examples:
        by_task.setdefault(ex.task, []).append(ex)
    rng = random.Random(seed)
    k = inner_steps * inner_batch
    result = ReptileResult(inner_steps=inner_steps)
    t0 = time.perf_counter()
    order: list[str] = []
    for step in progress_bar(range(meta_steps), desc="reptile", noun="meta-steps", disable=not progress, leave=False,
                             mininterval=0.5):
        if not order:
            order = sorted(by_task)
            rng.shuffle(order)
        task = order.pop()
        pool = by_task[task]
        batch = rng.sample(pool, k) if k <= len(pool) else [rng.choice(pool) for _ in range(k)]
        eps = meta_lr * (1 - step / meta_steps) if anneal else meta_lr
        loss = reptile_step(model, tokenizer, batch, eps, inner_batch=inner_batch, inner_lr=inner_lr, fmt=fmt,
                            seed=seed + step, device=device)
        result.tasks.append(task)
        result.losses.append(loss)
    result.seconds = time.perf_counter() - t0
    model.eval()
    return result
