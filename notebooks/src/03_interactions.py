# %% [markdown]
# # 03 · How instruction and input interact: generation, classification, labelling
#
# **Learning goals.** After this notebook you can
# 1. use one instruction-conditioned backbone in three ways — *conditional generation*, *sequence
#    classification* and *sequence labelling* — and say what each one reads from the model;
# 2. build a classification head on the last hidden state of f(X, I), a tagging head on the hidden states
#    of the input's items, and a *verbaliser* that classifies with the LM itself and no new parameters;
# 3. score each with its fitting metric (exact match, accuracy, tag precision / recall / F1) against a
#    majority baseline, and see that the *instruction* decides which labels and tags are in play.
#
# **The idea.** The backbone reads f(X, I) — instruction and input as one token sequence — and gives a hidden
# state $h_t$ at every position $t$. What we put on top decides the kind of output:
#
# | way | output | model on top of $h$ | trained with |
# |---|---|---|---|
# | conditional generation | a token sequence $Y$ | the LM head | $-\sum_t \log P(y_t \mid f(X,I), y_{<t})$ |
# | sequence classification | one label $y$ | $p(y \mid X, I) = \mathrm{softmax}(W h_{\text{last}} + b)$ | $-\log p(y \mid X, I)$ |
# | … or a verbaliser | one label word $y$ | $\hat y = \arg\max_y \log P_{\text{LM}}(y \mid f(X, I))$ | nothing new (or the LM loss) |
# | sequence labelling | one tag $z_j$ per input item $j$ | $p(z_j \mid X, I) = \mathrm{softmax}(W h_{t_j} + b)$ | $-\sum_j \log p(z_j \mid X, I)$ |
#
# $h_{\text{last}}$ is the hidden state of the last token of f(X, I): in a causal model it is the first
# position that has read the whole instruction *and* the whole input. $t_j$ is the last token of the input's
# $j$-th item. Because the instruction is part of f(X, I), it shapes every $h_t$ after it — the same input
# item can get a different tag under a different instruction.

# %%
import copy
import time

import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn.functional as F

import itlib
from itlib.evaluate import evaluate, exact_match, tag_prf
from itlib.formats import prompt_ids
from itlib.heads import (
    SequenceClassifier,
    TokenTagger,
    encode_classification,
    encode_tagging,
    item_positions,
    label_logprobs,
    majority_baseline,
    predict_labels,
    predict_tags,
    train_head,
    verbalise,
)
from itlib.metrics import two_se
from itlib.tasks import get_task, suite_splits
from itlib.train import collate, fit

torch.set_num_threads(2)
torch.manual_seed(0)
t_start = time.time()

# %% [markdown]
# ## The data: the suite's classification and labelling tasks
# Two classification tasks (`sentiment`: positive / negative, `contains_animal`: yes / no) and two labelling
# tasks (`word_type`: NUM / COL / ANI per item, `digit_parity`: E / O per digit). `suite_splits` keeps the
# test inputs out of training; `test_templates` also uses instruction phrasings never seen in training.

# %%
base, tok = itlib.load_base()
splits = suite_splits(n_train_per_task=300, n_test_per_task=60, seed=0, tasks=["classify", "label"])
train, test, test_phr = splits["train"], splits["test_inputs"], splits["test_templates"]


def of_kind(examples, kind):
    return [e for e in examples if e.kind == kind]


cls_train, cls_test, cls_phr = (of_kind(s, "classification") for s in (train, test, test_phr))
lab_train, lab_test, lab_phr = (of_kind(s, "labelling") for s in (train, test, test_phr))
LABELS = [y for t in ("sentiment", "contains_animal") for y in get_task(t).labels]  # one head for both tasks
TAGS = [z for t in ("word_type", "digit_parity") for z in get_task(t).labels]
print({name: len(s) for name, s in splits.items() if s}, "| labels:", LABELS, "| tags:", TAGS)
pd.DataFrame([{"task": e.task, "kind": e.kind, "instruction": e.instruction, "input": e.input, "output": e.output}
              for e in [next(e for e in train if e.task == t) for t in
                        ("sentiment", "contains_animal", "word_type", "digit_parity")]])

# %% [markdown]
# ## Baselines: the majority answer, and a verbaliser on the untuned base
# The **majority baseline** answers every test example of a task with that task's most frequent training
# label (or, for labelling, its most frequent tag at every item). Anything worth having must beat it.
#
# The **verbaliser** needs no training at all: write f(X, I), then ask the LM how likely each label word is
# as the continuation, and pick the likeliest. Here it is by hand for one example — every label word of the
# suite is a single token, so $\log P(y \mid f(X,I))$ is one entry of the next-token distribution:

# %%
example = cls_test[0]
ids = torch.tensor([prompt_ids(example, tok)])
with torch.no_grad():
    next_logp = base(input_ids=ids).logits[0, -1].log_softmax(-1)  # log P(next token | f(X, I))
by_hand = {}
for y in get_task(example.task).labels:
    (token,) = tok(y, add_special_tokens=False)["input_ids"]  # one token per label word
    by_hand[y] = next_logp[token].item()
library = label_logprobs(base, tok, [example])[0]  # the library version: sums over a label's tokens
print(example.instruction, "|", example.input, "| reference:", example.output)
print({y: round(v, 3) for y, v in by_hand.items()}, "-> verbaliser picks", max(by_hand, key=by_hand.get))
assert all(abs(by_hand[y] - library[y]) < 1e-4 for y in by_hand)
print("✓ by hand = itlib.heads.label_logprobs")

# %%
refs_cls = [e.output for e in cls_test]
refs_lab = [e.output for e in lab_test]
majority_acc = exact_match(majority_baseline(train, cls_test), refs_cls)
majority_f1 = tag_prf(majority_baseline(train, lab_test), refs_lab)["f1"]
base_verbal = verbalise(base, tok, cls_test)
base_verbal_acc = exact_match(base_verbal, refs_cls)
print(f"majority baseline: accuracy {majority_acc:.2f}, tag F1 {majority_f1:.2f}")
print(f"verbaliser on the untuned base: accuracy {base_verbal_acc:.2f} "
      f"({base_verbal_acc - majority_acc:+.2f} ± {two_se(base_verbal_acc, majority_acc, len(cls_test)):.2f} vs the majority baseline)")
pd.crosstab(pd.Series(refs_cls, name="reference"), pd.Series(base_verbal, name="base verbaliser says"))

# %% [markdown]
# The untuned base never saw an instruction; compare its verbaliser with the majority baseline (the line above,
# with its spread). If it is above, that is **zero-shot prompting**: its corpus has sentences like "The review
# 'nice fun' is positive." and "Any animal in red 3 fox? yes.", so after a review the label word that fits it can
# already be the likelier continuation — the verbaliser only has to compare the label words, never to produce the
# format. The table puts each reference label (rows) against what the verbaliser said (columns): the diagonal is
# right, everything off it is a mistake — read which label it confuses with which. (At a far larger scale GPT-3
# showed that a pretrained LM classifies zero-shot, and FLAN (Wei et al., 2021) that instruction tuning lifts
# zero-shot accuracy further.)
#
# ## Way 1 · Conditional generation
# Tune the whole LM on all four tasks with the answer-token loss (`itlib.train.fit`, as in notebooks 00–01).
# The model then *writes* its answer: a label word, or a whole tag sequence. Exact match scores it; on the
# classification examples exact match is accuracy, on the labelling ones we also get tag F1.

# %%
lm = copy.deepcopy(base)
lm_fit = fit(lm, tok, train, fmt="prefix", epochs=3, lr=2e-3, batch_tokens=1024, seed=0)
gen = evaluate(lm, tok, test)
gen_phr = evaluate(lm, tok, test_phr)
tuned_verbal_acc = exact_match(verbalise(lm, tok, cls_test), refs_cls)
print(f"{lm_fit.steps} steps in {lm_fit.seconds:.0f} s")
print(f"exact match {gen['exact_match']:.2f} | accuracy {gen['accuracy']:.2f} | tag F1 {gen['labelling']['f1']:.2f}")
print(f"the same tuned LM used as a verbaliser: accuracy {tuned_verbal_acc:.2f}")
pd.DataFrame({"reference": [e.output for e in test[:6]], "generated": gen["predictions"][:6]},
             index=[e.task for e in test[:6]])

# %% [markdown]
# ## Way 2 · Sequence classification: a head on the last hidden state
# `SequenceClassifier(backbone, n_labels)` puts a linear layer $W h_{\text{last}} + b$ on the backbone's final
# hidden states. One head serves both tasks: its 4 outputs are `positive, negative, yes, no`, and nothing
# but the instruction tells it which pair a question is about. The key lines, written out on one batch
# (right-padded by `itlib.train.collate`):

# %%
torch.manual_seed(0)
clf = SequenceClassifier(copy.deepcopy(base), len(LABELS), LABELS)
data_cls = encode_classification(cls_train, tok, LABELS)  # prompt ids + label index
batch = collate([d.as_rendered() for d in data_cls[:8]], tok.pad_token_id)
labels = torch.tensor([d.labels[0] for d in data_cls[:8]])

h = clf.backbone.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
last = batch["attention_mask"].sum(dim=1) - 1            # right padding: the last real token
logits = clf.head(h[torch.arange(len(last)), last])      # (8, 4)
loss = -logits.log_softmax(dim=-1)[torch.arange(len(labels)), labels].mean()
print("hidden states", tuple(h.shape), "-> logits", tuple(logits.shape), f"-> loss {loss.item():.3f}")
assert torch.allclose(logits, clf(batch["input_ids"], batch["attention_mask"]), atol=1e-5)
assert torch.allclose(loss, F.cross_entropy(logits, labels))
print("✓ by hand = SequenceClassifier, and the loss = torch.nn.functional.cross_entropy")

# %% [markdown]
# `itlib.train.fit` only knows the LM loss, so `itlib.heads.train_head` is the same loop (length-grouped
# batches, `collate`, AdamW, warm-up + cosine) with the head's cross-entropy. The backbone trains too.

# %%
clf_fit = train_head(clf, tok, data_cls, epochs=2, lr=2e-3, batch_tokens=1024, seed=0)
clf_pred = predict_labels(clf, tok, cls_test)
clf_acc = exact_match(clf_pred, refs_cls)
clf_acc_phr = exact_match(predict_labels(clf, tok, cls_phr), [e.output for e in cls_phr])
in_label_set = sum(p in get_task(e.task).labels for p, e in zip(clf_pred, cls_test)) / len(cls_test)
print(f"{clf_fit.steps} steps in {clf_fit.seconds:.0f} s: accuracy {clf_acc:.2f} (new phrasings {clf_acc_phr:.2f})")
print(f"answers from the label pair the instruction asks about: {in_label_set:.0%} (4 outputs to choose from)")

# %% [markdown]
# ## Way 3 · Sequence labelling: a tag per input item
# `TokenTagger(backbone, n_tags)` puts a linear layer on *every* hidden state, and we read it at the last token
# of each input item — `item_positions` finds them with the tokenizer's character offsets. Here is the
# alignment for one example: the head is read where the marker is, and only there does a tag carry loss.

# %%
example = lab_train[0]
ids = prompt_ids(example, tok)
read = item_positions(example, tok)
tags = iter(example.output.split())
pd.DataFrame({"token": tok.convert_ids_to_tokens(ids)[read[0] - 3: read[-1] + 3],
              "read here": ["▲" if p in read else "" for p in range(read[0] - 3, read[-1] + 3)],
              "tag": [next(tags) if p in read else "" for p in range(read[0] - 3, read[-1] + 3)]}).T

# %% [markdown]
# One tagger for both tasks, 5 outputs (`NUM COL ANI E O`). A digit is `NUM` under the word-type instruction
# and `E` or `O` under the parity one: only the instruction can tell the head which.

# %%
torch.manual_seed(0)
tagger = TokenTagger(copy.deepcopy(base), len(TAGS), TAGS)
tag_fit = train_head(tagger, tok, encode_tagging(lab_train, tok, TAGS), epochs=2, lr=2e-3, batch_tokens=1024, seed=0)
tag_scores = tag_prf(predict_tags(tagger, tok, lab_test), refs_lab)
tag_scores_phr = tag_prf(predict_tags(tagger, tok, lab_phr), [e.output for e in lab_phr])
print(f"{tag_fit.steps} steps in {tag_fit.seconds:.0f} s: tag precision {tag_scores['precision']:.2f}, "
      f"recall {tag_scores['recall']:.2f}, F1 {tag_scores['f1']:.2f} (new phrasings F1 {tag_scores_phr['f1']:.2f})")

# %% [markdown]
# **The instruction decides the tag set.** Take the parity test inputs (digits only) and ask the same tagger
# both questions about exactly the same input tokens:

# %%
from itlib.data import Example

parity = [e for e in lab_test if e.task == "digit_parity"]
word_type = get_task("word_type")
as_word_type = [Example(word_type.templates[0], e.input, word_type.solve(e.input), task="word_type",
                        kind="labelling") for e in parity]
tags_parity = predict_tags(tagger, tok, parity)
tags_word_type = predict_tags(tagger, tok, as_word_type)
f1_parity = tag_prf(tags_parity, [e.output for e in parity])["f1"]
f1_word_type = tag_prf(tags_word_type, [e.output for e in as_word_type])["f1"]
print(f"same inputs, parity instruction: F1 {f1_parity:.2f}; word-type instruction: F1 {f1_word_type:.2f}")
pd.DataFrame({"input": [e.input for e in parity[:4]], parity[0].instruction: tags_parity[:4],
              word_type.templates[0]: tags_word_type[:4]})

# %% [markdown]
# ## The three ways side by side
# Training losses first — each way minimises its own cross-entropy: generation over the 1024-token vocabulary,
# the heads over 4 labels or 5 tags (a uniform guess costs $\ln 1024 \approx 6.9$, $\ln 4 \approx 1.4$ and
# $\ln 5 \approx 1.6$) — then the scores on new inputs and on new phrasings of the instructions.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
for name, res in (("generation (LM loss)", lm_fit), ("classification head", clf_fit), ("tagging head", tag_fit)):
    axes[0].plot(pd.Series(res.losses).rolling(5, min_periods=1).mean(), label=name)
axes[0].set_yscale("log"); axes[0].set_xlabel("step"); axes[0].set_ylabel("cross-entropy"); axes[0].legend()
axes[0].set_title("training loss")
ways = ["verbaliser\n(untuned)", "generation\naccuracy", "verbaliser\n(tuned LM)", "classification\nhead",
        "generation\ntag F1", "tagging\nhead"]
values = [base_verbal_acc, gen["accuracy"], tuned_verbal_acc, clf_acc, gen["labelling"]["f1"], tag_scores["f1"]]
axes[1].bar(ways, values, color=["grey"] + ["C0"] * 3 + ["C1"] * 2)
axes[1].hlines([majority_acc, majority_f1], [-0.4, 3.6], [3.4, 5.4], colors="k", linestyles="--", label="majority")
axes[1].set_ylim(0, 1.05); axes[1].set_ylabel("accuracy / tag F1"); axes[1].legend(loc="lower right")
axes[1].set_title("new inputs (dashed: majority baseline)"); axes[1].tick_params(axis="x", labelsize=8)
plt.tight_layout()
plt.show()

# %%
nan = float("nan")
table = pd.DataFrame(
    [
        ["majority baseline", majority_acc, nan, majority_f1, nan, nan, 0, 0, 0],
        ["verbaliser, untuned base", base_verbal_acc, nan, nan, nan, nan, 0, 0, 0],
        ["conditional generation", gen["accuracy"], gen_phr["accuracy"], gen["labelling"]["f1"],
         gen_phr["labelling"]["f1"], gen["exact_match"], len(train), lm_fit.steps, 0],
        ["verbaliser, tuned LM", tuned_verbal_acc, nan, nan, nan, nan, len(train), lm_fit.steps, 0],
        ["classification head", clf_acc, clf_acc_phr, nan, nan, nan, len(cls_train), clf_fit.steps,
         sum(p.numel() for p in clf.head.parameters())],
        ["tagging head", nan, nan, tag_scores["f1"], tag_scores_phr["f1"], nan, len(lab_train), tag_fit.steps,
         sum(p.numel() for p in tagger.head.parameters())],
    ],
    columns=["way", "accuracy", "accuracy (new phrasings)", "tag F1", "tag F1 (new phrasings)", "exact match",
             "training examples", "training steps", "new parameters"],
).set_index("way")
table.round(3).astype(object).where(table.notna(), "–")

# %% [markdown]
# **Reading the table.** Compare every row with the majority baseline, and the new-phrasings columns with the
# new-inputs ones. Note the budgets: the LM trained on all four tasks (both kinds) for more epochs, each head on
# its own kind only (columns *training examples* and *training steps*), and each head adds a few hundred
# parameters while generation reuses the LM head it already had. With this much data the ways may all sit at or
# near the ceiling, and then the table cannot tell them apart — the next section gives them equal, small budgets.
#
# **Check.** What this section claims, asserted with wide margins (the messages say what was measured):

# %%
assert base_verbal_acc >= majority_acc + 0.1, (base_verbal_acc, majority_acc)   # zero-shot: above the baseline
assert tuned_verbal_acc >= base_verbal_acc + 0.1, (tuned_verbal_acc, base_verbal_acc)  # ... tuning lifts it
for name, acc in (("generation", gen["accuracy"]), ("tuned verbaliser", tuned_verbal_acc),
                  ("classification head", clf_acc)):
    assert acc >= majority_acc + 0.3, (name, acc, majority_acc)
for name, f1 in (("generation", gen["labelling"]["f1"]), ("tagging head", tag_scores["f1"])):
    assert f1 >= majority_f1 + 0.35, (name, f1, majority_f1)
assert gen["exact_match"] >= 0.8, gen["exact_match"]
assert min(clf_acc_phr, tag_scores_phr["f1"], gen_phr["exact_match"]) >= 0.75  # new phrasings too
print(f"✓ every way beats its majority baseline by a wide margin; the untuned verbaliser is above it "
      f"({base_verbal_acc:.2f} vs {majority_acc:.2f}) and the tuned one far above ({tuned_verbal_acc:.2f})")
assert in_label_set >= 0.95, in_label_set
assert f1_parity >= 0.9 and f1_word_type >= 0.9, (f1_parity, f1_word_type)
print("✓ the instruction decides the label set and the tag set: same input, different tags")

# %% [markdown]
# ## Equal budgets, little data: where the three ways differ
# A fair comparison gives every way **the same examples and the same steps**: here 16 examples per task (32 per
# kind), batches of 4 examples, 4 epochs, the same learning rate — so every run takes exactly the same number of
# steps. Generation tunes the whole LM on the kind's examples; the classification and tagging heads train on the
# very same examples. Three draws of the data (and of the heads' initial weights) show how much of a difference
# is the draw. What to look for: the LM head *already knows* the label words from pretraining, while a new head
# starts from random weights; and writing a tag sequence means producing the format, the tagging head only picks
# one of 5 tags per item.

# %%
import numpy as np

N_PER_TASK, DRAWS = 16, (0, 1, 2)
rows = []
for draw in DRAWS:
    small = suite_splits(n_train_per_task=N_PER_TASK, n_test_per_task=60, seed=draw, tasks=["classify", "label"])
    budget = {"epochs": 4, "lr": 2e-3, "batch_tokens": 10**6, "max_batch": 4, "seed": draw, "progress": False}
    for kind in ("classification", "labelling"):
        tr, te = of_kind(small["train"], kind), of_kind(small["test_inputs"], kind)
        refs = [e.output for e in te]
        lm_small = copy.deepcopy(base)
        steps_lm = fit(lm_small, tok, tr, fmt="prefix", **budget).steps
        generated = evaluate(lm_small, tok, te)["predictions"]
        torch.manual_seed(draw)
        if kind == "classification":
            head = SequenceClassifier(copy.deepcopy(base), len(LABELS), LABELS)
            steps_head = train_head(head, tok, encode_classification(tr, tok, LABELS), **budget).steps
            preds = {"generation": generated, "classification head": predict_labels(head, tok, te),
                     "verbaliser (tuned LM)": verbalise(lm_small, tok, te)}
        else:
            head = TokenTagger(copy.deepcopy(base), len(TAGS), TAGS)
            steps_head = train_head(head, tok, encode_tagging(tr, tok, TAGS), **budget).steps
            preds = {"generation": generated, "tagging head": predict_tags(head, tok, te)}
        assert steps_lm == steps_head, (steps_lm, steps_head)  # equal steps, equal examples
        preds["majority baseline"] = majority_baseline(tr, te)  # the draw's own floor
        for way, p in preds.items():
            score = tag_prf(p, refs)["f1"] if kind == "labelling" else exact_match(p, refs)
            rows.append({"draw": draw, "kind": kind, "way": way, "examples": len(tr), "steps": steps_lm,
                         "score": score})
small_table = pd.DataFrame(rows).pivot_table(index=["kind", "way"], columns="draw", values="score")
small_table["mean"] = small_table.mean(axis=1)
print(f"{N_PER_TASK} examples per task, {rows[0]['steps']} steps for every way; score = accuracy "
      "(classification) or tag F1 (labelling), on 120 new inputs per kind and draw")
small_table.round(2)

# %%
scores = small_table[list(DRAWS)]                   # one column per draw, in the table's metric
diffs = {}
for kind, (a, b) in (("classification", ("generation", "classification head")),
                     ("labelling", ("tagging head", "generation"))):
    d = scores.loc[(kind, a)] - scores.loc[(kind, b)]  # one difference per draw
    diffs[kind] = d
    between = 2 * d.std(ddof=1) / np.sqrt(len(d))      # two standard errors of the mean, between draws
    if d.min() > 0 or d.max() < 0:
        order = f"{a if d.min() > 0 else b} is ahead in every draw"
    else:
        order = "the draws disagree on which is ahead"
    where = "beyond" if abs(d.mean()) > between else "within"
    metric = "accuracy" if kind == "classification" else "tag F1"
    print(f"{kind} ({metric}): {a} − {b} per draw " + ", ".join(f"{v:+.2f}" for v in d)
          + f" (range {d.min():+.2f} to {d.max():+.2f}); mean {d.mean():+.2f} ± {between:.2f} between draws "
          f"→ {order}; the mean is {where} the between-draw spread")

# %% [markdown]
# **Check.** Which way is ahead is printed above draw by draw, with the range of the differences; it is not
# asserted, because with three small draws the order is only as firm as that range. What is asserted is what holds
# in every draw: each way, on the small budget, beats the majority baseline of its own draw (accuracy for
# classification, tag F1 for labelling).

# %%
MARGIN = 0.05  # the least lead over its draw's majority baseline asked of every way in every draw
margins = {(kind, way): scores.loc[(kind, way)] - scores.loc[(kind, "majority baseline")]
           for kind, way in scores.index if way != "majority baseline"}
for (kind, way), m in margins.items():
    assert m.min() >= MARGIN, (kind, way, m.round(3).tolist())
weakest = min(margins, key=lambda k: margins[k].min())
print(f"✓ equal data ({2 * N_PER_TASK} examples per kind) and equal steps ({rows[0]['steps']}): in each of the "
      f"{len(DRAWS)} draws every way beats its majority baseline; the smallest margin is "
      f"{margins[weakest].min():+.2f} ({weakest[1]}, {weakest[0]})")
print(f"  with the full data above (LM: {len(train)} examples, {lm_fit.steps} steps; head: {len(cls_train)} "
      f"examples, {clf_fit.steps} steps) generation and the classification head scored "
      f"{gen['accuracy']:.2f} / {clf_acc:.2f}")

# %% [markdown]
# ## Exercises

# %%
from itlib.exercises import nb03 as ex

ex.q1

# %%
my_last_index = ...  # replace with your function: `def my_last_index(attention_mask): ...`
ex.q1.check(my_last_index)

# %%
# ex.q1.hint()
# ex.q1.solution()

# %%
ex.q2

# %%
my_f1 = ...  # a number between 0 and 1
ex.q2.check(my_f1)

# %%
ex.q3

# %%
my_label = ...  # one of "positive", "negative", "so so", "mixed"
ex.q3.check(my_label)

# %% [markdown]
# ## Summary and next
# - One backbone, three readouts: the **LM head** generates the answer (exact match), a **classification
#   head** on the last hidden state of f(X, I) gives one label (accuracy), a **tagging head** on the items'
#   hidden states gives one tag each (tag precision / recall / F1).
# - A **verbaliser** classifies with the LM itself: $\arg\max_y \log P(y \mid f(X, I))$ — compare it with the
#   majority baseline before tuning (zero-shot prompting) and with generation after it.
# - A fair comparison needs equal data and steps, a regime below the ceiling, and several draws: with little
#   data, compare a readout that reuses what pretraining learnt (the LM head and its label words) with a new one
#   draw by draw — an order is only as firm as the spread between draws.
# - The instruction is part of the input the heads read: it chooses which labels and which tags are in play.
#
# **Next:** `04_embeddings.ipynb` — turning the instruction itself into a vector $e_I$, and seeing paraphrases
# cluster while tasks separate.

# %%
print(f"notebook ran in {time.time() - t_start:.0f} s")
