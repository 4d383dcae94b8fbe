# %% [markdown]
# # 02 · Instruction data: coverage, diversity, difficulty, bias — and where it comes from
#
# **Learning goals.** After this notebook you can
# 1. describe an instruction dataset by numbers: its *coverage* (tasks × kinds × difficulty), its *diversity*
#    (distinct-n, ROUGE-L between instructions), its *difficulty* levels and its *biases* (label balance,
#    answer-length skew, majority answers);
# 2. generate data *by rules* (templates + input generators + reference solvers) and *by a model*
#    (Self-Instruct style), and filter what the model writes — and say what the filter can and cannot catch;
# 3. load real instruction files (Alpaca JSON, chat `messages` JSONL) and read the error a bad record gives.
#
# **The idea.** An instruction dataset is a set of triples $D = \{(I_j, X_j, Y_j)\}$. Before training on it we
# measure it. Two diversity measures recur in the literature:
#
# $$\text{distinct-}n(D) = \frac{\#\,\text{distinct } n\text{-grams}}{\#\,n\text{-grams}}, \qquad
# \text{ROUGE-L}(a, b) = \frac{2\,\mathrm{LCS}(a, b)}{|a| + |b|},$$
#
# where $\mathrm{LCS}$ is the length of the longest common subsequence of the two token lists (the F1 of
# precision $\mathrm{LCS}/|a|$ and recall $\mathrm{LCS}/|b|$). Self-Instruct (Wang et al., 2022) grows a dataset
# with a model and keeps a new instruction $c$ only if it is not too close to anything already in the pool $P$:
#
# $$\text{keep } c \iff \max_{p \in P} \text{ROUGE-L}(c, p) < 0.7 .$$

# %%
import copy
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import itlib
from itlib import datastats as ds
from itlib import selfinstruct as si
from itlib.tasks import SUITE, TASKS, Task, make_examples, suite_splits

torch.set_num_threads(2)
t_start = time.time()

# %% [markdown]
# ## 1 · The task suite: rule-based generation
# Every task in `itlib.tasks` is three *rules*: templates that phrase the instruction $I$, an input generator
# that draws $X$ at a difficulty level (1–3 = input length), and a reference solver that computes $Y$ exactly.
# Two templates per task (and one Chinese one in the *map* cluster) are held out: never trained on, used to test
# new phrasings.

# %%
suite_table = pd.DataFrame([{
    "task": t.name, "cluster": t.cluster, "kind": t.kind,
    "train templates": len(t.train_templates()), "held-out": len(t.heldout_templates()),
    "Chinese": len(t.zh_templates), "first template": t.templates[0],
} for t in SUITE]).set_index("task")
suite_table

# %% [markdown]
# One example, rule by rule — this is all that rule-based generation is:

# %%
import random

task = TASKS["only_colours"]
rng = random.Random(0)
template = rng.choice(task.train_templates())   # rule 1: phrase the instruction
x = task.make_input(rng, 2)                      # rule 2: draw an input at difficulty 2
y = task.solve(x)                                # rule 3: the reference answer
print(f"I = {template!r}\nX = {x!r}\nY = {y!r}")
print(task.example(random.Random(0), 2))         # the same three rules in one call

# %% [markdown]
# A new task is a few lines: here *count the colours*, with its own templates, generator and solver.
# `make_examples` takes `Task` objects as well as names.

# %%
from itlib.tasks import COLOURS, mixed

count_colours = Task(
    "count_colours", "aggregate", "generation",
    templates=("How many colours are in the list?", "Count the colour words.", "Give the number of colours.",
               "Say how many items are colours.", "Tell me how many colours you see.",
               "How many of the items are colours?", "Count only the colours.", "What is the number of colours?"),
    make_input=mixed,
    solve=lambda x: str(sum(w in COLOURS for w in x.split())),
)
pd.DataFrame([e.__dict__ for e in make_examples([count_colours], n_per_task=6, seed=1)])[
    ["instruction", "input", "output", "difficulty"]]

# %% [markdown]
# ## 2 · Coverage: tasks × kinds × difficulty
# The training split used across the course (`suite_data`) has the same number of examples per task, spread
# evenly over the three difficulty levels. `ds.coverage` counts every cell:

# %%
from itlib.pipeline import suite_data

splits = suite_data(n_train_per_task=300, n_test_per_task=30, seed=0)
train = splits["train"]
cov = ds.coverage(train, rows=("kind", "task"), columns="difficulty")
cov

# %%
kind_share = pd.Series([e.kind for e in train]).value_counts(normalize=True)
used = ds.templates_used(train)
print("share of examples by kind:", kind_share.round(3).to_dict())
n_train_templates = [len(t.train_templates()) for t in SUITE]
print(f"templates used per task: {min(used.values())}..{max(used.values())} of "
      f"{min(n_train_templates)}..{max(n_train_templates)} training ones")

# %% [markdown]
# Balanced per task and per level — but is it per *kind*? Compare the printed shares by kind (and count the
# tasks of each kind in the suite table above). Coverage is a choice you make when you pick the tasks.

# %%
cells = cov.drop(index="total", level=0).drop(columns="total")
assert cells.values.max() - cells.values.min() <= 1, cells           # every task x level cell is equally full
assert abs(kind_share["generation"] - 12 / 16) < 1e-9                 # ... but the kinds are not
assert all(used[t.name] == len(t.train_templates()) for t in SUITE)   # every training template is used
heldout = {h for t in SUITE for h in t.heldout_templates()}
assert not heldout & {e.instruction for e in train}                  # and no held-out one
n_generation = sum(t.kind == "generation" for t in SUITE)
print(f"✓ every task x difficulty cell has {cells.values.min()}..{cells.values.max()} examples; but "
      f"{n_generation} of the {len(SUITE)} tasks are generation tasks, so generation = "
      f"{kind_share['generation']:.0%} of the data; all training templates used, no held-out one")

# %% [markdown]
# ## 3 · Diversity: distinct-n and ROUGE-L
# How different are the instructions from each other? We take the 128 English templates (8 per task) and compute
# ROUGE-L for every pair, with `ds.rouge_l`. First one pair by hand: the LCS of two token lists by dynamic
# programming, $L_{i,j} = L_{i-1,j-1} + 1$ if $a_i = b_j$, else $\max(L_{i-1,j}, L_{i,j-1})$.

# %%
a = ds.tokenize("Sort these numbers from smallest to largest.")
b = ds.tokenize("Sort these numbers from largest to smallest.")
L = np.zeros((len(a) + 1, len(b) + 1), dtype=int)
for i in range(1, len(a) + 1):
    for j in range(1, len(b) + 1):
        L[i, j] = L[i - 1, j - 1] + 1 if a[i - 1] == b[j - 1] else max(L[i - 1, j], L[i, j - 1])
lcs = L[-1, -1]
by_hand = 2 * lcs / (len(a) + len(b))
print(a, b, f"LCS = {lcs}", f"ROUGE-L = 2*{lcs}/({len(a)}+{len(b)}) = {by_hand:.3f}", sep="\n")
assert by_hand == ds.rouge_l(a, b) and lcs == ds.lcs_length(a, b)
print("✓ by hand = itlib.datastats.rouge_l")

# %% [markdown]
# Compare the printed ROUGE-L with Self-Instruct's 0.7 threshold — although the two instructions ask for
# opposite things. ROUGE-L sees words in order, not meaning. Now all pairs:

# %%
english = [t for task in SUITE for t in task.templates]
owner = np.array([task.name for task in SUITE for _ in task.templates])
R = ds.pairwise_rouge_l(english)
same_task = owner[:, None] == owner[None, :]
off_diag = ~np.eye(len(english), dtype=bool)

fig, ax = plt.subplots(figsize=(6.5, 5.5))
im = ax.imshow(R, cmap="viridis", vmin=0, vmax=1)
ax.set_xticks(np.arange(4, len(english), 8), [t.name for t in SUITE], rotation=90, fontsize=7)
ax.set_yticks(np.arange(4, len(english), 8), [t.name for t in SUITE], fontsize=7)
plt.colorbar(im, label="ROUGE-L")
ax.set_title("ROUGE-L between the 128 English templates (8 per task)")
plt.show()

# %%
nearest = np.where(off_diag, R, 0).max(axis=1)
diversity = pd.DataFrame({
    "distinct-1": [ds.distinct_n(english, 1)], "distinct-2": [ds.distinct_n(english, 2)],
    "mean ROUGE-L, same task": [R[same_task & off_diag].mean()],
    "mean ROUGE-L, other tasks": [R[~same_task].mean()],
    "mean nearest-neighbour ROUGE-L": [nearest.mean()],
    "share with a neighbour >= 0.7": [(nearest >= 0.7).mean()],
}, index=["suite templates"])
pairs = [(R[i, j], english[i], english[j]) for i, j in zip(*np.where(~same_task & (R >= 0.7))) if i < j]
print(f"{len(pairs)} pairs of templates from DIFFERENT tasks have ROUGE-L >= 0.7, e.g.")
for r, p, q in sorted(pairs, reverse=True)[:4]:
    print(f"  {r:.2f}  {p!r} | {q!r}")
diversity.round(3)

# %% [markdown]
# The heat map has bright squares on the diagonal (a task's paraphrases share words) and bright spots off it:
# *sort ascending* vs *descending*, *max* vs *min*, *first* vs *last* are written as mirror images.
#
# How diverse is the *data*, as opposed to the template list? Every training example carries one instruction,
# so the data holds many copies of a few distinct strings. Distinct-n falls as a set grows (more n-grams, the same
# vocabulary), so two sets are compared **at the same size**: `distinct_at` draws equally many texts from each
# (20 draws) and reports the mean and its spread (±2 standard deviations over the draws).

# %%
def distinct_at(texts, n, size, draws=20, seed=0):
    """distinct-n of `size` texts drawn without replacement from `texts`: (mean, 2 sd) over `draws` draws."""
    rng = np.random.default_rng(seed)
    values = [ds.distinct_n(list(rng.choice(np.array(texts, dtype=object), size, replace=False)), n)
              for _ in range(draws)]
    return float(np.mean(values)), 2 * float(np.std(values))


data_instructions = [e.instruction for e in train]
size = len(english)
tmpl_d2 = ds.distinct_n(english, 2)
instr_d2, instr_d2_spread = distinct_at(data_instructions, 2, size)
input_d2, input_d2_spread = distinct_at([e.input for e in train], 2, size)
n_train_templates_all = len({t for task in SUITE for t in task.train_templates()})
print(f"{len(train):,} training examples carry {len(set(data_instructions))} distinct instructions: the suite's "
      f"{n_train_templates_all} training templates (Chinese ones included), each used about "
      f"{len(train) / n_train_templates_all:.0f} times")
print(f"distinct-2 at {size} texts each: the {size} templates {tmpl_d2:.3f}; {size} instructions drawn from the "
      f"training data {instr_d2:.3f} ± {instr_d2_spread:.3f}; {size} inputs {input_d2:.3f} ± {input_d2_spread:.3f}")

assert R[same_task & off_diag].mean() > 2 * R[~same_task].mean()   # paraphrases of a task share words
assert len(pairs) >= 10    # mirror-image tasks look alike to ROUGE-L
assert instr_d2 + instr_d2_spread < tmpl_d2     # at equal size, the data's instructions repeat
print(f"✓ same-task ROUGE-L {R[same_task & off_diag].mean():.2f} > 2 x other-task {R[~same_task].mean():.2f}; "
      f"{len(pairs)} cross-task pairs would fail the 0.7 filter; at equal size the data's instructions have "
      f"distinct-2 {instr_d2:.3f} ± {instr_d2_spread:.3f}, below the template list's {tmpl_d2:.3f}")

# %% [markdown]
# ## 4 · Difficulty levels
# The difficulty knob is the input length: level $d$ draws $2d$ or $2d+1$ items. What it does to the *answers*
# depends on the task: a sorted list is as long as its input; a count, a maximum or a label is one word.

# %%
lens = ds.lengths(train)
print(lens.groupby("difficulty")["input_words"].agg(["min", "max", "mean"]).round(2))
answer_len = lens.pivot_table(index="task", columns="difficulty", values="answer_words", aggfunc="mean")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
answer_len.plot.bar(ax=axes[0], width=0.8)
axes[0].set_ylabel("mean answer length (words)"); axes[0].set_title("answer length by task and difficulty")
lens["answer_words"].groupby(lens["kind"]).value_counts(normalize=True).unstack(0).fillna(0).plot.bar(ax=axes[1])
axes[1].set_xlabel("answer length (words)"); axes[1].set_ylabel("share of the kind's examples")
axes[1].set_title("answer-length distribution by kind")
plt.tight_layout(); plt.show()

# %%
levels = lens.groupby("difficulty")["input_words"].agg(["min", "max"])
assert levels.to_dict("index") == {1: {"min": 2, "max": 3}, 2: {"min": 4, "max": 5}, 3: {"min": 6, "max": 7}}
assert (answer_len.loc["sort_ascending"].diff().dropna() > 1.5).all()   # answers grow with the level ...
assert (answer_len.loc[["max_digit", "sentiment", "count_items"]] == 1).all().all()  # ... or stay one word
one_word = (lens["answer_words"] == 1).mean()
print(f"✓ levels 1/2/3 = inputs of 2-3 / 4-5 / 6-7 words; {one_word:.0%} of all answers are a single word")

# %% [markdown]
# ## 5 · Bias: label balance, majority answers, answer-length skew
# A model can score well by learning the *data's* habits instead of the task. Two measurements:
# the label balance of the classification and labelling tasks, and, for every task, the share of its most
# common answer — the exact match of a "model" that always gives that answer.

# %%
balance = ds.label_balance(train)
balance.round(3)

# %%
majority = ds.majority_share(train)
uniform = 1 / majority["distinct_answers"]
ax = majority["share"].sort_values().plot.barh(figsize=(6, 4), color="tab:orange", label="most common answer")
ax.set_xlabel("share of the task's examples"); ax.set_title("always give the most common answer: exact match")
plt.show()
majority.sort_values("share", ascending=False).head(6).round(3)

# %% [markdown]
# The two classification tasks are balanced (a constant answer scores about 0.5, chance). But *max_digit* and
# *min_digit* are not: the maximum of 2–7 random digits is often 9 (the minimum often 0), so "9" alone gets
# several times more of *max_digit* right than a uniform answer's 1 in 10 (the check prints the shares). The generator is fair; the
# *answers* are skewed. Together with the answer lengths above (the share of one-word answers is printed there), this
# is what a lazy model can exploit — evaluate per task (notebook 08) to see it.

# %%
for t in ("sentiment", "contains_animal"):
    assert abs(majority.loc[t, "share"] - 0.5) < 0.1, majority.loc[t]          # balanced labels
assert abs(balance.loc["digit_parity", "E"] - 0.5) < 0.1
assert majority.loc["max_digit", "most_common"] == "9" and majority.loc["max_digit", "share"] > 3 * 0.1
assert majority.loc["min_digit", "most_common"] == "0" and majority.loc["min_digit", "share"] > 3 * 0.1
print(f"✓ classification labels balanced (within 0.1 of 0.5); '9' is {majority.loc['max_digit', 'share']:.0%} "
      f"of max_digit answers and '0' {majority.loc['min_digit', 'share']:.0%} of min_digit's (uniform: 10 %)")

# %% [markdown]
# **What a bias does to a trained model.** The suite's classification labels are balanced. What if they were not?
# We tune the base twice on *sentiment* alone, with the same number of examples, the same batches and steps —
# once on a balanced set, once on a set where 95 % of the reviews are positive — and score both on the same
# test set (its label shares are printed). Look at how often each model says *positive*, and at its accuracy on the negative reviews.

# %%
import random

from itlib.evaluate import evaluate
from itlib.metrics import paired_two_se
from itlib.train import fit

base, tokenizer = itlib.load_base()
senti = suite_splits(n_train_per_task=300, n_test_per_task=100, seed=1, tasks=["sentiment"])
pos = [e for e in senti["train"] if e.output == "positive"]
neg = [e for e in senti["train"] if e.output == "negative"]
N_BIAS, SKEW = 64, 0.95
training_sets = {"balanced": pos[: N_BIAS // 2] + neg[: N_BIAS // 2],
                 "95 % positive": pos[: round(N_BIAS * SKEW)] + neg[: N_BIAS - round(N_BIAS * SKEW)]}
senti_test = senti["test_inputs"]
is_neg = [e.output == "negative" for e in senti_test]
bias_rows, bias_hits = {}, {}
for name, examples in training_sets.items():
    random.Random(0).shuffle(examples)
    model = copy.deepcopy(base)
    run = fit(model, tokenizer, examples, epochs=3, lr=2e-3, batch_tokens=10**6, max_batch=8, seed=0, progress=False)
    preds = evaluate(model, tokenizer, senti_test)["predictions"]
    bias_hits[name] = [float(p == e.output) for p, e in zip(preds, senti_test)]
    bias_rows[name] = {"training examples": len(examples), "positive share (train)": sum(e.output == "positive" for e in examples) / len(examples),
                       "steps": run.steps, "says 'positive' (test)": np.mean([p == "positive" for p in preds]),
                       "accuracy": np.mean(bias_hits[name]),
                       "accuracy on negatives": np.mean([h for h, n in zip(bias_hits[name], is_neg) if n]),
                       "accuracy on positives": np.mean([h for h, n in zip(bias_hits[name], is_neg) if not n])}
bias_table = pd.DataFrame(bias_rows).T
print(f"test: {len(senti_test)} new reviews, {np.mean(is_neg):.0%} negative")
bias_table.round(2)

# %%
neg_hits = {k: [h for h, n in zip(v, is_neg) if n] for k, v in bias_hits.items()}
neg_gap = np.mean(neg_hits["balanced"]) - np.mean(neg_hits["95 % positive"])
neg_spread = paired_two_se(neg_hits["balanced"], neg_hits["95 % positive"])
assert bias_table.loc["95 % positive", "steps"] == bias_table.loc["balanced", "steps"]
assert neg_gap > neg_spread, (neg_gap, neg_spread)
assert bias_table.loc["95 % positive", "says 'positive' (test)"] > bias_table.loc["balanced", "says 'positive' (test)"]
says = bias_table["says 'positive' (test)"]
print(f"✓ same data size and steps: trained on 95 % positive reviews, the model says 'positive' to "
      f"{says['95 % positive']:.0%} of a test set that is {1 - np.mean(is_neg):.0%} positive (balanced training: "
      f"{says['balanced']:.0%}) and gets "
      f"{neg_gap:.2f} ± {neg_spread:.2f} fewer negative reviews right")

# %% [markdown]
# ## 6 · Model-based generation, Self-Instruct style
# Self-Instruct asks a model to write the data: (1) show it $k$ instructions of a task and sample one more;
# (2) filter the new instructions by ROUGE-L; (3) let it write inputs for the instructions; (4) filter the
# instances. Our base model has never seen an instruction, so we first tune it — briefly — on two "meta" tasks
# built from the suite's *training* templates and input generators (`si.instruction_examples`,
# `si.input_examples`):

# %%
from itlib.pipeline import tune

meta = si.instruction_examples(n=1600, k=3, seed=0) + si.input_examples(n=1200, seed=0)
print(meta[0].instruction, "\n" + meta[0].input, "\n->", meta[0].output)
print(meta[-1].instruction, meta[-1].input, "->", meta[-1].output)

generator = copy.deepcopy(base)
result = tune(generator, tokenizer, meta, epochs=3, seed=0)
print(f"{len(meta)} examples, {result.steps} steps in {result.seconds:.0f} s, final loss {result.losses[-1]:.2f}")
plt.figure(figsize=(6, 2.5))
plt.plot(pd.Series(result.losses).rolling(20, min_periods=1).mean())
plt.xlabel("step"); plt.ylabel("masked NLL"); plt.yscale("log"); plt.title("tuning the generator"); plt.show()

# %% [markdown]
# **Steps 1–2: new instructions, filtered.** Twelve samples per task (`model.generate(do_sample=True)`,
# temperature 1.0, top-p 0.95, fixed seed; try `temperature=0.7` and compare the counts), then
# `si.filter_generated`: a candidate is removed as *invalid* (Self-Instruct-like heuristics, plus words no template uses — the small model's misspellings), as a
# *duplicate*, or as *too similar* (ROUGE-L ≥ 0.7 with an existing template or with a candidate kept before it).

# %%
existing = si.existing_instructions()          # all templates: training, held-out and Chinese ones
vocabulary = si.instruction_vocabulary()
proposals = si.propose_instructions(generator, tokenizer, n=12, k=3, seed=0, temperature=1.0, top_p=0.95)
step2 = si.filter_generated(proposals, existing, threshold=0.7,
                            validate=lambda p: si.instruction_problem(p.text, vocabulary))
print(f"{len(proposals)} proposals from {len(existing)} existing instructions ->", step2.counts())
removed = step2.table()
removed["task"] = [c.task for c in removed["candidate"]]
removed["candidate"] = [c.text for c in removed["candidate"]]
removed.groupby("reason").head(3)[["task", "candidate", "reason", "detail"]]

# %%
owner_of = {t: task.name for task in SUITE for t in task.all_templates()}
copied = [r.candidate for r in step2.removed if r.reason in ("duplicate", "too similar")]


def own_best(text, task_name):
    """The highest ROUGE-L of `text` with a template of task `task_name`."""
    return ds.most_similar(text, TASKS[task_name].all_templates())[0]


def other_best(text, task_name):
    """(highest ROUGE-L, template) of `text` over the templates of all OTHER tasks."""
    return ds.most_similar(text, [t for t in existing if owner_of[t] != task_name])


def drifts(text, task_name):
    """Drifted = strictly closer to another task's template than to any of its own (a tie is not drift)."""
    return own_best(text, task_name) < other_best(text, task_name)[0]


drifted = [(c, other_best(c.text, c.task)[1]) for c in copied if drifts(c.text, c.task)]
print(f"{len(drifted)} of the {len(copied)} (near-)copies are closer to a template of ANOTHER task than to any of "
      "their own (a tie is not counted), e.g.")
for c, t in drifted[:3]:
    print(f"  asked for {c.task}: {c.text!r}  ~ {owner_of[t]}: {t!r}")
print("kept:")
for p in step2.kept:
    print(f"  [{p.task}] {p.text}")

# %% [markdown]
# **Drift check on what the filter kept.** ROUGE-L < 0.7 only says that a kept instruction is not a near-copy;
# it does not say that the instruction still asks for the task it was proposed for. Apply the same ownership test
# as to the copies: find each kept instruction's nearest template among the *other* tasks, and compare its
# ROUGE-L with that of the best template of the task it was proposed for. If the other task's is strictly higher
# (a tie is not drift), the instruction has drifted — and the next step would label its inputs with the wrong
# task's solver.

# %%
kept_check = pd.DataFrame([{
    "asked for": p.task, "kept instruction": p.text,
    "best of own task": own_best(p.text, p.task),
    "nearest other-task template": other_best(p.text, p.task)[1],
    "its task": owner_of[other_best(p.text, p.task)[1]],
    "ROUGE-L with it": other_best(p.text, p.task)[0],
} for p in step2.kept])
kept_check["drifted"] = [drifts(p.text, p.task) for p in step2.kept]
kept_drifted = set(kept_check.loc[kept_check["drifted"], "kept instruction"])
print(f"{len(kept_drifted)} of the {len(kept_check)} kept instructions are closer to a template of ANOTHER task "
      "than to any of their own (strictly: a tie is not drift)")
kept_check.round(2)

# %% [markdown]
# **Steps 3–4: inputs, checked with the reference solver.** For each instruction the generator samples four
# inputs. `si.input_problem` removes an input that is not valid for the task the instruction came from: a word
# the task never uses, a length outside its range, an input the reference solver cannot answer or one that is
# ambiguous (a sentiment tie). The answers then come from the solver (`Instance.to_example`) — real Self-Instruct
# lets the model write them too and keeps them unchecked. We compare three sets of instructions: the *kept* new
# ones, the near-copies the ROUGE-L filter *removed*, and the real held-out templates (phrasings the generator
# never saw).

# %%
near_copies = list(dict.fromkeys(r.candidate for r in step2.removed if r.reason == "too similar"))
heldout_props = [si.Proposal(t.name, h) for t in SUITE for h in t.templates[-t.n_heldout:]]
groups = {"kept new instructions": step2.kept, "near-copies (too similar)": near_copies,
          "held-out templates": heldout_props}
problem_kind = {"unknown": "unknown word", "length": "wrong length", "even": "tie", "the": "no answer",
                "empty": "empty"}
rows, step4 = {}, {}
for name, props in groups.items():
    instances = si.propose_instances(generator, tokenizer, props, n=4, seed=1, temperature=0.7, top_p=0.9)
    out = si.filter_generated(instances, [], threshold=1.0, validate=si.instance_problem,
                              text=lambda i: f"{i.instruction}\n{i.input}")
    kinds = pd.Series([problem_kind.get(r.detail.split(" ")[0], "other") if r.reason == "invalid" else r.reason
                       for r in out.removed], dtype=object)
    rows[name] = {"instructions": len(props), "inputs": len(instances), **kinds.value_counts().to_dict(),
                  "kept": len(out.kept), "kept share": len(out.kept) / max(len(instances), 1)}
    step4[name] = out
step4_table = pd.DataFrame(rows).T.fillna(0)
order = ["instructions", "inputs", *problem_kind.values(), "other", "duplicate", "kept", "kept share"]
step4_table = step4_table[[c for c in order if c in step4_table.columns]]
step4_table.round(2)

# %%
for name in groups:
    print(f"{name}:")
    for r in step4[name].removed[:2]:
        print(f"  removed [{r.candidate.task}] {r.candidate.instruction!r} | {r.candidate.input!r}: {r.detail}")
    for i in step4[name].kept[:2]:
        print(f"  kept    {i.to_example()}")

# %%
drifted_texts = {c.text for c, _ in drifted}
mislabelled = [i for i in step4["near-copies (too similar)"].kept if i.instruction in drifted_texts]
n_drifted_near = len({c.text for c in near_copies} & drifted_texts)
print(f"{n_drifted_near} of the {len(near_copies)} near-copies removed as too similar drifted to another task; "
      f"{len(mislabelled)} instances written for them pass the input check (only ROUGE-L stopped their "
      "instructions)" + (":" if mislabelled else "."))
for i in mislabelled[:3]:
    e = i.to_example()
    print(f"  {e.instruction!r} | {e.input!r} -> {e.output!r}   (labelled by the {e.task} solver)")
kept_mislabelled = [i for i in step4["kept new instructions"].kept if i.instruction in kept_drifted]
n_kept_examples = len(step4["kept new instructions"].kept)
print(f"\n{len(kept_mislabelled)} of the {n_kept_examples} examples built from KEPT instructions come from a drifted "
      "instruction — they passed every filter and would be trained on:")
def answer_as(task_name, x):
    try:
        return repr(TASKS[task_name].solve(x))
    except Exception:  # noqa: BLE001 - any error means the input does not fit that task
        return "nothing (the input does not fit it)"


for i in kept_mislabelled[:4]:
    e = i.to_example()
    nearest_task = kept_check.set_index("kept instruction").loc[e.instruction, "its task"]
    print(f"  {e.instruction!r} | {e.input!r} -> {e.output!r}   (labelled by the {e.task} solver; "
          f"the instruction reads like {nearest_task}, which would answer {answer_as(nearest_task, e.input)})")

# %% [markdown]
# What to read in the tables and lists above (the check below prints the counts): how many proposals were copies
# or near-copies of a template the generator was tuned on, or misspelt, and removed; which few were kept — read
# each and decide: a usable new phrasing, a mixture of two templates that no longer asks for one clear thing, or
# an instruction that drifted to *another* task (the drift check counts these). Whatever you decide, the kept
# ones passed every check, because the filter catches copies and unknown words, not meaning (Section 3). When an
# instruction drifts, the inputs written for it are valid for the task it was proposed for, so that task's solver
# labels them and the example teaches a wrong answer. Compare the share of proposals removed in steps 1–2 with
# the kept share of inputs in step 4, and the kept share of inputs written for the held-out templates (phrasings
# the generator never saw) with the others.

# %%
assert all(ds.most_similar(p.text, existing)[0] < 0.7 for p in step2.kept)          # the filter's promise
counts = step2.counts()
copies = counts.get("duplicate", 0) + counts.get("too similar", 0)
assert len(proposals) - counts["kept"] >= 0.8 * len(proposals), counts              # most is removed ...
assert copies >= 0.3 * len(proposals), counts    # ... much of it as copies
held_share = step4_table.loc["held-out templates", "kept share"]
assert held_share >= 0.5, step4_table    # inputs for new phrasings
assert step2.kept and len(drifted) <= 0.2 * len(copied)    # a few kept; copies are mostly of the task asked for
print(f"✓ the filter removed {len(proposals) - counts['kept']} of {len(proposals)} proposals ({copies} as "
      f"(near-)copies); every kept one has ROUGE-L < 0.7 with all {len(existing)} templates; "
      f"{held_share:.0%} of the inputs written for held-out templates are valid; {len(drifted)} (near-)copies "
      "are closer to another task's template than to any of their own")
assert kept_drifted and kept_mislabelled, kept_check    # ... and the filter kept drifted instructions
print(f"✓ the drift check flags {len(kept_drifted)} of the {len(step2.kept)} KEPT instructions (strictly closer to "
      f"another task's template than to any of their own); {len(kept_mislabelled)} of the {n_kept_examples} "
      "examples built from kept instructions are labelled by the solver of a task they no longer ask for")

# %% [markdown]
# ## 7 · Real files: Alpaca JSON and chat `messages` JSONL
# `itlib.data.save_examples` writes both formats (atomically, never overwriting); `load_examples` reads them
# back. A `messages` file keeps only user and assistant turns, so the input is merged into the user's text.

# %%
import json
import tempfile
from pathlib import Path

from itlib.data import DataError, Example, load_examples, save_examples

folder = Path(tempfile.mkdtemp())
sample_examples = make_examples(["sort_ascending", "sentiment", "colour_to_chinese"], n_per_task=2, seed=3)
alpaca_file = save_examples(sample_examples, folder / "alpaca.json")
chat_file = save_examples(sample_examples, folder / "chat.jsonl", style="messages")
print(alpaca_file.read_text(encoding="utf-8")[:330], "...")
print(chat_file.read_text(encoding="utf-8").splitlines()[0])
assert load_examples(alpaca_file) == sample_examples                      # Alpaca style is lossless
chat_back = load_examples(chat_file)
assert [e.output for e in chat_back] == [e.output for e in sample_examples]
assert chat_back[0].instruction == f"{sample_examples[0].instruction}\n\n{sample_examples[0].input}"
print("✓ both files load back: Alpaca exactly, chat with the input merged into the instruction")

# %% [markdown]
# **Real human-written data.** The package ships the 175 seed tasks of Self-Instruct (Wang et al., 2022;
# Apache-2.0 — the licence and a source note sit beside the file in `itlib/assets/self_instruct/`). Their records
# hold a list of `instances` — not the flat Alpaca shape — so `load_examples` refuses them with a message that
# says so; `si.seed_task_examples()` expands the instances into one `Example` each.

# %%
print(si.SEED_TASKS_FILE.relative_to(Path(itlib.__file__).parent))
try:
    load_examples(si.SEED_TASKS_FILE)
except DataError as err:
    print("DataError:", str(err).replace(str(si.SEED_TASKS_FILE.parent), "…"))
seed_records = si.load_seed_tasks()
real = si.seed_task_examples()
seed_instructions = [r["instruction"] for r in seed_records]
print(f"\n{len(seed_records)} seed tasks -> {len(real)} examples, e.g. {real[1].instruction!r} -> {real[1].output[:60]!r}")
(folder / "seed.jsonl").write_text("".join(json.dumps({"instruction": e.instruction, "input": e.input,
                                                       "output": e.output, "kind": e.kind}, ensure_ascii=False) + "\n"
                                           for e in real), encoding="utf-8")
assert load_examples(folder / "seed.jsonl") == [Example(e.instruction, e.input, e.output, kind=e.kind) for e in real]
print("✓ expanded, they save and load back as plain Alpaca-style records")

# %% [markdown]
# How do real, human-written instructions compare with the suite's templates? Both are measured **at the same
# size** — the suite's 128 templates against 128 seed instructions drawn from the 175 (20 draws, mean ± 2 sd):
# distinct-n, and each instruction's ROUGE-L with its nearest neighbour in its own set.

# %%
Rs = ds.pairwise_rouge_l(seed_instructions)
rng = np.random.default_rng(0)
seed_nn, seed_share = [], []
for _ in range(20):
    idx = rng.choice(len(seed_instructions), size, replace=False)
    sub = Rs[np.ix_(idx, idx)]
    nn = np.where(~np.eye(size, dtype=bool), sub, 0).max(axis=1)
    seed_nn.append(nn.mean())
    seed_share.append((nn >= 0.7).mean())
seed_d1, _ = distinct_at(seed_instructions, 1, size)
seed_d2, seed_d2_spread = distinct_at(seed_instructions, 2, size)
diversity.loc[f"Self-Instruct seeds ({size} of {len(seed_instructions)})"] = [
    seed_d1, seed_d2, np.nan, np.nan, np.mean(seed_nn), np.mean(seed_share)]
seed_nn_mean, seed_nn_spread = np.mean(seed_nn), 2 * np.std(seed_nn)
assert seed_nn_mean + seed_nn_spread < nearest.mean()   # real instructions are far apart; ours come in pairs
print(f"✓ at {size} instructions each, mean nearest-neighbour ROUGE-L: seeds {seed_nn_mean:.2f} ± {seed_nn_spread:.2f} "
      f"vs suite templates {nearest.mean():.2f}; distinct-2 seeds {seed_d2:.3f} ± {seed_d2_spread:.3f} vs "
      f"suite {tmpl_d2:.3f}")
diversity.round(3)

# %% [markdown]
# ## 8 · The `datasets` workflow on the course's data
# Most instruction sets you will meet after this course live in Hugging Face `datasets`. The everyday steps, on two
# batches of the suite's generator: `Dataset.from_list` (one row per example), `map` (add the rendered prompt
# f(X, I) and the length of the whole sequence in tokens), `filter` (drop a row whose instruction and input repeat
# an earlier row's after lower-casing and collapsing spaces; drop rows longer than a token budget),
# `train_test_split`, and `to_json`, whose JSON Lines file `load_examples` reads back as `Example`s — so a file made
# this way trains with `itlib train --data`. Look at how many rows each step removes, and why.

# %%
from dataclasses import asdict

from datasets import Dataset, disable_progress_bars

from itlib.formats import prompt_text, render
from itlib.pipeline import default_tokenizer

disable_progress_bars()
course_tok = default_tokenizer()
MAX_TOKENS = 40  # a context budget for this demo

batches = make_examples(n_per_task=40, seed=11) + make_examples(n_per_task=40, seed=12)
table = Dataset.from_list([{k: v for k, v in asdict(e).items() if k != "history"} for e in batches])


def represent(row):
    """f(X, I) in the prefix format, the token count of prompt + answer, and a key for near-duplicates."""
    example = Example(row["instruction"], row["input"], row["output"])
    return {"prompt": prompt_text(example, "prefix"), "n_tokens": len(render(example, course_tok, "prefix").input_ids),
            "key": " ".join(f"{row['instruction']} {row['input']}".lower().split())}


table = table.map(represent)
first_row = {}
for i, key in enumerate(table["key"]):
    first_row.setdefault(key, i)
unique = table.filter(lambda row, i: first_row[row["key"]] == i, with_indices=True)
fits = unique.filter(lambda row: row["n_tokens"] <= MAX_TOKENS)
split = fits.remove_columns(["prompt", "n_tokens", "key"]).train_test_split(test_size=0.1, seed=0)
train_file = folder / "suite_train.jsonl"
split["train"].to_json(train_file, force_ascii=False)
from_file = load_examples(train_file)
steps = pd.DataFrame({"rows": [len(table), len(unique), len(fits), len(split["train"]), len(split["test"]),
                               len(from_file)]},
                     index=["from_list + map", "filter: near-duplicates", f"filter: <= {MAX_TOKENS} tokens",
                            "train_test_split: train", "train_test_split: test", "to_json -> load_examples"])
print(f"{len(table) - len(unique)} near-duplicate rows and {len(unique) - len(fits)} rows over {MAX_TOKENS} tokens "
      f"removed; the longest row had {max(table['n_tokens'])} tokens")
print("a mapped row:", {k: table[0][k] for k in ("prompt", "n_tokens")})
steps

# %%
assert len(from_file) == len(split["train"]) and len(fits) == len(split["train"]) + len(split["test"])
assert all(isinstance(e, Example) for e in from_file)
assert [(e.instruction, e.input, e.output, e.task) for e in from_file] == [
    (r["instruction"], r["input"], r["output"], r["task"]) for r in split["train"]]
assert max(fits["n_tokens"]) <= MAX_TOKENS and len(set(unique["key"])) == len(unique)
print(f"✓ {len(from_file)} rows went through datasets and back through load_examples unchanged (task labels "
      f"included): a file made with datasets is training data for itlib")

# %% [markdown]
# ## 9 · A bad record
# A file with one broken record raises **one** `DataError` naming the file, the record (line) and the field.
# `skip_bad=True` keeps the good records and warns once, listing what it skipped — nothing is dropped silently.

# %%
bad_file = folder / "mixed.jsonl"
bad_file.write_text(
    '{"instruction": "Reverse the list.", "input": "a b", "output": "b a"}\n'
    '{"instruction": "Count the items.", "input": "a b c", "output": 3}\n'
    '{"instruction": "Give the first item.", "input": "x y"}\n'
    '{"instruction": "Give the last item.", "input": "x y", "output": "y"}\n', encoding="utf-8")
try:
    load_examples(bad_file)
except DataError as err:
    error = err
    print("DataError:", err)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    good = load_examples(bad_file, skip_bad=True)
print(f"\nskip_bad=True kept {len(good)} records and warned:\n{caught[0].message}")

# %%
assert (error.path.name, error.record, error.field) == ("mixed.jsonl", 2, "output")
assert "mixed.jsonl, record 2, field 'output'" in str(error)
assert [e.output for e in good] == ["b a", "y"] and len(caught) == 1 and "(2, 3)" in str(caught[0].message)
print("✓ the error names file, record and field; skip_bad keeps the 2 good records and reports records 2 and 3")

# %% [markdown]
# ## Exercises

# %%
from itlib.exercises import nb02 as ex

ex.q1

# %%
my_rouge = ...  # your answer: ROUGE-L F1 of ex.PAIR, a number between 0 and 1
ex.q1.check(my_rouge)

# %%
# ex.q1.hint()
# ex.q1.solution()

# %%
ex.q2

# %%
my_distinct2 = ...  # your answer: distinct-2 of ex.TEXTS
ex.q2.check(my_distinct2)

# %%
ex.q3

# %%
my_kept = ...  # your answer: the list of kept candidates, in order
ex.q3.check(my_kept)

# %% [markdown]
# ## Summary and next
# - **Coverage** is a table (tasks × kinds × difficulty): the suite is balanced per task and level, not per kind.
# - **Diversity**: distinct-n and ROUGE-L, compared at equal set sizes (distinct-n falls as a set grows); mirror-image
#   tasks look alike to ROUGE-L, the data repeats its instructions more than the template list suggests, and real
#   human-written instructions (the shipped Self-Instruct seeds) are further apart than the suite's.
# - **Difficulty** here is input length; it lengthens some answers and not others.
# - **Bias**: balanced labels, yet skewed answers (max → 9) and many one-word answers a lazy model can exploit; a
#   model tuned on skewed labels carries the skew into its answers (the sentiment run).
# - **Generation**: rules give exact, unlimited data with limited phrasings; a model gives new phrasings that
#   must be filtered — ROUGE-L removes copies (and mirror-image instructions), a reference solver (where you
#   have one) rejects invalid inputs and writes the answers; only a separate drift check (nearest template of
#   which task?) flags a kept instruction that no longer asks for its task.
# - **Files**: Alpaca JSON and chat JSONL (and ShareGPT, Parquet, CSV, `save_to_disk` folders) load with one clear
#   error per bad record; the ordinary `datasets` steps (`from_list`, `map`, `filter`, `train_test_split`,
#   `to_json`) make files that `load_examples` and `itlib train --data` read back unchanged.
#
# **Next:** `03_interactions.ipynb` — one instruction-conditioned backbone for generation, classification and
# sequence labelling.

# %%
print(f"notebook ran in {time.time() - t_start:.0f} s")
