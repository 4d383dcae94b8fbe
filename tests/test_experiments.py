"""itlib.experiments with tiny settings: the ablations change exactly one thing, and never leak."""

import pandas as pd
import pytest
import torch

from itlib import experiments as E
from itlib.pipeline import suite_data
from itlib.tasks import CLUSTERS, TASKS


@pytest.fixture(scope="module")
def splits():
    return suite_data(n_train_per_task=12, n_test_per_task=3, seed=0)


@pytest.fixture
def recorded_fit(monkeypatch):
    """Replace training by a recorder: which examples would each run have been trained on?"""
    from itlib.train import FitResult

    calls = []

    def fake_fit(model, tokenizer, examples=None, **kwargs):
        calls.append(list(examples))
        return FitResult(steps=1, tokens=1)

    monkeypatch.setattr(E, "fit", fake_fit)
    return calls


def test_heldout_loss_equals_the_transformers_loss(tokenizer, splits):
    """The hand-made held-out loss equals transformers' own loss with labels -100 outside the answer."""
    from itlib.formats import render
    from itlib.models import build_model

    model = build_model(tokenizer, "llama", "micro", seed=1)
    ex = splits["test_inputs"][0]
    r = render(ex, tokenizer, "prefix")
    ids = torch.tensor([r.input_ids])
    labels = ids.masked_fill(torch.tensor([r.loss_mask]) == 0, -100)
    with torch.no_grad():
        reference = model(input_ids=ids, labels=labels).loss.item()
    assert E.heldout_loss(model, tokenizer, [ex]) == pytest.approx(reference, rel=1e-5)
    # several examples: weighted by answer tokens, not averaged per example
    two = splits["test_inputs"][:2]
    lengths = [sum(render(e, tokenizer, "prefix").loss_mask) for e in two]
    per = [E.heldout_loss(model, tokenizer, [e]) for e in two]
    weighted = sum(p * n for p, n in zip(per, lengths)) / sum(lengths)
    assert E.heldout_loss(model, tokenizer, two) == pytest.approx(weighted, rel=1e-5)


def test_with_k_templates_uses_exactly_k_templates_per_task(splits):
    train = splits["train"]
    previous = None
    for k in (1, 3, 6):
        out = E.with_k_templates(train, k, seed=0)
        assert [(e.input, e.output, e.task) for e in out] == [(e.input, e.output, e.task) for e in train]
        used = {}
        for e in out:
            task = TASKS[e.task]
            assert e.instruction == task.all_templates()[e.template]
            assert e.instruction in task.train_templates()  # not held out
            assert e.instruction in task.templates  # English
            used.setdefault(e.task, set()).add(e.instruction)
        assert all(len(v) == k for v in used.values()), {t: len(v) for t, v in used.items()}
        if previous is not None:  # nested: k=3 keeps k=1's template, k=6 keeps k=3's
            assert all(previous[t] <= used[t] for t in used)
        previous = used
    with pytest.raises(ValueError, match="English training templates"):
        E.with_k_templates(train, 7)


def test_heldout_phrasings_score_every_heldout_template_on_the_same_inputs():
    test = E.heldout_phrasings(n_inputs=3, tasks=["reverse", "uppercase"])
    groups = {}
    for e in test:
        task = TASKS[e.task]
        assert e.instruction in task.heldout_templates() and e.instruction in task.templates
        groups.setdefault((e.task, e.template), []).append(e.input)
    assert len(groups) == 4  # 2 tasks x 2 held-out English templates
    for name in ("reverse", "uppercase"):
        inputs = [v for (t, _), v in groups.items() if t == name]
        assert inputs[0] == inputs[1] and len(inputs[0]) == 3
        assert len({TASKS[name].solve(x) for x in inputs[0]}) == 3  # three different inputs


def test_cluster_mix_has_a_fixed_budget_spread_over_the_clusters_tasks(splits):
    for clusters in (["reorder"], ["reorder", "label"], ["map", "select", "aggregate"]):
        mix = E.cluster_mix(splits["train"], clusters, 12)
        assert len(mix) == 12
        assert {e.cluster for e in mix} == set(clusters)
        counts = pd.Series([e.task for e in mix]).value_counts()
        assert counts.max() - counts.min() <= 1 and len(counts) == sum(len(CLUSTERS[c]) for c in clusters)


def test_cluster_ablation_never_trains_on_the_heldout_cluster(tokenizer, recorded_fit):
    from itlib.models import build_model

    model = build_model(tokenizer, "llama", "micro")
    df = E.cluster_ablation(model, tokenizer, heldout_cluster="select", n_clusters=(0, 1, 2, 5), n_train=20,
                            n_test_per_task=3)
    assert len(recorded_fit) == 3  # k = 0 is the untuned model: no training
    for train, k in zip(recorded_fit, (1, 2, 5)):
        assert len(train) == 20
        assert "select" not in {e.cluster for e in train}
        assert not {e.task for e in train} & set(CLUSTERS["select"])
        assert len({e.cluster for e in train}) == k
    assert list(df["n_clusters"]) == [0, 1, 2, 5] and list(df["n_train"]) == [0, 20, 20, 20]
    assert [c.split("+") for c in df["clusters"]][3] == E.cluster_order("select")
    assert df["heldout_loss"].nunique() == 1  # training was faked: every row scores the same model
    with pytest.raises(ValueError, match="held-out cluster"):
        E.cluster_ablation(model, tokenizer, heldout_cluster="select", order=["select", "map"],
                           n_clusters=(1,))
    with pytest.raises(ValueError, match="unknown cluster"):
        E.cluster_order("colours")


def test_template_ablation_trains_with_k_templates_and_scores_only_heldout(tokenizer, splits, recorded_fit):
    from itlib.models import build_model

    model = build_model(tokenizer, "llama", "micro")
    train = [e for e in splits["train"] if e.task in ("reverse", "max_digit")]
    df = E.template_ablation(model, tokenizer, train, ks=(1, 2), n_inputs=3)
    assert [len({e.instruction for e in run if e.task == "reverse"}) for run in recorded_fit] == [1, 2]
    assert set(df["k"]) == {1, 2} and set(df["task"]) == {"reverse", "max_digit"}
    for _, row in df.iterrows():
        task = TASKS[row["task"]]
        assert task.all_templates()[row["template"]] in task.templates[-task.n_heldout:]
    summary = E.spread(df)
    assert list(summary.index) == [1, 2]
    assert (summary["min"] <= summary["median"]).all() and (summary["median"] <= summary["max"]).all()


def test_size_sweep_same_steps_more_parameters(tokenizer, splits):
    train = splits["train"][:40]
    df = E.size_sweep(tokenizer, train, splits["test_inputs"][:8],
                      sizes=[{"hidden": 32, "layers": 1, "heads": 2, "ffn": 96}, "micro",
                             {"hidden": 96, "layers": 3}],
                      epochs=0.5)
    assert list(df["size"]) == ["h32-L1", "micro", "h96-L3"]
    assert df["params"].is_monotonic_increasing and df["params"].nunique() == 3
    assert df["steps"].nunique() == 1 and df["tokens"].nunique() == 1  # same data, same steps, same tokens
    assert df["exact_match"].between(0, 1).all() and (df["heldout_loss"] > 0).all()


def test_arch_compare_builds_each_architecture_at_about_the_same_size(tokenizer, splits):
    df = E.arch_compare(tokenizer, splits["train"][:24], splits["test_inputs"][:4], epochs=0.5)
    assert list(df["arch"]) == ["llama", "gpt2"]
    assert df["steps"].nunique() == 1
    ratio = df["params"].max() / df["params"].min()
    assert ratio < 1.1, df["params"].tolist()


def test_pretrain_mini_more_corpus_lower_corpus_loss(tokenizer):
    _m0, info0 = E.pretrain_mini(tokenizer, 0, size="micro")
    _m1, info1 = E.pretrain_mini(tokenizer, 300, size="micro")
    assert info0["pretrain_tokens"] == 0 and info1["pretrain_tokens"] > 5000
    assert info1["corpus_loss"] < info0["corpus_loss"] - 0.3, (info0, info1)
    uniform = torch.log(torch.tensor(float(len(tokenizer)))).item()  # an untrained model guesses ~uniformly
    assert info0["corpus_loss"] == pytest.approx(uniform, rel=0.05)
    with pytest.raises(ValueError, match="training documents"):
        E.pretrain_mini(tokenizer, 10**7, size="micro")


def test_few_examples_steps_to_epochs_gives_the_same_steps():
    assert E.steps_to_epochs(64, 100, 1024) * round(64 * 40 / 1024) == pytest.approx(100)


def test_pretrain_sweep_reuses_a_scratch_row_and_tunes_the_others(tokenizer, splits, recorded_fit):
    scratch = {"params": 1, "steps": 7, "tokens": 70, "seconds": 0.5, "exact_match": 0.25,
               "heldout_loss": 1.5}
    train, test = splits["train"][:8], splits["test_inputs"][:2]
    df = E.pretrain_sweep(tokenizer, train, test, doc_counts=(0,), size="micro", scratch=scratch)
    assert recorded_fit == []  # nothing trained: the scratch row was reused
    row = df.iloc[0]
    assert row["base"] == "none (scratch)" and row["steps"] == 7 and row["exact_match"] == 0.25
    df = E.pretrain_sweep(tokenizer, train, test, doc_counts=(0,), size="micro")
    assert len(recorded_fit) == 1 and len(recorded_fit[0]) == 8  # tuned on the given examples


def test_covering_sample_spreads_n_over_tasks_phrasings_and_difficulties():
    from collections import Counter

    pool = suite_data(n_train_per_task=80, n_test_per_task=3, seed=0)["train"]
    sample = E.covering_sample(pool, 256, seed=0)
    assert len({id(ex) for ex in sample}) == 256 and all(any(ex is p for p in pool) for ex in sample[:20])
    per_task = Counter(ex.task for ex in sample)
    assert set(per_task.values()) == {16}, per_task  # 16 tasks, 16 each
    for task in per_task:
        mine = [ex for ex in sample if ex.task == task]
        templates = Counter(ex.template for ex in mine)
        available = {ex.template for ex in pool if ex.task == task}
        assert set(templates) == available, task  # no training phrasing left out
        assert max(templates.values()) - min(templates.values()) <= 1, (task, templates)
        levels = Counter(ex.difficulty for ex in mine)
        assert max(levels.values()) - min(levels.values()) <= 2, (task, levels)
    assert [ex.input for ex in E.covering_sample(pool, 256, seed=0)] == [ex.input for ex in sample]
    assert [ex.input for ex in E.covering_sample(pool, 256, seed=1)] != [ex.input for ex in sample]
    assert len(E.covering_sample(pool, 10**6)) == len(pool)  # asks for more than there is: all of it


def test_covering_sample_covers_more_phrasings_than_a_random_draw():
    import random

    pool = suite_data(n_train_per_task=80, n_test_per_task=3, seed=0)["train"]
    def covered(sample):
        return len({(ex.task, ex.template) for ex in sample})
    randoms = [covered(random.Random(s).sample(pool, 128)) for s in range(5)]
    assert covered(E.covering_sample(pool, 128)) > max(randoms), randoms


def test_few_examples_rejects_an_unknown_sampling():
    with pytest.raises(ValueError, match="covering"):
        E.few_examples(ns=(16,), sample="stratified")
