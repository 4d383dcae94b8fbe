"""The A/B test maths: intervals cover the truth ~95 % of the time, the sample-size formula gives
the power it promises, and the simulated users behave as specified."""

import math

import numpy as np
import pytest

from itlib.abtest import (
    diff_interval,
    interval_coverage,
    power,
    sample_size,
    satisfaction_rate,
    simulate_ab,
    simulated_power,
    wilson_interval,
    z_test,
    z_value,
)


def test_z_value():
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-5)
    assert z_value(0.9) == pytest.approx(1.644854, abs=1e-5)


def test_wilson_interval_known_values_and_reference():
    # Wilson's interval for 81 of 263 (Newcombe 1998, table I example): 0.2553 .. 0.3662
    low, high = wilson_interval(81, 263)
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    low, high = wilson_interval(0, 10)  # stays inside [0, 1], unlike the Wald interval
    assert low == pytest.approx(0, abs=1e-12) and 0 < high < 0.35
    # by definition the Wilson limits are the p where the score test is just significant:
    # (p_hat - p)^2 = z^2 p (1 - p) / n
    z = z_value(0.95)
    for k, n in ((3, 17), (50, 100), (99, 100)):
        for p in wilson_interval(k, n):
            assert (k / n - p) ** 2 == pytest.approx(z * z * p * (1 - p) / n, abs=1e-12)


def test_newcombe_difference_known_value():
    # Newcombe (1998), method 10, example 56/70 vs 48/80: 0.0524 .. 0.3339 for p1 - p2
    d, low, high = diff_interval(48, 80, 56, 70, method="newcombe")
    assert d == pytest.approx(0.2) and (low, high) == pytest.approx((0.0524, 0.3339), abs=1e-4)


def test_wald_difference_by_hand():
    d, low, high = diff_interval(40, 100, 55, 100)
    se = math.sqrt(0.4 * 0.6 / 100 + 0.55 * 0.45 / 100)
    assert d == pytest.approx(0.15) and (low, high) == pytest.approx((0.15 - 1.959964 * se, 0.15 + 1.959964 * se))


@pytest.mark.parametrize("method", ["wald", "newcombe"])
@pytest.mark.parametrize("p_a,p_b,n", [(0.5, 0.55, 400), (0.3, 0.4, 200), (0.7, 0.72, 2000)])
def test_interval_covers_the_true_difference_about_95_percent(p_a, p_b, n, method):
    cov = interval_coverage(p_a, p_b, n, repeats=4000, seed=1, method=method)
    assert 0.935 <= cov <= 0.965, cov  # 4000 repeats: standard error of the share ~0.0035


def test_sample_size_formula_gives_the_promised_power_by_simulation():
    for p_a, p_b in ((0.5, 0.6), (0.62, 0.66)):
        n = sample_size(p_a, p_b, alpha=0.05, power=0.8)
        assert power(p_a, p_b, n) >= 0.8 > power(p_a, p_b, n - 1)  # the smallest n with 80 % power
        assert simulated_power(p_a, p_b, n, repeats=4000, seed=2) == pytest.approx(0.8, abs=0.03)
        assert simulated_power(p_a, p_b, n // 4, repeats=4000, seed=2) < 0.4  # a quarter of the users: far less


def test_sample_size_known_value_and_scaling():
    # the textbook case p 0.5 vs 0.6, alpha 0.05, power 0.8: 385-388 per arm depending on the variant
    assert 380 <= sample_size(0.5, 0.6) <= 390
    assert sample_size(0.5, 0.55) == pytest.approx(4 * sample_size(0.5, 0.6), rel=0.05)  # half the effect: 4x n
    with pytest.raises(ValueError, match="difference of zero"):
        sample_size(0.5, 0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        sample_size(0.0, 0.5)


def test_false_positive_rate_is_alpha():
    assert simulated_power(0.6, 0.6, 500, alpha=0.05, repeats=4000, seed=3) == pytest.approx(0.05, abs=0.012)


def test_z_test_against_the_formula_and_scipy():
    from scipy.stats import norm

    z, p = z_test(40, 100, 55, 100)
    pooled = 95 / 200
    assert z == pytest.approx(0.15 / math.sqrt(pooled * (1 - pooled) * 2 / 100))
    assert p == pytest.approx(2 * norm.sf(abs(z)))  # two-sided p-value of the pooled z statistic
    with pytest.raises(ValueError, match="between 0 and n"):
        z_test(5, 4, 1, 2)


def test_simulated_users_match_the_true_rates():
    rng = np.random.default_rng(0)
    correct_a, correct_b = rng.random(300) < 0.6, rng.random(300) < 0.8
    ab = simulate_ab(correct_a, correct_b, n_users=40000, seed=1)
    k_a, n_a, k_b, n_b = ab.counts
    assert n_a + n_b == 40000 and abs(n_a - n_b) < 1000
    assert k_a / n_a == pytest.approx(satisfaction_rate(correct_a), abs=0.01)
    assert k_b / n_b == pytest.approx(satisfaction_rate(correct_b), abs=0.01)
    assert satisfaction_rate([True, False]) == pytest.approx(0.2 + 0.7 * 0.5)
    run = ab.running(every=1000)
    assert len(run["users"]) == 40 and np.all(run["high"] - run["low"] > 0)
    assert (run["high"][-1] - run["low"][-1]) < (run["high"][0] - run["low"][0]) / 5  # narrows like 1/sqrt(n)
    with pytest.raises(ValueError, match="equally long"):
        simulate_ab([True], [True, False], 10)
