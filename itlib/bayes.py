"""The Bayesian view of fine-tuning: maximum a posteriori (MAP) estimation,

    theta* = argmax_theta  P(D | theta) P(theta)
           = argmin_theta  -log P(D | theta)  -  log P(theta).

With a Gaussian prior P(theta) = prod_i N(theta_i; mu_i, 1/(lambda F_i)) the second term is, up to a
constant, a squared penalty

    -log P(theta) = (lambda / 2) * sum_i F_i (theta_i - mu_i)^2  + const,

and the choice of centre mu and weights F names a familiar regulariser:

- mu = 0,       F = 1:  weight decay (L2),                         `gaussian_prior(model, 0.0, lam)`
- mu = theta_0, F = 1:  L2-SP, stay near the pretrained weights,   `l2_sp(model, theta0, lam)`
- mu = theta_0, F = diagonal Fisher at theta_0: EWC (the Laplace    `ewc(model, theta0, fisher, lam)`
  approximation of the posterior of an earlier task),

where the Fisher comes from `diagonal_fisher` (empirical: the mean squared gradient of each
example's log-likelihood). Every penalty is a function of the model that returns a scalar tensor,
so it plugs into training as `itlib.train.fit(..., penalty=lambda m: l2_sp(m, theta0, lam))`.

Parameters are matched by name (`model.named_parameters()`); only those with requires_grad count
unless `trainable_only=False`. A centre or Fisher may be a float (the same for every parameter) or a
dict {name: tensor} such as `snapshot(model)` returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch

Centre = float | dict[str, torch.Tensor]


def snapshot(model, trainable_only: bool = True) -> dict[str, torch.Tensor]:
    """A detached copy of the model's parameters by name: theta_0, the centre of L2-SP and EWC."""
    return {n: p.detach().clone() for n, p in _named(model, trainable_only)}


def _named(model, trainable_only: bool = True) -> list[tuple[str, torch.nn.Parameter]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad or not trainable_only]


def _value(spec, name: str, like: torch.Tensor) -> torch.Tensor | float:
    if isinstance(spec, dict):
        if name not in spec:
            raise KeyError(f"no entry for parameter {name!r}: was the centre/Fisher made from this model?")
        return spec[name].to(like.device, like.dtype)
    return float(spec)


def gaussian_prior(model, centre: Centre = 0.0, strength: float = 1.0, weights: Centre = 1.0,
                   trainable_only: bool = True) -> torch.Tensor:
    """(strength / 2) * sum_i weights_i * (theta_i - centre_i)^2: the negative log of a Gaussian
    prior N(centre, 1 / (strength * weights)) without its constant. centre=0 is weight decay,
    centre=theta_0 is L2-SP, weights=Fisher is EWC."""
    named = _named(model, trainable_only)
    if not named:
        raise ValueError("the model has no parameters to put a prior on (all frozen?)")
    total = named[0][1].new_zeros(())
    for name, p in named:
        diff = p - _value(centre, name, p)
        w = _value(weights, name, p)
        total = total + (w * diff.pow(2)).sum()
    return 0.5 * strength * total


def weight_decay(model, strength: float) -> torch.Tensor:
    """The Gaussian prior centred at 0: (strength / 2) * sum_i theta_i^2; its gradient is strength * theta."""
    return gaussian_prior(model, 0.0, strength)


def l2_sp(model, theta0: dict[str, torch.Tensor], strength: float, new_strength: float = 0.0) -> torch.Tensor:
    """L2-SP (Li et al., 2018): the Gaussian prior centred at the pretrained weights theta_0,
    (strength / 2) * sum_i (theta_i - theta0_i)^2 over the parameters that theta_0 has. Zero at theta_0.

    A parameter the pretrained model did not have (a newly added head, an adapter) has no theta_0 to
    stay near: as in the paper it is left out of this penalty, or gets the prior at 0 with
    `new_strength` (plain weight decay, (new_strength / 2) * theta_i^2). At least one trainable
    parameter must be in theta_0 (else theta_0 was made from another model)."""
    named = _named(model, True)
    shared = [(n, p) for n, p in named if n in theta0]
    if not shared:
        raise ValueError("no trainable parameter of the model is in theta0: was it made from this model?")
    total = shared[0][1].new_zeros(())
    for name, p in shared:
        total = total + (p - theta0[name].to(p.device, p.dtype)).pow(2).sum()
    fresh = sum((p.pow(2).sum() for n, p in named if n not in theta0), total.new_zeros(()))
    return 0.5 * strength * total + 0.5 * new_strength * fresh


def ewc(model, theta0: dict[str, torch.Tensor], fisher: dict[str, torch.Tensor], strength: float) -> torch.Tensor:
    """Elastic weight consolidation (Kirkpatrick et al., 2017): (strength / 2) * sum_i F_i (theta_i - theta0_i)^2,
    the Laplace approximation of the posterior after the earlier data, with the diagonal Fisher F as
    its precision. With F = 1 it is L2-SP."""
    return gaussian_prior(model, theta0, strength, weights=fisher)


def gaussian_log_prior(model, centre: Centre = 0.0, sigma: float = 1.0, trainable_only: bool = True) -> torch.Tensor:
    """log P(theta) = sum_i log N(theta_i; centre_i, sigma^2), constant included; equals
    -gaussian_prior(model, centre, 1 / sigma^2) - n * log(sigma * sqrt(2 pi)) for n parameters."""
    named = _named(model, trainable_only)
    n = sum(p.numel() for _, p in named)
    return -gaussian_prior(model, centre, 1.0 / sigma**2, trainable_only=trainable_only) \
        - n * math.log(sigma * math.sqrt(2 * math.pi))


def distance(model, theta0: dict[str, torch.Tensor], trainable_only: bool = True) -> float:
    """Euclidean distance ||theta - theta_0|| over the parameters in theta0: how far training moved."""
    with torch.no_grad():
        sq = sum(float((p - theta0[n].to(p.device)).pow(2).sum()) for n, p in _named(model, trainable_only)
                 if n in theta0)
    return math.sqrt(sq)


def norm(model, trainable_only: bool = True) -> float:
    """||theta||: the Euclidean norm of the parameters (what weight decay shrinks)."""
    with torch.no_grad():
        return math.sqrt(sum(float(p.pow(2).sum()) for _, p in _named(model, trainable_only)))


# ------------------------------------------------------------------------------------------- Fisher


def _as_rendered(items: Iterable, tokenizer, fmt: str, max_len: int):
    """Examples -> rendered with the answer mask; plain strings (documents) -> every token carries loss."""
    from itlib.formats import Rendered, render

    out = []
    for item in items:
        if isinstance(item, Rendered):
            out.append(item)
        elif isinstance(item, str):
            ids = [tokenizer.bos_token_id, *tokenizer(item, add_special_tokens=False)["input_ids"],
                   tokenizer.eos_token_id][:max_len]
            out.append(Rendered(ids, [1] * len(ids), 0))
        else:
            out.append(render(item, tokenizer, fmt))
    return out


def example_log_likelihood(model, rendered) -> torch.Tensor:
    """log P(y | x) of one rendered example: the sum over its loss tokens of log P(x_t | x_<t)."""
    from itlib.train import masked_nll

    device = next(model.parameters()).device
    ids = torch.tensor([rendered.input_ids], device=device)
    mask = torch.tensor([rendered.loss_mask], device=device)
    logits = model(input_ids=ids).logits
    n = mask[:, 1:].sum()
    return -masked_nll(logits, ids, mask) * n


def diagonal_fisher(model, tokenizer, items: Sequence, fmt: str = "prefix", max_len: int = 128,
                    progress: bool = False) -> dict[str, torch.Tensor]:
    """The empirical diagonal Fisher information at the model's current weights,

        F_i = (1/N) sum_n ( d log P(y_n | x_n) / d theta_i )^2,

    over `items`: instruction `Example`s (log-likelihood of the answer tokens + EOS), plain strings
    (documents: every token, cut to `max_len` tokens) or `Rendered` sequences. One backward pass per
    item (per-example gradients are needed: the square of a mean is not the mean of squares).
    Returns {name: tensor} for the trainable parameters, every entry >= 0."""
    from itlib.progress import bar as progress_bar

    rendered = _as_rendered(items, tokenizer, fmt, max_len)
    if not rendered:
        raise ValueError("diagonal_fisher needs at least one example or document")
    named = _named(model)
    fisher = {n: torch.zeros_like(p) for n, p in named}
    was_training = model.training
    model.eval()  # no dropout: the Fisher of the deterministic model
    for r in progress_bar(rendered, desc="fisher", noun="examples", disable=not progress, leave=False,
                          mininterval=0.5):
        grads = torch.autograd.grad(example_log_likelihood(model, r), [p for _, p in named], allow_unused=True)
        for (n, _), g in zip(named, grads):
            if g is not None:
                fisher[n] += g.detach().pow(2)
    model.train(was_training)
    return {n: f / len(rendered) for n, f in fisher.items()}


def normalise_fisher(fisher: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The Fisher divided by its mean entry (mean 1, as for L2-SP's F = 1): the same strength lambda then
    means the same total stiffness for EWC and L2-SP, spread differently over the parameters."""
    total = sum(float(f.sum()) for f in fisher.values())
    count = sum(f.numel() for f in fisher.values())
    mean = total / max(count, 1)
    if mean <= 0:
        raise ValueError("the Fisher is all zeros: were the items empty of loss tokens?")
    return {n: f / mean for n, f in fisher.items()}


def scaled(penalty, factor: float):
    """penalty(model) * factor: e.g. factor = 1/N, because `fit` minimises the *mean* loss per token while
    the log-prior is added once to a *sum* over N examples (see notebook 09)."""
    return lambda model: penalty(model) * factor


def answer_nll(model, tokenizer, examples: Sequence, fmt: str = "prefix", batch_size: int = 64) -> float:
    """Mean negative log-likelihood per answer token (answer + EOS) of `examples`: a smooth score of
    how well the model has learnt a task, informative even while exact match is still 0."""
    from itlib.formats import render
    from itlib.train import mean_nll

    return mean_nll(model, tokenizer, [render(ex, tokenizer, fmt) for ex in examples], batch_size)
