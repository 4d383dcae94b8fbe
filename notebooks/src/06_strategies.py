# %% [markdown]
# # 06 · Fine-tuning strategies — what to train, what the loss sees, how tasks share
#
# **Learning goals.** After this notebook you can
# 1. tune a model fully or *partially* — only the top layers, only bias vectors (BitFit), or low-rank adapters
#    (LoRA, by hand and with `peft`) — and read the trade-off: trainable parameters, time, accuracy, forgetting;
# 2. explain why a partial method fails when the tuning data uses tokens the base model never saw, and fix it;
# 3. compare multi-task tuning with one model per task, and with meta-learning (Reptile) on a task never seen;
# 4. add noise to the embeddings while training (NEFTune) and distil a tuned teacher into a smaller student.
#
# **The idea.** Every strategy minimises the answer loss of notebook 01, but restricts *what* may change, *what*
# the loss sees, or *how* the tasks are visited. With pretrained weights $\theta_0$ and an update $\Delta$:
#
# | strategy | what trains | in formulas |
# |---|---|---|
# | full fine-tuning | everything | $\theta = \theta_0 + \Delta$ |
# | top layers / bias-only | a subset $S$ | $\Delta_i = 0$ for $i \notin S$ |
# | LoRA | a low-rank update of each matrix | $W x \;\to\; W x + \tfrac{\alpha}{r} B A x$, $A \in \mathbb{R}^{r \times d_{in}}$ random, $B \in \mathbb{R}^{d_{out} \times r}$ zero at the start |
# | NEFTune | everything, on noisy inputs | $e_t \to e_t + \epsilon_t$, $\epsilon_t \sim U[-s, s]^d$, $s = \alpha / \sqrt{L d}$ |
# | distillation | a smaller student | $T^2\, \mathrm{KL}\big(\mathrm{softmax}(z^{\text{teacher}}/T)\,\|\,\mathrm{softmax}(z^{\text{student}}/T)\big)$ on the answer tokens |
# | multi-task | everything, all tasks mixed | $\min_\theta \sum_{\text{tasks}} \mathcal{L}_{\text{task}}(\theta)$ |
# | Reptile | everything, task by task | $\theta \leftarrow \theta + \epsilon\,(\phi_{\text{task}} - \theta)$, $\phi_{\text{task}}$ = a few steps on one task |
#
# Every strategy starts from the same shipped base model and gets the same data and the same budget: two and a
# half passes over 250 examples of each of four tasks. That is a small fraction of notebook 00's recipe, so the absolute scores
# are modest — the *differences* between strategies are what we read, and every claim is asserted.

# %%
import copy
import math
import time
from collections import Counter

import itlib
import matplotlib.pyplot as plt
import pandas as pd
import torch

from itlib import strategies as S
from itlib.evaluate import evaluate, generate
from itlib.formats import render
from itlib.metrics import two_se
from itlib.pretrain import corpus_loss, corpus_splits
from itlib.tasks import suite_splits
from itlib.train import fit

torch.set_num_threads(2)
t_start = time.time()

# %% [markdown]
# ## 1 · Base model, data, budget
# Four tasks from four clusters are *seen* in training; a fifth, `min_digit`, is held out for meta-learning (with 16
# examples to adapt on). Test sets: new inputs of the seen tasks, the same with held-out phrasings (templates), and the
# held-out task. *Forgetting* is measured on the base model's own world: its mean next-token loss on 150 held-out
# documents of the pretraining corpus, after tuning minus before.

# %%
base, tokenizer = itlib.load_base()
TASKS = ["max_digit", "last_item", "sentiment", "word_type"]
HELD_OUT = "min_digit"
splits = suite_splits(n_train_per_task=250, n_test_per_task=30, seed=0, tasks=TASKS)
train, test_inputs, test_templates = splits["train"], splits["test_inputs"], splits["test_templates"]
held = suite_splits(n_train_per_task=16, n_test_per_task=90, seed=0, tasks=[HELD_OUT])

corpus_train, corpus_heldout = corpus_splits()
docs = corpus_heldout[:150]
RECIPE = {"epochs": 2.5, "lr": 3e-3, "batch_tokens": 512, "seed": 0}  # the same budget for every strategy
print(f"train {len(train)} examples, test {len(test_inputs)} + {len(test_templates)}; "
      f"held-out task: {len(held['train'])} to adapt on, {len(held['test_inputs'])} to test")

rows = []  # one row per strategy: the comparison table


def measure(name, model, seconds, n_trainable=None):
    """Exact match on new inputs and on held-out phrasings, and the corpus loss (for forgetting)."""
    seen = evaluate(model, tokenizer, test_inputs)
    rows.append({"strategy": name,
                 "trainable params": S.trainable(model)[0] if n_trainable is None else n_trainable,
                 "train s": seconds, "EM seen tasks": seen["exact_match"],
                 "EM held-out templates": evaluate(model, tokenizer, test_templates)["exact_match"],
                 "corpus loss": corpus_loss(model, tokenizer, docs)})
    return seen


measure("base (no tuning)", base, 0.0, n_trainable=0)
pd.DataFrame(rows).round(3)

# %% [markdown]
# ## 2 · Full fine-tuning
# All parameters train: `fit` with the recipe above. This is also our **multi-task** model (all four tasks mixed)
# and, later, the **teacher**.

# %%
full = copy.deepcopy(base)
res_full = fit(full, tokenizer, train, **RECIPE)
full_report = measure("full fine-tuning", full, res_full.seconds)
print(f"{res_full.steps} steps, {res_full.seconds:.0f} s; exact match {full_report['exact_match']:.2f}, per task",
      {k: round(v, 2) for k, v in full_report["per_task"].items()})

plt.figure(figsize=(6, 2.6))
plt.plot(pd.Series(res_full.losses).rolling(10, min_periods=1).mean())
plt.yscale("log"); plt.xlabel("step"); plt.ylabel("answer loss"); plt.title("full fine-tuning")
plt.show()

# %% [markdown]
# ## 3 · Partial fine-tuning, and the tokens the base never saw
# Freeze most of the model, train a small part. First a question: which tokens of our instruction data did the base
# model *never* meet in pretraining? The tokenizer was built on the corpus and the task suite together, so such
# tokens exist — and their embedding rows are still the random numbers they were initialised with.

# %%
new_ids = S.unseen_token_ids(tokenizer, train, corpus_train[:5000])
counts = Counter(i for ex in train for i in render(ex, tokenizer).input_ids)
share_new = sum(counts[i] for i in new_ids) / sum(counts.values())
print(f"{len(new_ids)} token types in the training data never occur in 5 000 pretraining documents; "
      f"they are {share_new:.0%} of all training tokens. The most frequent:")
print(tokenizer.convert_ids_to_tokens(sorted(new_ids, key=lambda i: -counts[i])[:16]))

# %% [markdown]
# `Instruction`, `Input`, `Answer` … the template itself is made of unseen tokens.
# The sequence markers `<s>` and `</s>` count as new too: pretraining only put them around whole documents, while
# here `</s>` must end every answer. A partial method that keeps these embeddings frozen has to work *around* random
# vectors. The usual fix for new tokens (in `peft`: `trainable_token_indices` or `modules_to_save`) is to train those
# rows too: `S.train_embedding_rows(model, new_ids)` masks the gradient of every other row. We give every partial
# method these rows — and, to see whether it matters, train LoRA once without them.
#
# **LoRA by hand.** A frozen linear layer plus a low-rank detour, in a few lines:

# %%
class HandLoRA(torch.nn.Module):
    def __init__(self, base_layer: torch.nn.Linear, r=8, alpha=16):
        super().__init__()
        self.base_layer, self.scaling = base_layer, alpha / r
        self.A = torch.nn.Parameter(torch.randn(r, base_layer.in_features) / base_layer.in_features ** 0.5)
        self.B = torch.nn.Parameter(torch.zeros(base_layer.out_features, r))   # zero: starts as the base layer

    def forward(self, x):
        return self.base_layer(x) + self.scaling * (x @ self.A.T @ self.B.T)   # W x + (alpha/r) B A x


q_proj = copy.deepcopy(base.model.layers[0].self_attn.q_proj)  # one 128 x 128 layer of the base
mine, library = HandLoRA(q_proj), S.LoRALinear(q_proj, r=8, alpha=16)
x = torch.randn(3, 128)
with torch.no_grad():
    starts_as_base = torch.allclose(mine(x), q_proj(x))
    mine.B.normal_()                                    # pretend B was trained
    library.lora_A.copy_(mine.A)
    library.lora_B.copy_(mine.B)
    print(f"starts as the base layer: {starts_as_base}; hand == library (same A, B): "
          f"{torch.allclose(mine(x), library(x), atol=1e-5)}")

# %% [markdown]
# `S.add_lora(model, r, alpha, targets)` puts such an adapter (`S.LoRALinear`, the same lines) on every attention and
# MLP matrix. Now the partial strategies, same data and steps. Small parameter subsets usually want a larger step, so
# bias-only uses lr 1e-2; everything else keeps 3e-3.
#
# **Bias-only, honestly.** The Llama base has *no* bias vectors. `S.bias_only` adds zero biases to every linear layer
# (so the model computes exactly what it did before) and trains only those: BitFit applied to a bias-free model.
# The other honest option, training only the RMSNorm gains, is `S.freeze_except(model, names=["norm"])`.

# %%
def tune_partial(name, model, lr=RECIPE["lr"], new_rows=True):
    if new_rows:
        S.train_embedding_rows(model, new_ids)
    result = fit(model, tokenizer, train, **{**RECIPE, "lr": lr})
    measure(name, model, result.seconds)
    return model


top2 = tune_partial("top 2 of 4 layers", S.freeze_except(copy.deepcopy(base), top_layers=2))
bitfit = tune_partial("bias-only (BitFit)", S.bias_only(copy.deepcopy(base)), lr=1e-2)
lora = tune_partial("LoRA r=8", S.add_lora(copy.deepcopy(base), r=8, alpha=16))
tune_partial("LoRA r=8, new tokens frozen", S.add_lora(copy.deepcopy(base), r=8, alpha=16), new_rows=False)
pd.DataFrame(rows).set_index("strategy").round(3)

# %% [markdown]
# **LoRA with `peft`.** Copy our trained $A$ and $B$ (and the trained embedding rows) into a `peft` LoRA model: it
# gives the same answers. `S.merge_lora` then folds $\frac{\alpha}{r}BA$ into $W$ — a plain model again, with the
# base's parameter count and no extra cost at inference, ready for `save_model`.

# %%
peft_model = S.lora_with_peft(copy.deepcopy(base), r=8, alpha=16)
with torch.no_grad():
    peft_model.get_input_embeddings().weight.copy_(lora.get_input_embeddings().weight)
S.load_lora_weights(peft_model, S.lora_weights(lora))
ours, theirs = generate(lora, tokenizer, test_inputs), generate(peft_model, tokenizer, test_inputs)
merged = S.merge_lora(copy.deepcopy(lora))
merged_answers = generate(merged, tokenizer, test_inputs)
print(f"peft trains {S.trainable(peft_model)[0]:,} LoRA parameters (we add {len(new_ids)} embedding rows)")
print(f"same answers, ours vs peft: {sum(a == b for a, b in zip(ours, theirs))}/{len(ours)}; "
      f"merged: {sum(a == b for a, b in zip(ours, merged_answers))}/{len(ours)}, "
      f"{S.trainable(merged)[1]:,} parameters like the base's {S.trainable(base)[1]:,}")

# %%
assert torch.allclose(mine(x), library(x), atol=1e-5) and starts_as_base
assert ours == theirs and ours == merged_answers
assert S.trainable(merged)[1] == S.trainable(base)[1]
assert type(merged.model.layers[0].self_attn.q_proj) is torch.nn.Linear
print("✓ hand LoRA = library LoRA = peft LoRA on the same weights, and merging changes no answer")

# %% [markdown]
# ## 4 · Noisy embeddings (NEFTune)
# Adversarial-style training perturbs the input embeddings so that the model cannot rely on their exact values.
# NEFTune adds uniform noise of size $\alpha/\sqrt{L d}$ at every step (`S.neftune_loss(alpha)`, a `fit(loss_fn=...)`);
# FGM (`S.fgm_loss(epsilon)`, in the library and its tests, not run here: it costs about twice as much per step)
# moves them by $\epsilon\, g/\lVert g\rVert$ along the gradient, the worst direction. NEFTune's claim is better answers
# to *new phrasings*, so we look at the held-out templates. How big must a difference be to mean something? Two
# exact-match rates $p$ and $q$ measured on $n$ examples each differ by chance with a standard error of about
# $\sqrt{p(1-p)/n + q(1-q)/n}$; we call a difference real only beyond two of them
# (`itlib.metrics.two_se`).

# %%
neft = copy.deepcopy(base)
res_neft = fit(neft, tokenizer, train, **RECIPE, loss_fn=S.neftune_loss(alpha=5.0))
measure("full + NEFTune α=5", neft, res_neft.seconds)


by_name = pd.DataFrame(rows).set_index("strategy")
f_row, n_row = by_name.loc["full fine-tuning"], by_name.loc["full + NEFTune α=5"]
neft_gain = n_row["EM held-out templates"] - f_row["EM held-out templates"]
neft_noise = two_se(n_row["EM held-out templates"], f_row["EM held-out templates"], len(test_templates))
print(f"held-out templates: full {f_row['EM held-out templates']:.3f}, NEFTune {n_row['EM held-out templates']:.3f} "
      f"(difference {neft_gain:+.3f}, two standard errors {neft_noise:.3f}); "
      f"seen tasks: {f_row['EM seen tasks']:.3f} vs {n_row['EM seen tasks']:.3f}")

# %% [markdown]
# ## 5 · One model for all tasks, or one per task?
# Each per-task model trains on exactly the examples of its task that the multi-task model saw, for the same 2.5
# passes (fewer steps, the same total compute for the four); the multi-task model also sees the other three tasks.
# Does sharing help?

# %%
per_task_models, per_task_seconds = {}, 0.0
for task in TASKS:
    m = copy.deepcopy(base)
    per_task_seconds += fit(m, tokenizer, [e for e in train if e.task == task], **RECIPE).seconds
    per_task_models[task] = m


def per_task_em(tests):
    return {t: evaluate(per_task_models[t], tokenizer, [e for e in tests if e.task == t])["exact_match"]
            for t in TASKS}


single, single_templates = per_task_em(test_inputs), per_task_em(test_templates)
rows.append({"strategy": "one model per task (4 full)", "trainable params": 4 * S.trainable(base)[1],
             "train s": per_task_seconds, "EM seen tasks": sum(single.values()) / len(TASKS),
             "EM held-out templates": sum(single_templates.values()) / len(TASKS),
             "corpus loss": sum(corpus_loss(m, tokenizer, docs) for m in per_task_models.values()) / len(TASKS)})
sharing = pd.DataFrame({"one model per task": single, "multi-task": full_report["per_task"]})
sharing["gain from sharing"] = sharing["multi-task"] - sharing["one model per task"]
sharing.round(2)

# %%
weak = sharing[sharing["one model per task"] < 0.5]
strongest = sharing["one model per task"].idxmax()
print(f"tasks weak on their own (< 0.5): {list(weak.index) or 'none'}; "
      f"largest change from sharing: {sharing['gain from sharing'].abs().max():.2f}")
print(f"the strongest alone, {strongest}: {sharing.loc[strongest, 'gain from sharing']:+.2f}")

# %% [markdown]
# ## 6 · Meta-learning: Reptile, and adapting to a task never seen
# Multi-task tuning minimises the loss on all tasks at once. Reptile instead *learns to adapt*: take a few steps on
# one task (giving $\phi$), move the shared weights part of the way there, $\theta \leftarrow \theta + \epsilon(\phi-\theta)$,
# next task. Its inner loop is `fit` itself; $\epsilon$ falls from 1 to 0 over the run (as in the Reptile paper).
# Same data and the same number of examples seen as the multi-task model.

# %%
meta = copy.deepcopy(base)
res_meta = S.reptile(meta, tokenizer, train, meta_steps=39, inner_steps=4, inner_batch=16, inner_lr=3e-3,
                     meta_lr=1.0, seed=0)
measure("Reptile (meta-learning)", meta, res_meta.seconds)
print(f"{len(res_meta.tasks)} meta-steps of {res_meta.inner_steps} inner steps, {res_meta.seconds:.0f} s")

# %% [markdown]
# The test that matters for meta-learning: a *new* task (`min_digit`, never trained on) with only 16 examples.
# From the base, the multi-task model and the Reptile model, take $k$ steps on those 16 and score the held-out task.

# %%
def adapt(model, steps):
    m = copy.deepcopy(model)
    if steps:
        fit(m, tokenizer, held["train"], epochs=steps / 2, lr=3e-3, batch_tokens=10**9, max_batch=8, seed=0,
            progress=False)
    return evaluate(m, tokenizer, held["test_inputs"])["exact_match"]


STEPS = [0, 4, 8, 16, 32]
adaptation = pd.DataFrame({name: [adapt(m, k) for k in STEPS]
                           for name, m in [("base", base), ("multi-task", full), ("Reptile", meta)]},
                          index=pd.Index(STEPS, name="steps on 16 examples"))
adaptation.plot(marker="o", figsize=(5, 3), title=f"adapting to the held-out task {HELD_OUT}")
plt.ylabel("exact match"); plt.show()
adaptation.round(3)

# %% [markdown]
# ## 7 · Knowledge distillation: a 2-layer student
# The student keeps 2 of the base's 4 blocks (`S.keep_layers(base, [0, 3])`, so it starts from pretrained weights).
# Trained on the data alone, it learns the one right answer per example; distilled from the tuned full model
# (`S.distill_loss(teacher, temperature=2)`), it matches the teacher's whole softened distribution at every answer
# token.

# %%
student_data = S.keep_layers(base, [0, 3])
res_sd = fit(student_data, tokenizer, train, **RECIPE)
measure("2-layer student, data only", student_data, res_sd.seconds)
student_kd = S.keep_layers(base, [0, 3])
res_kd = fit(student_kd, tokenizer, train, **RECIPE, loss_fn=S.distill_loss(full, temperature=2.0))
measure("2-layer student, distilled", student_kd, res_kd.seconds)
pd.DataFrame(rows).set_index("strategy").iloc[-2:].round(3)

# %% [markdown]
# ## 8 · The whole comparison
# Forgetting = corpus loss after − corpus loss of the base, in nats per token. For scale: a model that spreads its
# probability evenly over the vocabulary has a loss of $\log |V|$.

# %%
table = pd.DataFrame(rows).set_index("strategy")
table["forgetting"] = table["corpus loss"] - table.loc["base (no tuning)", "corpus loss"]
print(f"log |V| = {math.log(len(tokenizer)):.2f} nats per token")
table.round({"train s": 1, "EM seen tasks": 2, "EM held-out templates": 2, "corpus loss": 2, "forgetting": 2})

# %%
shown = table.drop(index="base (no tuning)")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
shown[["EM seen tasks", "EM held-out templates"]].plot.barh(ax=ax1)
ax1.invert_yaxis(); ax1.set_xlabel("exact match"); ax1.legend(loc="lower right", fontsize=8)
ax2.barh(shown.index, shown["forgetting"], color="tab:red")
ax2.invert_yaxis(); ax2.set_yticklabels([]); ax2.set_xlabel("forgetting (corpus loss increase, nats)")
plt.tight_layout(); plt.show()

# %% [markdown]
# **Reading the table.**
# - Every partial method lands close to full fine-tuning (within 0.15 exact match) while training a fraction of
#   the parameters. Freezing the template tokens' random rows did *not* hurt LoRA on the seen tasks here: the
#   adapters learnt to work around them. (With the course's first, weaker base model, LoRA without those rows
#   barely learnt.) Training them costs a few thousand parameters and removes one way to fail, so keep them.
# - Full fine-tuning forgets most of the base model's world: its corpus loss more than triples, on the way to the
#   $\log |V|$ of guessing uniformly. Each partial method forgets less than a third as much.
# - Sharing across tasks: every task here is learnt well on its own, and training them together changes each
#   score by at most 0.1 — with a base that already knows the skills, there is little left for sharing to add.
#   (With the course's first base model, two tasks were weak alone and sharing lifted them.)
# - Reptile's weights score low on the seen tasks themselves and forget almost as much as full fine-tuning. On the
#   new task, all three starts learn from 16 examples in a handful of steps — and the **untuned base is never
#   clearly behind**: it knows `min_digit` from prose ("the lowest number in 3 5 2 is 2"), and a few steps connect
#   the instruction to it. Which start adapts fastest is *not* asserted, because it changed from run to run: on
#   three CPUs (whose arithmetic differs in the last digits, so training takes a slightly different path) the base
#   led after 4–16 steps twice, and once the multi-task model caught up with it by 8 steps while Reptile trailed;
#   Reptile beat multi-task on two runs of three. With 16 examples and 90 test items, meta-learning's edge — fast
#   adaptation when the starting point does not already know the skill — is smaller than the noise here.
# - NEFTune did not make the held-out phrasings better: its difference to plain full tuning (printed) is no gain
#   beyond two standard errors — at this scale and with one seed, no evidence that the noise helps; nor does it
#   cost anything measurable on the seen tasks. (Runs on other CPUs, whose arithmetic differs in the last digits
#   and so sends training along a slightly different path, put it between 0.06 and 0.14 below plain tuning.)
# - Distillation: the distilled student beats the data-only one, on both test sets together, by more than two
#   standard errors — and stays below its teacher.
#
# **Check.** Each of these sentences, asserted.

# %%
em, forget = table["EM seen tasks"], table["forgetting"]
partial = ["top 2 of 4 layers", "bias-only (BitFit)", "LoRA r=8"]
assert em["base (no tuning)"] < 0.05 and em["full fine-tuning"] > 0.4
for name in partial:
    assert em[name] >= em["full fine-tuning"] - 0.15, name                        # close to full ...
    assert table.loc[name, "trainable params"] < 0.5 * table.loc["full fine-tuning", "trainable params"]  # ... with less
    assert forget[name] < forget["full fine-tuning"] / 3, name                    # and far less forgetting
base_loss = table.loc["base (no tuning)", "corpus loss"]
assert table.loc["full fine-tuning", "corpus loss"] > 3 * base_loss
print("✓ partial methods come within 0.15 of full fine-tuning and forget less than a third as much "
      f"(full fine-tuning: corpus loss {base_loss:.2f} -> {table.loc['full fine-tuning', 'corpus loss']:.2f})")

assert (sharing["one model per task"] >= 0.8).all() and (sharing["gain from sharing"].abs() <= 0.1).all()
print("✓ every task is learnt alone; sharing changes no task by more than 0.1")

assert em["Reptile (meta-learning)"] < em["full fine-tuning"] - 0.2
assert all(forget["Reptile (meta-learning)"] > 2 * forget[name] for name in partial)
assert adaptation.loc[0, "multi-task"] > adaptation.loc[0, "base"]               # tuned: the format, at 0 steps
assert (adaptation.max() >= 0.4).all()                                           # each start learns the new task
later = adaptation.loc[adaptation.index >= 4]
gap = later.max(axis=1) - later["base"]                                          # behind the best start, per step
n_held = len(held["test_inputs"])
noise = pd.Series({k: two_se(later.loc[k].max(), later.loc[k, "base"], n_held) for k in later.index})
assert (gap <= noise).all()                       # the base: never clearly behind
print("✓ Reptile: low on the seen tasks, forgets more than any partial method; every start learns the new task "
      f"(best {adaptation.max().min():.2f} or more); the untuned base is never behind the best start by more than two "
      f"standard errors (largest gap {gap.max():.2f})")

# distillation, judged on both test sets together (twice the examples, so a smaller standard error)
both = ["EM seen tasks", "EM held-out templates"]
kd_em, data_em = table.loc["2-layer student, distilled", both].mean(), table.loc["2-layer student, data only", both].mean()
kd_gain, kd_noise = kd_em - data_em, two_se(kd_em, data_em, len(test_inputs) + len(test_templates))
seen_diff = n_row["EM seen tasks"] - f_row["EM seen tasks"]
assert neft_gain < neft_noise                                                    # no evidence that NEFTune helps
assert abs(seen_diff) <= two_se(n_row["EM seen tasks"], f_row["EM seen tasks"], len(test_inputs))  # nor costs
assert kd_gain > kd_noise                                                        # distillation helps the student ...
assert em["2-layer student, distilled"] < em["full fine-tuning"]                 # ... which stays below its teacher
print(f"✓ NEFTune ({neft_gain:+.3f} on held-out phrasings, {seen_diff:+.3f} on seen tasks) differs from plain "
      f"tuning by less than two standard errors ({neft_noise:.3f}); distillation lifts the student by "
      f"{kd_gain:+.3f}, beyond two standard errors ({kd_noise:.3f})")

# %% [markdown]
# ## Exercises

# %%
from itlib.exercises import nb06 as ex

ex.q1

# %%
n_lora = ...  # your answer: an int
ex.q1.check(n_lora)

# %%
ex.q2

# %%
merge = ...  # your function merge(W, A, B, alpha, r) -> the merged weight
ex.q2.check(merge)

# %%
ex.q3

# %%
kd = ...  # your function kd(student_logits, teacher_logits, T) -> a number
ex.q3.check(kd)

# %%
# ex.q1.hint()
# ex.q1.solution()

# %% [markdown]
# ## Summary and next
# - **Which parameters move** is a choice: all (full), a subset (top layers, biases), or a low-rank update (LoRA,
#   $W + \frac{\alpha}{r}BA$, mergeable into $W$ afterwards). `itlib.strategies` has each, for any Hugging Face model.
# - **New tokens** (template words, chat markers) start with random embeddings. Here LoRA worked around frozen
#   ones; train them anyway (`trainable_token_indices` in `peft`) — with a weaker base, freezing them failed.
# - Partial methods trade a little accuracy for far less forgetting of the pretrained model's world.
# - **Sharing** tasks helps tasks that are weak alone (none is, on this base); **meta-learning** (Reptile) optimises
#   for fast adaptation rather than for the training tasks themselves — but a base that already knows a skill
#   adapts as fast, and at this scale which start is fastest is within the noise.
# - **NEFTune** (noise on embeddings) and **distillation** (a student matching a teacher's soft outputs) are one
#   `loss_fn` each; NEFTune's effect is within the noise of our test sets, distillation's is larger.
#
# **Next:** `07_prompts.ipynb` — change the input instead of the weights: prompt engineering, soft prompts, ensembles.

# %%
print(f"notebook ran in {time.time() - t_start:.0f} s")
