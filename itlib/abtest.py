"""Online evaluation, simulated: an A/B test between two model versions.

Users arrive one by one; each is served version A or B at random and gives a thumbs-up or not.
With k_A of n_A users happy on A (rate p̂_A = k_A / n_A) and likewise for B, the difference
d̂ = p̂_B - p̂_A has standard error

    SE = sqrt(p̂_A (1 - p̂_A) / n_A + p̂_B (1 - p̂_B) / n_B)

and the two-proportion z-interval (Wald) is d̂ ± z SE, z = Φ⁻¹(1 - α/2) (1.96 for 95 %).
`method="newcombe"` gives Newcombe's interval built from the two Wilson intervals
(better for small n or rates near 0 or 1). The Wilson interval of one proportion:

    (p̂ + z²/2n ± z sqrt(p̂(1 - p̂)/n + z²/4n²)) / (1 + z²/n)

Users needed per arm to detect a true difference p_B - p_A with a two-sided test at level α and
power 1 - β (the pooled z-test; p̄ = (p_A + p_B) / 2):

    n = ( z_{1-α/2} sqrt(2 p̄ (1 - p̄)) + z_{1-β} sqrt(p_A (1 - p_A) + p_B (1 - p_B)) )² / (p_B - p_A)²

`simulated_power` and `interval_coverage` check these formulas by repeating the experiment many times.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

_N = NormalDist()


def z_value(level: float = 0.95) -> float:
    """The two-sided critical value: Φ⁻¹(1 - (1 - level) / 2), 1.96 for level 0.95."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    return _N.inv_cdf(1 - (1 - level) / 2)


def _check_counts(k, n, name: str = "") -> None:
    k_arr, n_arr = np.asarray(k), np.asarray(n)
    if np.any(n_arr <= 0):
        raise ValueError(f"{name}n must be positive, got {n}")
    if np.any(k_arr < 0) or np.any(k_arr > n_arr):
        raise ValueError(f"{name}k must be between 0 and n, got k={k}, n={n}")


def wilson_interval(k, n, level: float = 0.95) -> tuple:
    """Wilson score interval of a proportion k / n (works elementwise on numpy arrays)."""
    _check_counts(k, n)
    z = z_value(level)
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = centre - half, centre + half
    return (float(low), float(high)) if low.ndim == 0 else (low, high)


def diff_se(p_a, n_a, p_b, n_b):
    """SE = sqrt(p_A (1 - p_A) / n_A + p_B (1 - p_B) / n_B): the standard error of p_B - p_A for two
    independent rates (elementwise on arrays)."""
    return np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)


def diff_interval(k_a, n_a, k_b, n_b, level: float = 0.95, method: str = "wald") -> tuple:
    """(d̂, low, high): the difference p̂_B - p̂_A and its confidence interval, "wald" (the
    two-proportion z-interval) or "newcombe" (from Wilson intervals). Elementwise on arrays."""
    _check_counts(k_a, n_a, "A: ")
    _check_counts(k_b, n_b, "B: ")
    k_a, n_a, k_b, n_b = (np.asarray(x, dtype=float) for x in (k_a, n_a, k_b, n_b))
    pa, pb = k_a / n_a, k_b / n_b
    d = pb - pa
    if method == "wald":
        half = z_value(level) * diff_se(pa, n_a, pb, n_b)
        low, high = d - half, d + half
    elif method == "newcombe":
        la, ua = wilson_interval(k_a, n_a, level)
        lb, ub = wilson_interval(k_b, n_b, level)
        low = d - np.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
        high = d + np.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    else:
        raise ValueError(f"method must be 'wald' or 'newcombe', got {method!r}")
    if d.ndim == 0:
        return float(d), float(low), float(high)
    return d, low, high


def z_test(k_a, n_a, k_b, n_b) -> tuple:
    """(z, two-sided p-value) of the pooled two-proportion z-test of p_A = p_B (elementwise)."""
    _check_counts(k_a, n_a, "A: ")
    _check_counts(k_b, n_b, "B: ")
    k_a, n_a, k_b, n_b = (np.asarray(x, dtype=float) for x in (k_a, n_a, k_b, n_b))
    pooled = (k_a + k_b) / (n_a + n_b)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    d = k_b / n_b - k_a / n_a
    z = np.divide(d, se, out=np.zeros_like(d), where=se > 0)
    p = 2 * (1 - np.vectorize(_N.cdf)(np.abs(z)))
    return (float(z), float(p)) if z.ndim == 0 else (z, p)


def sample_size(p_a: float, p_b: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Users per arm for the pooled two-sided z-test at level `alpha` to detect p_B - p_A with
    probability `power` (the formula in the module docstring, rounded up)."""
    for name, p in (("p_a", p_a), ("p_b", p_b)):
        if not 0 < p < 1:
            raise ValueError(f"{name} must be strictly between 0 and 1, got {p}")
    if p_a == p_b:
        raise ValueError("p_a == p_b: no sample size detects a difference of zero")
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise ValueError(f"alpha and power must be between 0 and 1, got {alpha}, {power}")
    za, zb = z_value(1 - alpha), _N.inv_cdf(power)
    bar = (p_a + p_b) / 2
    num = za * math.sqrt(2 * bar * (1 - bar)) + zb * math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b))
    return math.ceil(num ** 2 / (p_b - p_a) ** 2)


def power(p_a: float, p_b: float, n: int, alpha: float = 0.05) -> float:
    """The formula's power with `n` users per arm (its inverse is `sample_size`)."""
    za = z_value(1 - alpha)
    bar = (p_a + p_b) / 2
    spread = math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b))
    return _N.cdf((abs(p_b - p_a) * math.sqrt(n) - za * math.sqrt(2 * bar * (1 - bar))) / spread)


def _repeat(p_a: float, p_b: float, n: int, repeats: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.binomial(n, p_a, size=repeats), rng.binomial(n, p_b, size=repeats)


def simulated_power(p_a: float, p_b: float, n: int, alpha: float = 0.05, repeats: int = 2000,
                    seed: int = 0) -> float:
    """Share of `repeats` simulated A/B tests (n users per arm, true rates p_a, p_b) in which the
    pooled z-test rejects p_A = p_B at level `alpha`."""
    k_a, k_b = _repeat(p_a, p_b, n, repeats, seed)
    _, p = z_test(k_a, n, k_b, n)
    return float(np.mean(p < alpha))


def interval_coverage(p_a: float, p_b: float, n: int, level: float = 0.95, repeats: int = 2000, seed: int = 0,
             method: str = "wald") -> float:
    """Share of `repeats` simulated A/B tests whose interval for p_B - p_A covers the true difference."""
    k_a, k_b = _repeat(p_a, p_b, n, repeats, seed)
    _, low, high = diff_interval(k_a, n, k_b, n, level, method)
    truth = p_b - p_a
    return float(np.mean((low <= truth) & (truth <= high)))


# ------------------------------------------------------------------------------------- simulated users

THUMBS_UP = {True: 0.9, False: 0.2}  # P(thumbs-up | the answer is right / wrong)


def satisfaction_rate(correct: Sequence[bool], thumbs_up: dict = THUMBS_UP) -> float:
    """The true thumbs-up rate of a model whose answers to the request pool are `correct`, when
    users ask uniformly from the pool: P(up | wrong) + (P(up | right) - P(up | wrong)) · accuracy."""
    acc = float(np.mean(np.asarray(correct, dtype=bool)))
    return thumbs_up[False] + (thumbs_up[True] - thumbs_up[False]) * acc


@dataclass
class ABResult:
    """One simulated A/B test: per user the arm (0 = A, 1 = B), the request asked and the thumbs-up."""

    arm: np.ndarray
    request: np.ndarray
    up: np.ndarray

    @property
    def counts(self) -> tuple[int, int, int, int]:
        """(k_A, n_A, k_B, n_B)."""
        a, b = self.arm == 0, self.arm == 1
        return int(self.up[a].sum()), int(a.sum()), int(self.up[b].sum()), int(b.sum())

    def interval(self, level: float = 0.95, method: str = "wald") -> tuple[float, float, float]:
        return diff_interval(*self.counts, level=level, method=method)

    def running(self, level: float = 0.95, every: int = 50) -> dict[str, np.ndarray]:
        """The estimate and interval as users arrive: after every `every` users (arms still empty
        count as one user without a thumbs-up, so the first points are wide, not undefined)."""
        ns = np.arange(every, len(self.arm) + 1, every)
        is_b = self.arm == 1
        n_b, k_b = np.cumsum(is_b)[ns - 1], np.cumsum(self.up & is_b)[ns - 1]
        n_a, k_a = ns - n_b, np.cumsum(self.up & ~is_b)[ns - 1]
        d, low, high = diff_interval(k_a, np.maximum(n_a, 1), k_b, np.maximum(n_b, 1), level=level)
        return {"users": ns, "diff": np.atleast_1d(d), "low": np.atleast_1d(low), "high": np.atleast_1d(high)}


def simulate_ab(correct_a: Sequence[bool], correct_b: Sequence[bool], n_users: int, seed: int = 0,
                thumbs_up: dict = THUMBS_UP) -> ABResult:
    """`n_users` simulated users: each asks a random request from the pool, is served version A or
    B with probability 1/2, and gives a thumbs-up with probability thumbs_up[answer is right].
    `correct_a[i]` / `correct_b[i]`: whether version A / B answers request i right."""
    correct_a, correct_b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if correct_a.shape != correct_b.shape or correct_a.ndim != 1 or not len(correct_a):
        raise ValueError("correct_a and correct_b must be equally long, non-empty sequences of booleans")
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, size=n_users)
    request = rng.integers(0, len(correct_a), size=n_users)
    right = np.where(arm == 0, correct_a[request], correct_b[request])
    p_up = np.where(right, thumbs_up[True], thumbs_up[False])
    return ABResult(arm=arm, request=request, up=rng.random(n_users) < p_up)
