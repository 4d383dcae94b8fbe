"""Exercises for notebook 09: the Bayesian view of fine-tuning (Gaussian priors as penalties)."""

from __future__ import annotations

import math

from itlib.exercises.core import Exercise, Wrong, as_number, judge, near, run_solution

# ---------------------------------------------------------------------------------------------
# q1: L2-SP by hand


def toy_model():
    """A two-layer network with fixed weights: small enough for a checker, with weights and biases."""
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))


def _moved(model, scale: float = 0.1):
    """A copy of `model` with every weight moved a little: theta != theta_0."""
    import copy

    import torch

    m = copy.deepcopy(model)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return m


_Q1_SOLUTION = """
def my_l2_sp(model, theta0, lam):
    # (lam / 2) * sum_i (theta_i - theta0_i)^2 over every named parameter
    total = 0.0
    for name, p in model.named_parameters():
        total = total + ((p - theta0[name]) ** 2).sum()
    return 0.5 * lam * total
"""

LAM = 0.3


def _check_q1(answer) -> None:
    import torch

    from itlib import bayes

    if not callable(answer):
        raise Wrong(f"pass your function itself, e.g. `check(my_l2_sp)` (got {type(answer).__name__}).")
    base = toy_model()
    theta0 = bayes.snapshot(base)
    at_start = answer(base, theta0, LAM)
    if not isinstance(at_start, torch.Tensor):
        raise Wrong("return a torch tensor computed from the parameters (so that backward() reaches them), "
                    f"not {type(at_start).__name__}.")
    if at_start.numel() != 1:
        raise Wrong(f"return one number (a scalar tensor), not a tensor of shape {tuple(at_start.shape)}: sum "
                    "over all parameters.")
    moved = _moved(base)
    value = answer(moved, theta0, LAM)
    at_start = at_start.detach()
    v = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
    expected = bayes.l2_sp(moved, theta0, LAM).detach()
    d2 = sum(float((p.detach() - theta0[n]).pow(2).sum()) for n, p in moved.named_parameters())
    norm2 = sum(float(p.detach().pow(2).sum()) for p in moved.parameters())
    if abs(float(at_start)) > 1e-6:
        if math.isclose(v, 0.5 * LAM * norm2, rel_tol=1e-4):
            raise Wrong("that is weight decay, the prior centred at 0: L2-SP measures the distance to the "
                        "pretrained weights, theta - theta0.")
        raise Wrong(f"at theta = theta0 L2-SP must be 0, yours gives {float(at_start):.4g}.")
    n = sum(p.numel() for p in moved.parameters())
    mistakes = [
        (LAM * d2, "the factor is lam / 2, not lam: the 1/2 makes the gradient exactly lam (theta - theta0)."),
        (0.5 * d2, "multiply by the strength lam (and the 1/2)."),
        (0.5 * LAM * math.sqrt(d2), "square the differences: the penalty is a squared distance, not a norm."),
        (0.5 * LAM * d2 / n, ("sum over the parameters, do not average: the log-prior is a sum over independent "
                              "Gaussians, one per parameter.")),
    ]
    if judge(v, float(expected), mistakes, same=near(0.0, 1e-4)):
        grad_p = next(moved.parameters())
        moved.zero_grad()
        answer(moved, theta0, LAM).backward()
        if grad_p.grad is None:
            raise Wrong("the value is right but no gradient reaches the parameters: do not detach "
                        "them or convert to floats.")
        return
    raise Wrong(f"for the moved toy model expected {float(expected):.6g}, got {v:.6g}.")


# typical wrong answers to q1 (tests/test_exercises.py runs each through the checker)


def _q1_weight_decay_instead(model, theta0, lam):
    return 0.5 * lam * sum((p ** 2).sum() for p in model.parameters())


def _q1_no_half(model, theta0, lam):
    return lam * sum(((p - theta0[n]) ** 2).sum() for n, p in model.named_parameters())


def _q1_norm_not_squared(model, theta0, lam):
    import torch

    return 0.5 * lam * torch.sqrt(sum(((p - theta0[n]) ** 2).sum() for n, p in model.named_parameters()))


def _q1_averaged(model, theta0, lam):
    import torch

    diffs = torch.cat([(p - theta0[n]).flatten() for n, p in model.named_parameters()])
    return 0.5 * lam * (diffs ** 2).mean()


def _q1_per_parameter(model, theta0, lam):
    import torch

    return torch.stack([0.5 * lam * ((p - theta0[n]) ** 2).sum() for n, p in model.named_parameters()])


def _q1_as_float(model, theta0, lam):
    return (0.5 * lam * sum(((p - theta0[n]) ** 2).sum() for n, p in model.named_parameters())).item()


q1 = Exercise(
    prompt=f"""
**Q1. L2-SP by hand.** Write `my_l2_sp(model, theta0, lam)` that returns
$\\frac{{\\lambda}}{{2}}\\sum_i (\\theta_i - \\theta_{{0,i}})^2$ as a scalar tensor, where `theta0` is a dict
`{{name: tensor}}` (as `itlib.bayes.snapshot(model)` returns) and the sum runs over
`model.named_parameters()`. Check it with `ex.q1.check(my_l2_sp)` (it is compared with `itlib.bayes.l2_sp`
on a small network, with λ = {LAM}).
""",
    checker=_check_q1,
    hints=[
        "Loop over `model.named_parameters()`; `theta0[name]` is the matching tensor.",
        "Keep it a tensor: `total = total + ((p - theta0[name]) ** 2).sum()`, then multiply by `0.5 * lam`.",
    ],
    solution=_Q1_SOLUTION,
    solution_value=lambda: run_solution(_Q1_SOLUTION, "my_l2_sp"),
    wrong_answers=[
        (lambda c: _q1_weight_decay_instead, "that is weight decay"),
        (lambda c: _q1_no_half, "lam / 2"),
        (lambda c: _q1_norm_not_squared, "square the differences"),
        (lambda c: _q1_averaged, "do not average"),
        (lambda c: _q1_per_parameter, "one number"),
        (lambda c: _q1_as_float, "return a torch tensor"),
        (lambda c: 0.5, "pass your function itself"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q2: from the strength lambda to the prior's standard deviation

Q2_LAMBDA = 0.01

_Q2_SOLUTION = f"""
import math

lam = {Q2_LAMBDA}
sigma = 1 / math.sqrt(lam)   # lam = 1 / sigma^2: the penalty is -log N(theta; mu, sigma^2) + const
"""


def _check_q2(answer) -> None:
    value = as_number(answer)
    mistakes = [
        (1 / Q2_LAMBDA, "that is the variance sigma^2 = 1/lam; the standard deviation is its square root."),
        (math.sqrt(Q2_LAMBDA), "upside down: a STRONGER prior (bigger lam) is a NARROWER Gaussian, sigma = 1/sqrt(lam)."),
        (Q2_LAMBDA, "lam is the precision 1/sigma^2, not sigma itself."),
        (2 / Q2_LAMBDA, "the 1/2 is already in the penalty (lam/2): sigma^2 = 1/lam."),
        (math.sqrt(2 / Q2_LAMBDA), "the 1/2 is already in the penalty (lam/2): sigma^2 = 1/lam."),
    ]
    if judge(value, 1 / math.sqrt(Q2_LAMBDA), mistakes, same=near(0.0, 1e-3)):
        return
    raise Wrong(f"you gave {value:g}; compare (lam/2)(theta - mu)^2 with (theta - mu)^2 / (2 sigma^2).")


q2 = Exercise(
    prompt=f"""
**Q2. How wide is the prior?** The penalty $\\frac{{\\lambda}}{{2}}\\sum_i(\\theta_i-\\mu_i)^2$ is the negative
log of a Gaussian prior $\\mathcal N(\\mu, \\sigma^2)$ on each weight, up to a constant. For λ = {Q2_LAMBDA}, what is
the prior's standard deviation σ? Answer with a number.
""",
    checker=_check_q2,
    hints=[
        ("Write out $-\\log \\mathcal N(\\theta;\\mu,\\sigma^2) = \\frac{(\\theta-\\mu)^2}{2\\sigma^2} + "
         "\\log(\\sigma\\sqrt{2\\pi})$ and match the factor in front of $(\\theta-\\mu)^2$."),
        "λ = 1/σ², so σ = 1/√λ.",
    ],
    solution=_Q2_SOLUTION,
    solution_value=lambda: run_solution(_Q2_SOLUTION, "sigma"),
    wrong_answers=[
        (lambda c: 100.0, "variance"),
        (lambda c: 0.1, "upside down"),
        (lambda c: 0.01, "precision"),
        (lambda c: 200.0, "already in the penalty"),
        (lambda c: "10", "expected a number"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q3: why the prior at 0 is so harsh under Adam

Q3 = {"theta": 0.2, "lam": 1e-3, "lr": 2e-3}

_Q3_SOLUTION = f"""
# the only gradient is the prior's: g = lam * theta. Adam's first (bias-corrected) step is
# lr * m_hat / (sqrt(v_hat) + eps) = lr * g / (|g| + eps), i.e. about lr whatever lam is.
theta, lam, lr, eps = {Q3['theta']}, {Q3['lam']}, {Q3['lr']}, 1e-8
g = lam * theta
step = lr * g / (abs(g) + eps)
"""


def _check_q3(answer) -> None:
    value = abs(as_number(answer))
    theta, lam, lr = Q3["theta"], Q3["lam"], Q3["lr"]
    g = lam * theta
    mistakes = [
        (lr * lam * theta, ("that is plain SGD's step lr * lam * theta (and AdamW's decoupled decay). Adam divides "
                            "the gradient by its own running size sqrt(v), so the first step is about lr.")),
        (lam * theta, "that is the gradient lam * theta; the question asks for the step Adam takes with it."),
        (lr * theta, "the sign of the gradient is all that survives Adam's first step: the step is lr, not lr * theta."),
        (lr * lam, "Adam's first step is lr * g / |g|: the size of g cancels out."),
    ]
    if judge(value, lr * g / (g + 1e-8), mistakes, same=near(0.0, 1e-3)):
        return
    raise Wrong(f"you gave {value:g}; with m_hat = g and v_hat = g^2 after one step, the step is "
                "lr * g / (sqrt(g^2) + eps).")


q3 = Exercise(
    prompt=f"""
**Q3. The prior at 0 under Adam.** A weight θ = {Q3['theta']} that the new tasks do not use gets no
gradient from the data, only from the prior at 0 with λ = {Q3['lam']}, so its gradient is λθ. How far does
Adam (lr = {Q3['lr']}, ε = 1e-8, bias-corrected) move it in the first step? Answer with a number (the size
of the step). Compare it with the SGD step lr·λ·θ: under Adam even a tiny λ is not small.
""",
    checker=_check_q3,
    hints=[
        "After one step Adam's bias-corrected moments are m̂ = g and v̂ = g²; the step is lr · m̂ / (√v̂ + ε).",
        "g / (|g| + ε) is almost exactly 1 when |g| ≫ ε: the step is about lr, however small λ is.",
    ],
    solution=_Q3_SOLUTION,
    solution_value=lambda: run_solution(_Q3_SOLUTION, "step"),
    wrong_answers=[
        (lambda c: 2e-3 * 1e-3 * 0.2, "plain SGD"),
        (lambda c: 1e-3 * 0.2, "the gradient"),
        (lambda c: 2e-3 * 1e-3, "size of g cancels"),
        (lambda c: 2e-3 * 0.2, "sign of the gradient"),
    ],
)
