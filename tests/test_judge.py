"""The miniature LLM-as-judge (itlib.judge) and the bootstrap standard error it is judged with."""

import numpy as np
import pytest
import torch

from itlib import judge
from itlib.metrics import bootstrap_two_se, cohen_kappa
from itlib.rating import RatingItem


@pytest.fixture(scope="module")
def base():
    import itlib

    return itlib.load_base()


ITEMS = [RatingItem(f"i{k}", "Reverse the list.", "4 1 8", answer, "8 1 4", "reverse")
         for k, answer in enumerate(["8 1 4", "8 1 4.", "4 1 8", "8 4 1", ""])]


def test_rubric_scores_the_simulated_quality_levels():
    assert [judge.rubric_score(it.answer, it.reference) for it in ITEMS] == [5, 4, 3, 3, 1]
    assert judge.rubric_score("8 7", "8 1 4") == 2


def test_to_scale_keeps_the_order_and_the_human_distribution():
    human = [1, 2, 2, 5, 4]
    out = judge.to_scale([0.3, -1.0, 0.9, 0.1, 2.0], human)
    assert sorted(out) == sorted(human)
    assert out == [2, 1, 4, 2, 5]
    with pytest.raises(ValueError):
        judge.to_scale([1.0], [1, 2])


def test_likelihood_scores_sum_is_mean_times_length(base):
    model, tok = base
    mean = judge.likelihood_scores(model, tok, ITEMS, per_token=True)
    total = judge.likelihood_scores(model, tok, ITEMS, per_token=False)
    lengths = [len(tok.encode(it.answer, add_special_tokens=False)) + 1 for it in ITEMS]
    assert all(t < 0 for t in total)
    np.testing.assert_allclose(np.array(mean) * lengths, total, rtol=1e-5)


def test_position_bias_of_a_judge_that_always_says_one(base, monkeypatch):
    model, tok = base
    monkeypatch.setattr(judge, "pairwise_prefers_first", lambda m, t, pairs, fmt="prefix": [True] * len(pairs))
    out = judge.position_bias(model, tok, ITEMS[1:], ["8 1 4"] * 4, [it.answer for it in ITEMS[1:]])
    assert out == {"first_slot": 1.0, "consistent": 0.0, "accuracy": 0.5, "n_pairs": 4}


def test_pairwise_judge_runs_on_the_base(base):
    model, tok = base
    out = judge.position_bias(model, tok, ITEMS[1:], ["8 1 4"] * 4, [it.answer for it in ITEMS[1:]])
    assert 0 <= out["first_slot"] <= 1 and 0 <= out["consistent"] <= 1 and out["n_pairs"] == 4


def test_bootstrap_two_se_of_a_mean_matches_the_formula():
    x = np.random.default_rng(0).normal(size=400)
    se = bootstrap_two_se(lambda i: x[i].mean(), len(x), repeats=2000, seed=1)
    assert se == pytest.approx(2 * x.std(ddof=1) / np.sqrt(len(x)), rel=0.1)
    a = [1, 2, 3, 4, 5] * 8
    assert bootstrap_two_se(lambda i: cohen_kappa([a[k] for k in i], [a[k] for k in i]), len(a)) == 0.0


def test_local_llama_attends_only_inside_its_window():
    import itlib
    from itlib.models import build_model, n_params

    _, tok = itlib.load_base()
    dense = build_model(tok, "llama", "micro", seed=3)
    local = build_model(tok, "llama-local", "micro", seed=3, window=4).eval()
    assert n_params(dense) == n_params(local)
    assert all(torch.equal(p, q) for p, q in zip(dense.parameters(), local.parameters()))  # only the mask differs
    ids = torch.randint(5, 300, (1, 16))
    reach = local.config.num_hidden_layers * (4 - 1)
    far, near = ids.clone(), ids.clone()
    far[0, 15 - reach - 1] += 1   # just outside what the last position can see
    near[0, 15 - reach] += 1      # just inside
    with torch.no_grad():
        last = [local(input_ids=x).logits[0, -1] for x in (ids, far, near)]
    assert torch.equal(last[0], last[1]) and not torch.equal(last[0], last[2])
    with pytest.raises(ValueError):
        build_model(tok, "llama-local", "micro", window=0)
