"""itlib.metrics against scikit-learn on random inputs and on the edge cases."""

import random
import warnings

import numpy as np
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    precision_recall_fscore_support,
)
from sklearn.metrics import confusion_matrix as sk_confusion

from itlib.data import Example
from itlib.metrics import (
    accuracy,
    answer_labels,
    class_report,
    cohen_kappa,
    confusion_matrix,
    counts,
    group_scores,
    precision_recall_f1,
)


def sk_prf(y_true, y_pred, labels=None, average=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average, zero_division=0)


def random_case(rng: random.Random):
    classes = ["a", "b", "c", "d"][: rng.randint(2, 4)]
    n = rng.randint(1, 30)
    y_true = [rng.choice(classes) for _ in range(n)]
    y_pred = [rng.choice(classes + ["zzz"]) if rng.random() < 0.5 else t for t in y_true]
    return y_true, y_pred, classes


@pytest.mark.parametrize("seed", range(40))
def test_precision_recall_f1_equal_sklearn_on_random_inputs(seed):
    rng = random.Random(seed)
    y_true, y_pred, classes = random_case(rng)
    for labels in (None, classes):
        mine = precision_recall_f1(y_true, y_pred, labels)
        p, r, f, s = sk_prf(y_true, y_pred, labels)
        np.testing.assert_allclose(mine["precision"], p)
        np.testing.assert_allclose(mine["recall"], r)
        np.testing.assert_allclose(mine["f1"], f)
        np.testing.assert_array_equal(mine["support"], s)
        for average in ("micro", "macro", "weighted"):
            mine = precision_recall_f1(y_true, y_pred, labels, average)
            p, r, f, _ = sk_prf(y_true, y_pred, labels, average)
            assert mine["precision"] == pytest.approx(p) and mine["recall"] == pytest.approx(r)
            assert mine["f1"] == pytest.approx(f), (average, labels)


@pytest.mark.parametrize("seed", range(10))
def test_confusion_and_accuracy_equal_sklearn(seed):
    y_true, y_pred, classes = random_case(random.Random(seed))
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred), sk_confusion(y_true, y_pred))
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, classes),
                                  sk_confusion(y_true, y_pred, labels=classes))
    assert accuracy(y_true, y_pred) == pytest.approx(accuracy_score(y_true, y_pred))


def test_no_predicted_positives_gives_zero_precision_not_an_error():
    y_true, y_pred = ["yes", "yes", "no", "no"], ["no", "no", "no", "no"]
    mine = precision_recall_f1(y_true, y_pred, ["yes", "no"])
    p, _r, _f, _ = sk_prf(y_true, y_pred, ["yes", "no"])
    np.testing.assert_allclose(mine["precision"], p)
    assert mine["precision"][0] == 0 and mine["recall"][0] == 0 and mine["f1"][0] == 0
    assert mine["recall"][1] == 1.0 and mine["precision"][1] == 0.5
    # accuracy hides the degenerate classifier, macro F1 shows it
    assert accuracy(y_true, y_pred) == 0.5
    assert precision_recall_f1(y_true, y_pred, ["yes", "no"], "macro")["f1"] == pytest.approx(1 / 3)


def test_a_class_absent_everywhere_and_all_wrong_predictions():
    # "c" never occurs: P = R = F1 = 0 for it, as sklearn with zero_division=0
    mine = precision_recall_f1(["a", "b"], ["a", "a"], ["a", "b", "c"], "macro")
    p, r, f, _ = sk_prf(["a", "b"], ["a", "a"], ["a", "b", "c"], "macro")
    assert (mine["precision"], mine["recall"], mine["f1"]) == pytest.approx((p, r, f))
    nothing = precision_recall_f1(["a", "b"], ["x", "x"], ["a", "b"], "micro")
    assert nothing == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}


def test_micro_f1_equals_accuracy_when_every_prediction_is_a_class():
    rng = random.Random(3)
    y_true = [rng.choice("abc") for _ in range(50)]
    y_pred = [rng.choice("abc") for _ in range(50)]
    micro = precision_recall_f1(y_true, y_pred, average="micro")
    assert micro["precision"] == micro["recall"] == pytest.approx(micro["f1"]) == pytest.approx(accuracy(y_true, y_pred))


def test_counts_treat_an_invalid_answer_as_a_miss_of_its_class():
    c = counts(["a", "b"], ["(other)", "b"], ["a", "b"])
    assert c["fn"].tolist() == [1, 0] and c["fp"].tolist() == [0, 0] and c["tp"].tolist() == [0, 1]


def test_bad_inputs_are_reported():
    with pytest.raises(ValueError, match="2 predictions for 3 references"):
        precision_recall_f1(["a", "b", "c"], ["a", "b"])
    with pytest.raises(ValueError, match="average must be"):
        precision_recall_f1(["a"], ["a"], average="binary")
    with pytest.raises(ValueError, match="duplicates"):
        confusion_matrix(["a"], ["a"], ["a", "a"])


def test_class_report_rows_and_answer_labels():
    preds = answer_labels([" yes", "no ", "maybe", "yes"], ["yes", "no"])
    assert preds == ["yes", "no", "(other)", "yes"]
    rows = class_report(["yes", "no", "no", "no"], preds, ["yes", "no"])
    assert [r["label"] for r in rows] == ["yes", "no", "micro avg", "macro avg", "weighted avg"]
    assert rows[0]["predicted"] == 2 and rows[1]["predicted"] == 1
    assert rows[0]["precision"] == 0.5 and rows[1]["recall"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_equals_sklearn(seed, weights):
    rng = random.Random(seed)
    n = rng.randint(2, 40)
    a = [rng.randint(1, 5) for _ in range(n)]
    b = [min(5, max(1, x + rng.choice([-1, 0, 0, 1]))) if rng.random() < 0.8 else rng.randint(1, 5) for x in a]
    if len(set(a)) == 1 and len(set(b)) == 1:
        return
    expected = cohen_kappa_score(a, b, weights=weights)
    assert cohen_kappa(a, b, weights=weights) == pytest.approx(expected)
    assert cohen_kappa(a, b, labels=[1, 2, 3, 4, 5], weights=weights) == pytest.approx(
        cohen_kappa_score(a, b, labels=[1, 2, 3, 4, 5], weights=weights))


def test_kappa_extremes_and_errors():
    assert cohen_kappa([1, 2, 3], [1, 2, 3]) == 1.0
    assert cohen_kappa(["x", "y"], ["y", "x"]) == pytest.approx(cohen_kappa_score(["x", "y"], ["y", "x"]))
    assert np.isnan(cohen_kappa([2, 2], [2, 2]))  # one category only: agreement beyond chance undefined
    with pytest.raises(ValueError, match="weights must be"):
        cohen_kappa([1], [1], weights="cubic")
    with pytest.raises(ValueError, match="at least one"):
        cohen_kappa([], [])


def test_group_scores_per_cluster():
    exs = [Example("i", "good bad good", "positive", task="sentiment", cluster="classify", kind="classification"),
           Example("i", "bad sad good", "negative", task="sentiment", cluster="classify", kind="classification"),
           Example("i", "1 red", "NUM COL", task="word_type", cluster="label", kind="labelling"),
           Example("i", "3 1", "1 3", task="sort_ascending", cluster="reorder", kind="generation")]
    preds = ["positive", "positive", "NUM ANI", "1 3"]
    rows = {r["cluster"]: r for r in group_scores(exs, preds, "cluster")}
    assert rows["classify"]["exact_match"] == 0.5 and rows["classify"]["accuracy"] == 0.5
    assert rows["classify"]["macro_f1"] == pytest.approx(1 / 3)
    assert rows["label"]["tag_f1"] == 0.5 and rows["label"]["exact_match"] == 0.0
    assert rows["reorder"]["exact_match"] == 1.0 and "accuracy" not in rows["reorder"]


def test_two_se_is_the_binomial_formula_and_paired_se_is_scipy_sem():
    from scipy.stats import sem

    from itlib.metrics import paired_two_se, two_se

    assert two_se(0.5, 0.5, 100) == pytest.approx(2 * (0.25 / 100 + 0.25 / 100) ** 0.5)
    assert two_se(1.0, 0.0, 10) == 0.0
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
    assert paired_two_se(a, b) == pytest.approx(2 * sem(a - b))
    assert paired_two_se(a, a) == 0.0  # the same system: no difference at all
    with pytest.raises(ValueError):
        paired_two_se([1, 0], [1])
    with pytest.raises(ValueError):
        two_se(0.5, 0.5, 0)
