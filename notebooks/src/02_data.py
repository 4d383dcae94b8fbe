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
from itlib.tasks import SUITE, TASKS, Task, make_examples

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
# Balanced per task and per level — but not per *kind*: 12 of the 16 tasks are generation tasks, so three
# quarters of the examples teach generation and only an eighth each teach classification and labelling.
# Coverage is a choice you make when you pick the tasks.

# %%
cells = cov.drop(index="total", level=0).drop(columns="total")
assert cells.values.max() - cells.values.min() <= 1, cells           # every task x level cell is equally full
assert abs(kind_share["generation"] - 12 / 16) < 1e-9                 # ... but the kinds are not
assert all(used[t.name] == len(t.train_templates()) for t in SUITE)   # every training template is used
heldout = {h for t in SUITE for h in t.heldout_templates()}
assert not heldout & {e.instruction for e in train}                  # and no held-out one
print(f"✓ every task x difficulty cell has {cells.values.min()}..{cells.values.max()} examples; "
      "generation = 75 % of the data; all training templates used, no held-out one")

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
# 0.71 — *above* Self-Instruct's 0.7 threshold, although the two instructions ask for opposite things.
# ROUGE-L sees words in order, not meaning. Now all pairs:

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
# *sort ascending* vs *descending*, *max* vs *min*, *first* vs *last* are written as mirror images. Diversity
# of the *data* is lower still than that of the templates: 4,800 training examples reuse 96 instructions, so
# the distinct-2 of the instructions as they appear in the data is tiny.

# %%
instr_d2 = ds.distinct_n([e.instruction for e in train], 2)
print(f"distinct-2 of the templates {ds.distinct_n(english, 2):.3f}, of the instructions in the training data "
      f"{instr_d2:.3f}, of the inputs {ds.distinct_n([e.input for e in train], 2):.3f}")

assert R[same_task & off_diag].mean() > 2 * R[~same_task].mean()   # paraphrases of a task share words
assert len(pairs) >= 10    # mirror-image tasks look alike to ROUGE-L
assert instr_d2 < ds.distinct_n(english, 2) / 10                       # the data repeats its instructions
print(f"✓ same-task ROUGE-L {R[same_task & off_diag].mean():.2f} > 2 x other-task {R[~same_task].mean():.2f}; "
      f"{len(pairs)} cross-task pairs would fail the 0.7 filter; the data's instructions repeat")

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
# over a third of *max_digit* right, where a uniform answer would get 1 in 10. The generator is fair; the
# *answers* are skewed. Together with the answer lengths above (nearly half of all answers are one word), this
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

base, tokenizer = itlib.load_base()
generator = copy.deepcopy(base)
result = tune(generator, tokenizer, meta, epochs=3, seed=0)
print(f"{len(meta)} examples, {result.steps} steps in {result.seconds:.0f} s, final loss {result.losses[-1]:.2f}")
plt.figure(figsize=(6, 2.5))
plt.plot(pd.Series(result.losses).rolling(20, min_periods=1).mean())
plt.xlabel("step"); plt.ylabel("masked NLL"); plt.yscale("log"); plt.title("tuning the generator"); plt.show()

# %% [markdown]
# **Steps 1–2: new instructions, filtered.** Twelve samples per task (`model.generate(do_sample=True)`,
# temperature 1.0, top-p 0.95, fixed seed; at 0.7 almost every sample was a copy), then `si.filter_generated`: a candidate is removed as *invalid*
# (Self-Instruct-like heuristics, plus words no template uses — the small model's misspellings), as a
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
copied = [(r.candidate, ds.most_similar(r.candidate.text, existing)[1]) for r in step2.removed
          if r.reason in ("duplicate", "too similar")]
drifted = [(c, t) for c, t in copied if owner_of[t] != c.task]
print(f"{len(drifted)} of the {len(copied)} (near-)copies copy a template of ANOTHER task, e.g.")
for c, t in drifted[:3]:
    print(f"  asked for {c.task}: {c.text!r}  ~ {owner_of[t]}: {t!r}")
print("kept:")
for p in step2.kept:
    print(f"  [{p.task}] {p.text}")

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
print(f"{len(mislabelled)} instances written for drifted near-copies pass the input check; only ROUGE-L stopped "
      "their instructions:")
for i in mislabelled[:3]:
    e = i.to_example()
    print(f"  {e.instruction!r} | {e.input!r} -> {e.output!r}   (labelled by the {e.task} solver)")

# %% [markdown]
# What this shows, at the scale of a 0.9 M-parameter model that knows 96 instructions: almost every proposal is
# a copy or a near-copy of a template it was tuned on, or misspelt, and the filter removes it. Of the few it keeps,
# read the list above: some are usable new phrasings, others are mixtures of two templates that no longer ask
# for one clear thing — and pass every check, because the filter catches copies and unknown words, not meaning
# (Section 3). A few copies belong to *another* task (printed above): when that happens, the inputs written for
# the instruction are valid for the task it was proposed for, so that task's solver labels them and the example
# teaches a wrong answer. Writing *inputs* works better: for phrasings it never saw (the held-out templates) most
# sampled inputs are valid, which gives new training examples for new phrasings. A large model proposes more
# varied instructions, but the checks stay this shallow.

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
      f"{held_share:.0%} of the inputs written for held-out templates are valid; {len(drifted)} copies came "
      "from another task")

# %% [markdown]
# ## 7 · Real files: Alpaca JSON and chat `messages` JSONL
# `itlib.data.save_examples` writes both formats (atomically, never overwriting); `load_examples` reads them
# back. A `messages` file keeps only user and assistant turns, so the input is merged into the user's text.

# %%
import json
import tempfile
from pathlib import Path

from itlib.data import DataError, load_examples, save_examples

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
# **Real human-written data.** When the course repository sits next to the shared data folder, we also read the
# 175 seed tasks of Self-Instruct. Their records hold a list of `instances` — not the flat Alpaca shape — so the
# loader refuses them with a message that says so; expanding the instances gives loadable records.
# (In your own clone this folder does not exist and the cell says so.)

# %%
seed_file = Path("../../shared/data/self_instruct_seed_tasks.jsonl")
seed_instructions = []
if seed_file.exists():
    try:
        load_examples(seed_file)
    except DataError as err:
        print("DataError:", err)
    records = [json.loads(line) for line in seed_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    flat = [{"instruction": r["instruction"], "input": inst["input"], "output": inst["output"],
             "kind": "classification" if r["is_classification"] else "generation"}
            for r in records[:8] for inst in r["instances"]]
    (folder / "seed.jsonl").write_text("".join(json.dumps(f, ensure_ascii=False) + "\n" for f in flat),
                                       encoding="utf-8")
    real = load_examples(folder / "seed.jsonl")
    print(f"\nconverted {len(real)} records, e.g. {real[1].instruction!r} -> {real[1].output[:60]!r}")
    seed_instructions = [r["instruction"] for r in records]
else:
    print(f"{seed_file} not found: skipping the real seed tasks")

# %%
if seed_instructions:
    Rs = ds.pairwise_rouge_l(seed_instructions)
    seed_nearest = np.where(~np.eye(len(Rs), dtype=bool), Rs, 0).max(axis=1)
    diversity.loc["Self-Instruct seeds"] = [
        ds.distinct_n(seed_instructions, 1), ds.distinct_n(seed_instructions, 2), np.nan, np.nan,
        seed_nearest.mean(), (seed_nearest >= 0.7).mean()]
    assert seed_nearest.mean() < nearest.mean() - 0.15   # real instructions are far apart; ours come in pairs
    print(f"✓ nearest-neighbour ROUGE-L: seeds {seed_nearest.mean():.2f} vs suite {nearest.mean():.2f}")
diversity.round(3)

# %% [markdown]
# ## 8 · A bad record
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
# - **Diversity**: distinct-n and ROUGE-L; mirror-image tasks look alike to ROUGE-L, and the data repeats its
#   instructions far more than the template list suggests.
# - **Difficulty** here is input length; it lengthens some answers and not others.
# - **Bias**: balanced labels, yet skewed answers (max → 9) and many one-word answers a lazy model can exploit.
# - **Generation**: rules give exact, unlimited data with limited phrasings; a model gives new phrasings that
#   must be filtered — ROUGE-L removes copies (and mirror-image instructions), a reference solver (where you
#   have one) rejects invalid inputs and writes the answers; nothing here checks that a new instruction still
#   means its task.
# - **Files**: Alpaca JSON and chat JSONL load with one clear error per bad record.
#
# **Next:** `03_interactions.ipynb` — one instruction-conditioned backbone for generation, classification and
# sequence labelling.

# %%
print(f"notebook ran in {time.time() - t_start:.0f} s")
