"""Exercises for notebook 10: counting parameters, compute-matched comparisons, and T0's unit of
analysis (the prompt, not the example)."""

from __future__ import annotations

import math
import statistics

from itlib.exercises.core import Exercise, Wrong, as_number, judge, near, run_solution

# ---------------------------------------------------------------------------------------------
# q1: parameters of a Llama-style model, by formula

VOCAB = 1024
SHAPE = {"hidden": 48, "layers": 3, "heads": 4, "ffn": 144}


def _count(v: int, h: int, layers: int, f: int) -> dict[str, int]:
    """The right count and the counts that typical mistakes give."""
    embed = v * h
    attention = 4 * h * h  # q, k, v, o (as many key/value heads as heads, no biases)
    mlp = 3 * h * f  # SwiGLU: gate, up and down projections
    norms = 2 * h  # two RMSNorm weight vectors per layer
    right = embed + layers * (attention + mlp + norms) + h  # + the final RMSNorm
    return {
        "right": right,
        "untied": right + embed,
        "gpt_mlp": right - layers * h * f,
        "no_norms": right - layers * norms - h,
        "no_embedding": right - embed,
        "one_layer": embed + attention + mlp + norms + h,
    }


_Q1_SOLUTION = """
from itlib.exercises.nb10 import SHAPE, VOCAB

V, h, L, f = VOCAB, SHAPE["hidden"], SHAPE["layers"], SHAPE["ffn"]
per_layer = 4 * h * h + 3 * h * f + 2 * h    # attention q,k,v,o + SwiGLU gate,up,down + 2 RMSNorms
answer = V * h + L * per_layer + h           # embedding (tied: the LM head reuses it) + final RMSNorm

# the library agrees:
#   from itlib.models import build_model, n_params
#   from itlib.pipeline import default_tokenizer
#   n_params(build_model(default_tokenizer(), "llama", "micro", **SHAPE)) == answer
"""


def _check_q1(answer) -> None:
    value = as_number(answer)
    counts = _count(VOCAB, SHAPE["hidden"], SHAPE["layers"], SHAPE["ffn"])
    mistakes = [
        (counts["untied"], ("you counted the output layer (LM head) as its own V x h matrix; the course's models "
                            "tie it to the input embedding (tie_word_embeddings=True), so it is counted once.")),
        (counts["gpt_mlp"], ("that is a GPT-2-style MLP (two matrices); a Llama-style SwiGLU MLP has three: gate, "
                             "up and down, 3·h·f in all.")),
        (counts["no_norms"], "almost: add the RMSNorm weights, 2·h per layer plus h for the final norm."),
        (counts["no_embedding"], "you left out the token embedding, V·h parameters (the largest single matrix here)."),
        (counts["one_layer"], f"you counted one layer; there are {SHAPE['layers']} of them."),
    ]
    if judge(value, counts["right"], mistakes):
        return
    if 0.9 * counts["right"] < value < 1.1 * counts["right"]:
        raise Wrong(f"{value:,.0f} is close but not exact; count attention (4·h²), the SwiGLU MLP (3·h·f) "
                    "and the two norms (2·h) per layer, then the embedding (V·h) and the final norm (h).")
    raise Wrong(f"you gave {value:,.0f}; per layer 4·h² + 3·h·f + 2·h, then add V·h and h once.")


# typical wrong answers to q1 (tests/test_exercises.py runs each through the checker)


def _q1_count(name):
    return lambda correct: _count(VOCAB, SHAPE["hidden"], SHAPE["layers"], SHAPE["ffn"])[name]


q1 = Exercise(
    prompt=f"""
**Q1. Count the parameters.** A Llama-style model in this course (`build_model(tok, "llama", "micro",
**ex.SHAPE)`) has hidden size h = {SHAPE['hidden']}, {SHAPE['layers']} layers, {SHAPE['heads']} heads,
feed-forward size f = {SHAPE['ffn']} and a vocabulary of V = {VOCAB} tokens. Attention has no biases and as
many key/value heads as heads, the MLP is SwiGLU, the norms are RMSNorm, rotary positions have no
weights, and the output layer is tied to the input embedding. How many parameters does it have?
Work it out with the formula, then compare with `itlib.models.n_params`.
""",
    checker=_check_q1,
    hints=[
        ("Per layer: attention has four h x h matrices (q, k, v, o); the SwiGLU MLP has three h x f "
         "matrices (gate, up, down); each of the two RMSNorms has h weights."),
        ("Once per model: the embedding V x h (the LM head is the same matrix, tied) and the final RMSNorm "
         "(h weights). Positions are rotary: no weights."),
    ],
    solution=_Q1_SOLUTION,
    solution_value=lambda: run_solution(_Q1_SOLUTION, "answer"),
    wrong_answers=[
        (_q1_count("untied"), "tie it"),
        (_q1_count("gpt_mlp"), "three: gate, up and"),
        (_q1_count("no_norms"), "RMSNorm weights"),
        (_q1_count("no_embedding"), "token embedding"),
        (_q1_count("one_layer"), "one layer"),
        (lambda c: c + 7, "close but not exact"),
        (lambda c: "139344", "expected a number"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q2: compute-matched tokens, C ≈ 6 N D

# micro and h128-L2 and the tokens each saw in the notebook's size sweep (its `params` and `tokens`
# columns); the notebook asserts that these equal its sweep before it asks the question.
N_SMALL, N_LARGE = 172_352, 557_696
D_LARGE = 201_546

_Q2_SOLUTION = """
from itlib.exercises.nb10 import D_LARGE, N_LARGE, N_SMALL

# training compute C ≈ 6 N D (forward + backward, per parameter and token); equal C means
# 6 * N_SMALL * D_small = 6 * N_LARGE * D_LARGE
answer = D_LARGE * N_LARGE / N_SMALL
"""


def _check_q2(answer) -> None:
    value = as_number(answer)
    right = D_LARGE * N_LARGE / N_SMALL
    six_cancels = "the factor 6 is on both sides of 6·N·D = 6·N·D and cancels; give a number of tokens."
    mistakes = [
        (D_LARGE * N_SMALL / N_LARGE, ("the ratio is upside down: the smaller model needs MORE tokens for the same "
                                       "compute, D_small = D_large · N_large / N_small.")),
        (6 * right, six_cancels),
        (6 * N_LARGE * D_LARGE, six_cancels),
        (D_LARGE, ("that is the same number of tokens (same data, same steps, as in the size sweep); equal "
                   "*compute* gives the smaller model more tokens.")),
        (N_LARGE / N_SMALL, "that is the compute ratio N_large / N_small; multiply by D_LARGE to get tokens."),
    ]
    if judge(value, right, mistakes, same=near(0.0, 1e-2)):
        return
    raise Wrong(f"you gave {value:,.0f}; solve 6 · N_SMALL · D = 6 · N_LARGE · D_LARGE for D.")


q2 = Exercise(
    prompt=f"""
**Q2. Same tokens or same compute?** Training costs about C ≈ 6·N·D floating-point operations for N
parameters and D tokens. The size sweep gave every model the same D (its `tokens` column): the widest
model (N = {N_LARGE:,}) saw D = {D_LARGE:,} tokens. How many tokens must the micro model (N = {N_SMALL:,})
see to use the *same compute*? (`ex.N_SMALL`, `ex.N_LARGE`, `ex.D_LARGE`: the sweep's numbers.)
""",
    checker=_check_q2,
    hints=[
        "Set the two compute budgets equal: 6 · N_SMALL · D = 6 · N_LARGE · D_LARGE.",
        "The 6 cancels. A smaller model gets proportionally more tokens.",
    ],
    solution=_Q2_SOLUTION,
    solution_value=lambda: run_solution(_Q2_SOLUTION, "answer"),
    wrong_answers=[
        (lambda c: D_LARGE * N_SMALL / N_LARGE, "upside down"),
        (lambda c: D_LARGE, "same number of tokens"),
        (lambda c: N_LARGE / N_SMALL, "compute ratio"),
        (lambda c: 6 * c, "cancels"),
        (lambda c: 1.0, "solve 6"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q3: T0's summary is over prompts (templates), not over examples

# (k, template id, correct?) for every test example of a small template ablation: 3 held-out
# templates with 4 inputs each, for a model tuned with k = 1 and with k = 4 templates per task.
RESULTS = (
    [(1, "t1", c) for c in (1, 1, 1, 1)] + [(1, "t2", c) for c in (0, 0, 0, 1)]
    + [(1, "t3", c) for c in (0, 0, 0, 0)] + [(4, "t1", c) for c in (1, 1, 1, 0)]
    + [(4, "t2", c) for c in (1, 1, 0, 0)] + [(4, "t3", c) for c in (1, 0, 1, 1)]
)


def _variants() -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {"right": {}, "mean": {}, "examples": {}, "counts": {}}
    for k in sorted({k for k, _, _ in RESULTS}):
        mine = [(t, c) for kk, t, c in RESULTS if kk == k]
        per_template = {}
        for t, c in mine:
            per_template.setdefault(t, []).append(c)
        em = [sum(v) / len(v) for v in per_template.values()]
        out["right"][k] = statistics.median(em)
        out["mean"][k] = statistics.mean(em)
        out["examples"][k] = statistics.median([c for _, c in mine])
        out["counts"][k] = statistics.median([sum(v) for v in per_template.values()])
    return out


_Q3_SOLUTION = """
import pandas as pd
from itlib.exercises.nb10 import RESULTS

df = pd.DataFrame(RESULTS, columns=["k", "template", "correct"])
per_template = df.groupby(["k", "template"])["correct"].mean()      # exact match of each prompt
answer = per_template.groupby("k").median().to_dict()               # T0: the median over prompts
"""


def _check_q3(answer) -> None:
    if not isinstance(answer, dict):
        raise Wrong(f"give a dict {{k: median}}, e.g. {{1: 0.5, 4: 0.5}} (got {type(answer).__name__}).")
    variants = _variants()
    right = variants["right"]
    try:
        got = {int(k): as_number(v) for k, v in answer.items()}
    except (TypeError, ValueError):
        raise Wrong("the keys must be the k values (1 and 4) and the values numbers.") from None
    if set(got) != set(right):
        raise Wrong(f"give one median per k: keys {sorted(right)} (got {sorted(got)}).")
    mistakes = [
        (variants["examples"], ("that is the median over individual examples (each 0 or 1); T0 first scores each "
                                "prompt (exact match of its examples), then takes the median over prompts.")),
        (variants["mean"], "that is the mean over prompts; T0 reports the median (robust to one odd prompt)."),
        (variants["counts"], ("those are medians of correct counts per prompt; divide by the 4 examples per prompt "
                              "to get each prompt's exact match first.")),
    ]
    if judge(got, right, mistakes, same=lambda a, b: all(math.isclose(a[k], b[k], abs_tol=1e-6) for k in right)):
        return
    raise Wrong(f"you gave {got}; group by (k, template), average `correct`, then take the median per k.")


# typical wrong answers to q3 (tests/test_exercises.py runs each through the checker)


def _q3_summary(name):
    return lambda correct: _variants()[name]


q3 = Exercise(
    prompt="""
**Q3. The unit is the prompt.** `ex.RESULTS` lists `(k, template, correct)` for every test example of a
small template ablation: three held-out templates with four inputs each, for a model tuned with k = 1 and
one tuned with k = 4 templates per task. As T0 does, give the **median over templates of each template's
exact match**, for each k, as a dict `{1: ..., 4: ...}`. Which k wins on the median, and does the mean
over templates agree?
""",
    checker=_check_q3,
    hints=[
        "First one number per (k, template): the share of its 4 examples that are correct.",
        ("`pd.DataFrame(RESULTS, columns=['k', 'template', 'correct']).groupby(['k', 'template'])['correct']"
         ".mean()`, then `.groupby('k').median()`."),
    ],
    solution=_Q3_SOLUTION,
    solution_value=lambda: run_solution(_Q3_SOLUTION, "answer"),
    wrong_answers=[
        (_q3_summary("examples"), "individual examples"),
        (_q3_summary("mean"), "mean over prompts"),
        (_q3_summary("counts"), "correct counts"),
        (lambda c: {1: 0.25}, "one median per k"),
        (lambda c: [0.25, 0.75], "give a dict"),
        (lambda c: {1: 0.5, 4: 0.5}, "group by (k, template)"),
    ],
)
