"""Automatic metrics beyond exact match, and agreement between human raters.

Classification (one label per answer), per class c, from the confusion matrix C (rows = reference,
columns = prediction):

    TP_c = C[c, c]      FP_c = sum_r C[r, c] - TP_c      FN_c = sum_k C[c, k] - TP_c
    P_c = TP_c / (TP_c + FP_c)      R_c = TP_c / (TP_c + FN_c)      F1_c = 2 P_c R_c / (P_c + R_c)

with 0 where a denominator is 0 (a class never predicted has P = 0, as scikit-learn's
`zero_division=0`). Averages: macro = the plain mean over classes; weighted = the mean weighted by
each class's support (its number of references); micro = P, R, F1 of the summed TP, FP, FN.
With every predicted label among the classes, micro P = micro R = micro F1 = accuracy.

Cohen's kappa for two raters on the same items, with category weights w_ij (0 on the diagonal):

    kappa = 1 - sum_ij w_ij O_ij / sum_ij w_ij E_ij

O = the observed joint distribution of (rater A, rater B), E = the product of its margins (what two
raters would agree on by chance). Unweighted: w_ij = [i != j] (then kappa = (p_o - p_e) / (1 - p_e));
linear: |i - j|; quadratic: (i - j)^2 -- near misses on an ordinal scale count less. Same definitions
as `sklearn.metrics.precision_recall_fscore_support`, `confusion_matrix` and `cohen_kappa_score`
(tests/test_metrics.py checks them against scikit-learn).

Is a difference between two scores real? Two rates p and q, each measured on n independent examples,
differ by chance with standard error sqrt(p(1-p)/n + q(1-q)/n) (`two_se` gives twice that); per-example
scores a_i, b_i of two systems on the *same* examples give the paired d_i = a_i - b_i, with standard
error sd(d) / sqrt(n) (`paired_two_se`, usually much smaller). The notebooks call a difference real only
beyond two standard errors.

Exact match, tag P/R/F1 and the per-task / per-cluster scores live in `itlib.evaluate` and are
reused here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from itlib.evaluate import exact_match, normalise, tag_prf

AVERAGES = (None, "micro", "macro", "weighted")


def _labels(y_true: Sequence, y_pred: Sequence, labels: Sequence | None) -> list:
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_pred)} predictions for {len(y_true)} references")
    if labels is not None:
        labels = list(labels)
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels contain duplicates: {labels}")
        return labels
    seen = set(y_true) | set(y_pred)
    try:
        return sorted(seen)
    except TypeError:  # mixed types: a stable order all the same
        return sorted(seen, key=str)


def accuracy(y_true: Sequence, y_pred: Sequence) -> float:
    """Share of predictions equal to their reference (no whitespace normalisation: labels as given)."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_pred)} predictions for {len(y_true)} references")
    return sum(t == p for t, p in zip(y_true, y_pred)) / max(len(y_true), 1)


def confusion_matrix(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None) -> np.ndarray:
    """C[i, j] = number of items with reference labels[i] predicted as labels[j]. Items whose
    reference or prediction is not in `labels` are not counted (as in scikit-learn)."""
    labels = _labels(y_true, y_pred, labels)
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        if t in index and p in index:
            matrix[index[t], index[p]] += 1
    return matrix


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _f1(p, r):
    return _safe_div(2 * np.asarray(p) * np.asarray(r), np.asarray(p) + np.asarray(r))


def counts(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None) -> dict[str, np.ndarray]:
    """Per-class true positives, false positives, false negatives and support (in `labels` order).

    Counted label by label, so a prediction outside `labels` is a false negative of its reference
    class (the answer was not that class) and no class's false positive."""
    labels = _labels(y_true, y_pred, labels)
    tp, fp, fn, support = (np.zeros(len(labels), dtype=np.int64) for _ in range(4))
    for i, label in enumerate(labels):
        for t, p in zip(y_true, y_pred):
            tp[i] += t == label and p == label
            fp[i] += t != label and p == label
            fn[i] += t == label and p != label
            support[i] += t == label
    return {"labels": labels, "tp": tp, "fp": fp, "fn": fn, "support": support}


def precision_recall_f1(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None,
                        average: str | None = None) -> dict:
    """Precision, recall, F1 and support per class (`average=None`: arrays in `labels` order, plus
    "labels"), or averaged: "micro", "macro" or "weighted" (floats; support = the total)."""
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    c = counts(y_true, y_pred, labels)
    if average == "micro":
        tp, fp, fn = c["tp"].sum(), c["fp"].sum(), c["fn"].sum()
        p, r = float(_safe_div(tp, tp + fp)), float(_safe_div(tp, tp + fn))
        return {"precision": p, "recall": r, "f1": float(_f1(p, r)), "support": int(c["support"].sum())}
    p, r = _safe_div(c["tp"], c["tp"] + c["fp"]), _safe_div(c["tp"], c["tp"] + c["fn"])
    f1 = _f1(p, r)
    if average is None:
        return {"labels": c["labels"], "precision": p, "recall": r, "f1": f1, "support": c["support"]}
    weights = np.ones(len(p)) if average == "macro" else c["support"].astype(float)
    total = weights.sum()
    mean = (lambda x: float((x * weights).sum() / total)) if total else (lambda x: 0.0)
    return {"precision": mean(p), "recall": mean(r), "f1": mean(f1), "support": int(c["support"].sum())}


def class_report(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None) -> list[dict]:
    """One row per class (label, precision, recall, f1, support, predicted), then rows "micro avg",
    "macro avg" and "weighted avg", ready for `pandas.DataFrame(rows).set_index("label")`."""
    per = precision_recall_f1(y_true, y_pred, labels)
    c = counts(y_true, y_pred, per["labels"])
    rows = [{"label": str(label), "precision": float(per["precision"][i]), "recall": float(per["recall"][i]),
             "f1": float(per["f1"][i]), "support": int(per["support"][i]),
             "predicted": int(c["tp"][i] + c["fp"][i])} for i, label in enumerate(per["labels"])]
    for average in ("micro", "macro", "weighted"):
        avg = precision_recall_f1(y_true, y_pred, per["labels"], average)
        rows.append({"label": f"{average} avg", **avg, "predicted": sum(r["predicted"] for r in rows[:len(per["labels"])])})
    return rows


def answer_labels(preds: Sequence[str], allowed: Sequence[str], other: str = "(other)") -> list[str]:
    """Free-text answers as class labels: the whitespace-normalised answer when it is one of
    `allowed`, else `other` (an answer that is no valid label counts as wrong for every class)."""
    allowed = set(allowed)
    return [normalise(p) if normalise(p) in allowed else other for p in preds]


# ------------------------------------------------------------------------------------- grouped tables


def group_scores(examples, preds: Sequence[str], key: str = "task") -> list[dict]:
    """One row per group of `key` ("task", "cluster", "kind", "difficulty"): the group, its kind(s),
    n and exact match; classification groups add accuracy and macro F1 over their labels (an
    answer that is no label counts as "(other)"), labelling groups add micro tag P/R/F1."""
    from itlib.tasks import TASKS

    groups: dict = defaultdict(list)
    for ex, p in zip(examples, preds, strict=True):
        groups[getattr(ex, key)].append((ex, p))
    rows = []
    for name in sorted(groups, key=str):
        items = groups[name]
        refs, answers = [ex.output for ex, _ in items], [p for _, p in items]
        kinds = sorted({ex.kind for ex, _ in items})
        row = {key: name, "kind": "/".join(kinds), "n": len(items), "exact_match": exact_match(answers, refs)}
        if kinds == ["classification"]:
            allowed = sorted({lab for ex, _ in items if ex.task in TASKS for lab in TASKS[ex.task].labels}
                             | {normalise(r) for r in refs})
            pred_labels = answer_labels(answers, allowed)
            row["accuracy"] = accuracy([normalise(r) for r in refs], pred_labels)
            row["macro_f1"] = precision_recall_f1([normalise(r) for r in refs], pred_labels, allowed, "macro")["f1"]
        if kinds == ["labelling"]:
            prf = tag_prf(answers, refs)
            row.update(tag_precision=prf["precision"], tag_recall=prf["recall"], tag_f1=prf["f1"])
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------- rater agreement

KAPPA_WEIGHTS = (None, "linear", "quadratic")


def cohen_kappa(a: Sequence, b: Sequence, labels: Sequence | None = None, weights: str | None = None) -> float:
    """Cohen's kappa between two raters' labels `a` and `b` on the same items (see the module
    docstring). `weights` None, "linear" or "quadratic"; weighted kappa needs ordered categories:
    `labels` gives their order (default: sorted)."""
    if weights not in KAPPA_WEIGHTS:
        raise ValueError(f"weights must be one of {KAPPA_WEIGHTS}, got {weights!r}")
    if not len(a):
        raise ValueError("cohen_kappa needs at least one rated item")
    labels = _labels(a, b, labels)
    observed = confusion_matrix(a, b, labels).astype(float)
    if observed.sum() == 0:
        raise ValueError("no item has both ratings among the labels")
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    i, j = np.indices(observed.shape)
    w = {None: (i != j).astype(float), "linear": np.abs(i - j).astype(float),
         "quadratic": ((i - j) ** 2).astype(float)}[weights]
    chance = (w * expected).sum()
    if chance == 0:  # both raters used one and the same category throughout: agreement is not defined
        return float("nan")
    return float(1 - (w * observed).sum() / chance)


def two_se(p: float, q: float, n: int) -> float:
    """Two standard errors of p - q for two rates measured on n independent examples each:
    2 sqrt(p(1-p)/n + q(1-q)/n)."""
    from itlib.abtest import diff_se

    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    return 2 * float(diff_se(p, n, q, n))


def paired_two_se(a: Sequence[float], b: Sequence[float]) -> float:
    """Two standard errors of mean(a_i - b_i) for two systems scored on the same n examples:
    2 sd(d) / sqrt(n), d_i = a_i - b_i, sd with n - 1 in the denominator."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"need two equally long score lists of at least 2, got {len(a)} and {len(b)}")
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return 2 * float(d.std(ddof=1) / np.sqrt(len(d)))


def bootstrap_two_se(statistic, n: int, repeats: int = 1000, seed: int = 0) -> float:
    """Two standard errors of `statistic(idx)` by the bootstrap: `repeats` resamples of the n item
    indices with replacement, `statistic` evaluated on each (pass the same idx to every list, so that a
    difference of two statistics on the same items stays paired); resamples where it is undefined
    (nan) are skipped."""
    if n < 2:
        raise ValueError(f"need at least 2 items, got {n}")
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, size=n)) for _ in range(repeats)], dtype=float)
    values = values[np.isfinite(values)]
    return 2 * float(values.std(ddof=1))
