"""Typical wrong answers to the notebook-10 exercises, and the message each must get."""

from itlib.exercises import nb10


def count(name):
    shape = nb10.SHAPE
    return lambda correct: nb10._count(nb10.VOCAB, shape["hidden"], shape["layers"], shape["ffn"])[name]


def summary(name):
    return lambda correct: nb10._variants()[name]


WRONG = {
    "nb10.q1": [
        (count("untied"), "tie it"),
        (count("gpt_mlp"), "three: gate, up and"),
        (count("no_norms"), "RMSNorm weights"),
        (count("no_embedding"), "token embedding"),
        (count("one_layer"), "one layer"),
        (lambda c: c + 7, "close but not exact"),
        (lambda c: "139344", "expected a number"),
    ],
    "nb10.q2": [
        (lambda c: nb10.D_LARGE * nb10.N_SMALL / nb10.N_LARGE, "upside down"),
        (lambda c: nb10.D_LARGE, "same number of tokens"),
        (lambda c: nb10.N_LARGE / nb10.N_SMALL, "compute ratio"),
        (lambda c: 6 * c, "cancels"),
        (lambda c: 1.0, "solve 6"),
    ],
    "nb10.q3": [
        (summary("examples"), "individual examples"),
        (summary("mean"), "mean over prompts"),
        (summary("counts"), "correct counts"),
        (lambda c: {1: 0.25}, "one median per k"),
        (lambda c: [0.25, 0.75], "give a dict"),
        (lambda c: {1: 0.5, 4: 0.5}, "group by (k, template)"),
    ],
}
