import pytest
from sklearn.metrics import precision_recall_fscore_support

from itlib.data import Example
from itlib.evaluate import exact_match, exact_matches, generate, score, tag_prf
from itlib.models import build_model


def test_exact_match_normalises_whitespace_only():
    assert exact_match(["2 7 9", " 2  7 9 ", "2 7 8", "2 7 9 "], ["2 7 9"] * 4) == 0.75
    assert exact_matches(["2 7 9", " 2  7 9 ", "2 7 8", "2 7 9 "], ["2 7 9"] * 4) == [True, True, False, True]
    assert exact_match(["Yes"], ["yes"]) == 0.0
    with pytest.raises(ValueError):
        exact_match(["a"], ["a", "b"])


def test_tag_prf_macro_equals_sklearn_on_aligned_sequences():
    refs = ["NUM COL ANI", "COL COL", "ANI NUM NUM NUM"]
    preds = ["NUM ANI ANI", "COL NUM", "ANI NUM COL NUM"]
    ours = tag_prf(preds, refs, average="macro")
    y_true = [t for r in refs for t in r.split()]
    y_pred = [t for p in preds for t in p.split()]
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    assert ours == pytest.approx({"precision": p, "recall": r, "f1": f})
    micro = tag_prf(preds, refs)
    pm, rm, fm, _ = precision_recall_fscore_support(y_true, y_pred, average="micro")
    assert micro == pytest.approx({"precision": pm, "recall": rm, "f1": fm})


def test_tag_prf_counts_extra_and_missing_tags():
    m = tag_prf(["E O E E"], ["E O"])  # two extra tags
    assert m["precision"] == 0.5 and m["recall"] == 1.0
    m = tag_prf(["E"], ["E O"])  # one missing tag
    assert m["precision"] == 1.0 and m["recall"] == 0.5


def test_score_groups_by_task_kind_and_difficulty():
    exs = [Example("i", "1 2", "yes", task="a", cluster="c1", kind="classification", difficulty=1),
           Example("i", "1 2", "no", task="a", cluster="c1", kind="classification", difficulty=2),
           Example("i", "1 2", "E E", task="b", cluster="c2", kind="labelling", difficulty=1)]
    rep = score(exs, ["yes", "yes", "E O"])
    assert rep["exact_match"] == pytest.approx(1 / 3)
    assert rep["per_task"] == {"a": 0.5, "b": 0.0}
    assert rep["per_difficulty"] == {"1": 0.5, "2": 0.0}
    assert rep["accuracy"] == 0.5
    assert rep["labelling"]["precision"] == 0.5


def test_batched_generation_equals_one_by_one(tokenizer):
    model = build_model(tokenizer, size="micro", seed=2)
    exs = [Example("Reverse the list.", " ".join("1234567"[:n]), "x") for n in range(1, 8)]
    batched = generate(model, tokenizer, exs, batch_size=8, max_new_tokens=6)
    single = [generate(model, tokenizer, [ex], batch_size=1, max_new_tokens=6)[0] for ex in exs]
    assert batched == single
