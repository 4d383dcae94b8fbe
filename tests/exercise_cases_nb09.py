"""Typical wrong answers to notebook 09's exercises."""

import math


def weight_decay_instead(model, theta0, lam):
    return 0.5 * lam * sum((p ** 2).sum() for p in model.parameters())


def no_half(model, theta0, lam):
    return lam * sum(((p - theta0[n]) ** 2).sum() for n, p in model.named_parameters())


def norm_not_squared(model, theta0, lam):
    import torch

    return 0.5 * lam * torch.sqrt(sum(((p - theta0[n]) ** 2).sum() for n, p in model.named_parameters()))


def averaged(model, theta0, lam):
    import torch

    diffs = torch.cat([(p - theta0[n]).flatten() for n, p in model.named_parameters()])
    return 0.5 * lam * (diffs ** 2).mean()


def per_parameter(model, theta0, lam):
    import torch

    return torch.stack([0.5 * lam * ((p - theta0[n]) ** 2).sum() for n, p in model.named_parameters()])


def as_float(model, theta0, lam):
    return (0.5 * lam * sum(((p - theta0[n]) ** 2).sum() for n, p in model.named_parameters())).item()


WRONG = {
    "nb09.q1": [
        (lambda c: weight_decay_instead, "that is weight decay"),
        (lambda c: no_half, "lam / 2"),
        (lambda c: norm_not_squared, "square the differences"),
        (lambda c: averaged, "do not average"),
        (lambda c: per_parameter, "one number"),
        (lambda c: as_float, "return a torch tensor"),
        (lambda c: 0.5, "pass your function itself"),
    ],
    "nb09.q2": [
        (lambda c: 100.0, "variance"),
        (lambda c: 0.1, "upside down"),
        (lambda c: 0.01, "precision"),
        (lambda c: 200.0, "already in the penalty"),
        (lambda c: "10", "expected a number"),
    ],
    "nb09.q3": [
        (lambda c: 2e-3 * 1e-3 * 0.2, "plain SGD"),
        (lambda c: 1e-3 * 0.2, "the gradient"),
        (lambda c: 2e-3 * 1e-3, "size of g cancels"),
        (lambda c: 2e-3 * 0.2, "sign of the gradient"),
    ],
}
assert math.isclose(2e-3 * 1e-3 * 0.2, 4e-7)
