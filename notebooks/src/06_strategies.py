# %% [markdown]
# # 06 · Fine-tuning strategies — what to train, what the loss sees, how tasks share
#
# **Learning goals.** After this notebook you can
# 1. tune a model fully or *partially* — only the top layers, only bias vectors (BitFit), or low-rank adapters
#    (LoRA, by hand and with `peft`) — and read the trade-off: trainable parameters, time, accuracy, forgetting;
# 2. find the tokens of the tuning data that the base model never read, say what their embedding rows hold, and
#    measure whether a partial method needs them trained;
# 3. compare multi-task tuning with one model per task, and with meta-learning (Reptile) on a task never seen;
# 4. perturb the embeddings while training — randomly (NEFTune) or adversarially (FGM) — judge the effect against
#    two standard errors, and distil a tuned teacher into a smaller student.
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
# | adversarial (FGM) | everything, on worst-case inputs | $\tfrac12\big(\mathcal{L}(e) + \mathcal{L}(e + r)\big)$, $r = \epsilon\, \nabla_e \mathcal{L} / \lVert \nabla_e \mathcal{L} \rVert$ |
# | distillation | a smaller student | $T^2\, \mathrm{KL}\big(\mathrm{softmax}(z^{\text{teacher}}/T)\,\|\,\mathrm{softmax}(z^{\text{student}}/T)\big)$ on the answer tokens |
# | multi-task | everything, all tasks mixed | $\min_\theta \sum_{\text{tasks}} \mathcal{L}_{\text{task}}(\theta)$ |
# | Reptile | everything, task by task | $\theta \leftarrow \theta + \epsilon\,(\phi_{\text{task}} - \theta)$, $\phi_{\text{task}}$ = a few steps on one task |
#
# Every strategy starts from the same shipped base model and gets the same data and the same budget: two and a
# half passes over 250 examples of each of four tasks. That is a small fraction of notebook 00's recipe; the
# *differences* between strategies are what we read, and every claim is asserted.

# %%
import copy
import math
import time
from collections import Counter

import matplotlib.pyplot as plt
import pandas as pd
import torch

import itlib
from itlib import strategies as S
from itlib.evaluate import evaluate, exact_matches, generate
from itlib.formats import render
from itlib.metrics import paired_two_se, two_se
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

rows = []     # one row per strategy: the comparison table
matches = {}  # per strategy and test set: which examples it answered exactly (for paired comparisons)


def measure(name, model, seconds, n_trainable=None):
    """Exact match on new inputs and on held-out phrasings, and the corpus loss (for forgetting)."""
    seen, phrasings = evaluate(model, tokenizer, test_inputs), evaluate(model, tokenizer, test_templates)
    matches[name] = {"seen": exact_matches(seen["predictions"], [e.output for e in test_inputs]),
                     "phrasings": exact_matches(phrasings["predictions"], [e.output for e in test_templates])}
    rows.append({"strategy": name,
                 "trainable params": S.trainable(model)[0] if n_trainable is None else n_trainable,
                 "train s": seconds, "EM seen tasks": seen["exact_match"],
                 "EM held-out templates": phrasings["exact_match"],
                 "corpus loss": corpus_loss(model, tokenizer, docs)})
    return seen


def compare(a, b, test):
    """Exact match of strategy a minus strategy b on one test set (the same examples for both), and two
    standard errors of that difference, paired per example."""
    x, y = matches[a][test], matches[b][test]
    return (sum(x) - sum(y)) / len(x), paired_two_se(x, y)


def verdict(diff, noise):
    """'better' or 'worse' only beyond two standard errors."""
    return "within the noise" if abs(diff) <= noise else ("better" if diff > 0 else "worse")


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
# ## 3 · Partial fine-tuning, and the tokens the base never read
# Freeze most of the model, train a small part. First a question: which tokens of our instruction data did the base
# model *never read* in pretraining? The tokenizer was built on the corpus and the task suite together, so such
# tokens can exist. We scan every pretraining document (tokenizing them all takes a few seconds).

# %%
new_ids = S.unseen_token_ids(tokenizer, train, corpus_train)
counts = Counter(i for e in train for i in render(e, tokenizer).input_ids)
share_new = sum(counts[i] for i in new_ids) / sum(counts.values())
print(f"{len(new_ids)} token types in the training data never occur in the text of the {len(corpus_train):,} "
      f"pretraining documents; they are {share_new:.0%} of all training tokens. The most frequent:")
print(tokenizer.convert_ids_to_tokens(sorted(new_ids, key=lambda i: -counts[i])[:16]))

# %% [markdown]
# `Instruction`, `Input`, `Answer` … the template itself is made of tokens the base never read.
# The sequence markers `<s>` and `</s>` count as new too: pretraining only put them around whole documents, while
# here `</s>` must end every answer. Are the embedding rows of these tokens still the random numbers they started
# as? Not if the input embedding is *tied* to the output layer: then every row is also a row of the softmax at
# every position of pretraining, and a token that never comes next is pushed away from every hidden state, step
# after step. Compare the rows' sizes with a freshly initialised row:

# %%
emb = base.get_input_embeddings().weight.detach()
tied = base.get_output_embeddings().weight is base.get_input_embeddings().weight
is_new = torch.zeros(len(emb), dtype=torch.bool)
is_new[new_ids] = True
norm_new, norm_rest = emb[is_new].norm(dim=1).mean().item(), emb[~is_new].norm(dim=1).mean().item()
norm_init = base.config.initializer_range * emb.shape[1] ** 0.5   # N(0, 0.02^2) in 128 dimensions
print(f"input embedding tied to the output layer: {tied}; mean row norm: the {len(new_ids)} unread tokens "
      f"{norm_new:.2f}, all other tokens {norm_rest:.2f}, a freshly initialised row about {norm_init:.2f}")
assert tied and norm_new > 5 * norm_init   # trained through the output layer: far from their random start
print("✓ the rows of the unread tokens were trained in pretraining (as outputs), not left random")

# %% [markdown]
# So these rows are not random. The template and word-piece tokens were trained only as outputs ("never predict
# me"), and no layer learnt to read them as inputs; `<s>` and `</s>` were read and predicted at document
# boundaries, but here `</s>` gets a new job. A partial method that keeps them frozen has to work around input vectors the network never
# learnt to use. The usual fix for new tokens (in `peft`: `trainable_token_indices` or `modules_to_save`) is to
# train those rows too: `S.train_embedding_rows(model, new_ids)` masks the gradient of every other row. We give
# every partial method these rows — and, to measure whether it matters here, train LoRA once without them.
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
# What does training a part cost? Each partial method against full fine-tuning, on the *same* test examples: the
# difference in exact match and two standard errors of it, paired per example (`paired_two_se`: an example both
# get right or both get wrong adds no noise). A difference within two standard errors is no evidence either way.

# %%
PARTIAL = ["top 2 of 4 layers", "bias-only (BitFit)", "LoRA r=8"]
TESTS = {"seen": "new inputs", "phrasings": "held-out phrasings"}
cost = pd.DataFrame([{"strategy": name, "test": label, "difference to full": d, "two SE": n, "verdict": verdict(d, n)}
                     for name in PARTIAL for test, label in TESTS.items()
                     for d, n in [compare(name, "full fine-tuning", test)]])
for label, group in cost.groupby("test", sort=False):
    worse, better = group[group.verdict == "worse"], group[group.verdict == "better"]
    print(f"on {label}: clearly worse than full fine-tuning: {', '.join(worse.strategy) or 'none'}; "
          f"clearly better: {', '.join(better.strategy) or 'none'}; the rest within two standard errors")
rows_diff, rows_noise = compare("LoRA r=8, new tokens frozen", "LoRA r=8", "seen")
rows_diff_p, rows_noise_p = compare("LoRA r=8, new tokens frozen", "LoRA r=8", "phrasings")
print(f"LoRA with the unread tokens' rows frozen minus trained: {rows_diff:+.3f} ± {rows_noise:.3f} on new inputs, "
      f"{rows_diff_p:+.3f} ± {rows_noise_p:.3f} on held-out phrasings: "
      f"{verdict(rows_diff, rows_noise)} / {verdict(rows_diff_p, rows_noise_p)}")
cost.round(3)

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
# ## 4 · Noisy and adversarial embeddings (NEFTune, FGM)
# Both perturb the input embeddings while training, so that the model cannot rely on their exact values.
# NEFTune adds *random* uniform noise of size $\alpha/\sqrt{L d}$ at every step (`S.neftune_loss(alpha)`).
# Adversarial training with FGM (`S.fgm_loss(epsilon)`) moves them the *worst* way instead: by
# $r = \epsilon\, g/\lVert g\rVert$, $g = \nabla_e \mathcal{L}$ per sequence, and trains on the mean of the clean
# and the perturbed loss — one extra forward and two extra backward passes per step. First, what "worst" means: on
# one batch of the tuned model, move the embeddings by the same distance $\epsilon$ in a random direction and
# along the gradient.

# %%
from itlib.train import collate, masked_nll

EPSILON = 1.0
batch = collate([render(e, tokenizer) for e in train[:32]], tokenizer.pad_token_id)
real = batch["attention_mask"][..., None].float()                    # no perturbation on padding


def loss_at(embeds):
    logits = full(inputs_embeds=embeds, attention_mask=batch["attention_mask"]).logits
    return masked_nll(logits, batch["input_ids"], batch["loss_mask"])


e0 = full.get_input_embeddings()(batch["input_ids"]).detach().requires_grad_(True)
clean = loss_at(e0)
(g,) = torch.autograd.grad(clean, e0)
with torch.no_grad():
    random_dir = S.fgm_perturbation(torch.randn(g.shape, generator=torch.Generator().manual_seed(0)) * real, EPSILON)
    loss_random, loss_fgm = loss_at(e0 + random_dir).item(), loss_at(e0 + S.fgm_perturbation(g, EPSILON) * real).item()
print(f"answer loss on 32 training examples: clean {clean.item():.4f}; embeddings moved by ε = {EPSILON} "
      f"in a random direction {loss_random:.4f}; along the gradient (FGM) {loss_fgm:.4f}")
assert loss_fgm - clean.item() > 5 * abs(loss_random - clean.item())
print("✓ the same distance hurts far more along the gradient than in a random direction: that is what "
      "'adversarial' means")

# %% [markdown]
# Now both, as training losses, from the base with the recipe of full fine-tuning. Their claim is robustness: better
# answers to *new phrasings*, so we look at the held-out templates as well as the new inputs. How big must a
# difference be to mean something? Two exact-match rates measured on $n$ examples differ by chance with a standard
# error of about $\sqrt{p(1-p)/n + q(1-q)/n}$ (`itlib.metrics.two_se`); on the *same* examples the paired version
# is smaller (`paired_two_se`). We call a difference real only beyond two of them.

# %%
neft = copy.deepcopy(base)
res_neft = fit(neft, tokenizer, train, **RECIPE, loss_fn=S.neftune_loss(alpha=5.0))
measure("full + NEFTune α=5", neft, res_neft.seconds)
adv = copy.deepcopy(base)
res_adv = fit(adv, tokenizer, train, **RECIPE, loss_fn=S.fgm_loss(epsilon=EPSILON))
measure(f"full + FGM ε={EPSILON:g}", adv, res_adv.seconds)

robust = pd.DataFrame([{"strategy": name, "test": label, "difference to full": d, "two SE": n,
                        "verdict": verdict(d, n)}
                       for name in ("full + NEFTune α=5", f"full + FGM ε={EPSILON:g}")
                       for test, label in TESTS.items() for d, n in [compare(name, "full fine-tuning", test)]])
fgm_seen, fgm_phr = (robust[(robust.strategy.str.contains("FGM")) & (robust.test == t)].iloc[0] for t in TESTS.values())
print(f"FGM took {res_adv.seconds / res_full.seconds:.1f}x the time of plain full tuning. At this scale (1 M "
      f"parameters, {len(train):,} examples, one seed), adversarial training minus plain full tuning: held-out "
      f"phrasings {fgm_phr['difference to full']:+.3f} ± {fgm_phr['two SE']:.3f} ({fgm_phr.verdict}), new inputs "
      f"{fgm_seen['difference to full']:+.3f} ± {fgm_seen['two SE']:.3f} ({fgm_seen.verdict}).")
robust.round(3)

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
# token. Cutting two blocks already changes the model before any tuning, so we measure the untuned student too:
# its corpus loss is where the students' forgetting starts from.

# %%
student_start = S.keep_layers(base, [0, 3])
measure("2-layer student, untuned", student_start, 0.0, n_trainable=0)
student_data = S.keep_layers(base, [0, 3])
res_sd = fit(student_data, tokenizer, train, **RECIPE)
measure("2-layer student, data only", student_data, res_sd.seconds)
student_kd = S.keep_layers(base, [0, 3])
res_kd = fit(student_kd, tokenizer, train, **RECIPE, loss_fn=S.distill_loss(full, temperature=2.0))
measure("2-layer student, distilled", student_kd, res_kd.seconds)
pd.DataFrame(rows).set_index("strategy").iloc[-3:].round(3)

# %% [markdown]
# ## 8 · The whole comparison
# Forgetting = corpus loss after tuning − corpus loss at the start, in nats per token. The start is the base for
# every 4-layer model and the untuned 2-layer model for the students, so that "fewer layers" and "tuning" are not
# mixed in one bar. For scale: a model that spreads its probability evenly over the vocabulary has a loss of
# $\log |V|$; a loss above it means the model is *confidently* wrong on the corpus.

# %%
table = pd.DataFrame(rows).set_index("strategy")
table["corpus loss at start"] = table.loc["base (no tuning)", "corpus loss"]
students = [name for name in table.index if name.startswith("2-layer student")]
table.loc[students, "corpus loss at start"] = table.loc["2-layer student, untuned", "corpus loss"]
table["forgetting"] = table["corpus loss"] - table["corpus loss at start"]
log_v = math.log(len(tokenizer))


def top_is_eos(model, n_docs=20):
    """Share of corpus positions where the model's most likely next token is </s>, and how many positions."""
    from itlib.pretrain import pack

    b = collate(pack(docs[:n_docs], tokenizer, 128), tokenizer.pad_token_id)
    with torch.no_grad():
        top = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits.argmax(-1)
    is_eos = (top == tokenizer.eos_token_id)[b["attention_mask"].bool()]
    return float(is_eos.float().mean()), len(is_eos)


def token_nll(model):
    """The model's loss at every predicted position of the corpus documents, one row per 128-token chunk (nats):
    the positions whose mean is `corpus_loss(model, tokenizer, docs)` (packed chunks have no padding)."""
    from itlib.pretrain import pack

    b = collate(pack(docs, tokenizer, 128), tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits.float()
    return -torch.log_softmax(logits[:, :-1], -1).gather(-1, b["input_ids"][:, 1:, None])[..., 0]


student_loss = {n: table.loc[n, "corpus loss"] for n in ("2-layer student, data only", "2-layer student, distilled")}
nll_data, nll_kd = token_nll(student_data), token_nll(student_kd)
per_token_gap = float((nll_data - nll_kd).abs().mean())
# the students' corpus-loss difference, with two standard errors paired per 128-token chunk
student_diff = float((nll_data - nll_kd).mean())
student_diff_2se = paired_two_se(nll_data.mean(1).tolist(), nll_kd.mean(1).tolist())
thirds = [docs[:50], docs[50:100], docs[100:]]
third_diffs = [corpus_loss(student_data, tokenizer, part) - corpus_loss(student_kd, tokenizer, part) for part in thirds]
eos_share = {name: top_is_eos(m)[0] for name, m in [("base", base), ("full fine-tuning", full),
                                                  ("untuned student", student_start), ("data-only student", student_data),
                                                  ("distilled student", student_kd)]}
print(f"log |V| = {log_v:.2f} nats per token. Corpus loss: base {table.loc['base (no tuning)', 'corpus loss']:.2f}, "
      f"untuned 2-layer student {table.loc['2-layer student, untuned', 'corpus loss']:.2f} (the cost of cutting two "
      f"blocks), tuned students {table.loc['2-layer student, data only', 'corpus loss']:.2f} (data only) and "
      f"{table.loc['2-layer student, distilled', 'corpus loss']:.2f} (distilled)")
print("share of corpus positions whose most likely next token is </s>:", {k: round(v, 2) for k, v in eos_share.items()})
student_gap = student_loss["2-layer student, data only"] - student_loss["2-layer student, distilled"]
print(f"tuned students' corpus loss, data only minus distilled: {student_gap:+.5f} nats, two standard errors "
      f"{student_diff_2se:.3f} (paired per 128-token chunk): "
      f"{'within' if abs(student_gap) <= student_diff_2se else 'beyond'} two standard errors. On each third of the "
      f"{len(docs)} documents: {', '.join(f'{d:+.3f}' for d in third_diffs)}; at the same positions their losses "
      f"differ by {per_token_gap:.2f} nats on average: two different models"
      + (", whose averages over exactly these documents happen to meet" if abs(student_gap) < 0.01
         and max(map(abs, third_diffs)) > 10 * abs(student_gap) else ""))
table.round({"train s": 1, "EM seen tasks": 2, "EM held-out templates": 2, "corpus loss": 2,
             "corpus loss at start": 2, "forgetting": 2})

# %%
shown = table.drop(index=["base (no tuning)", "2-layer student, untuned"])
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
shown[["EM seen tasks", "EM held-out templates"]].plot.barh(ax=ax1)
ax1.invert_yaxis(); ax1.set_xlabel("exact match")
ax1.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8)
is_student = shown.index.isin(students)
ax2.barh(shown.index, shown["forgetting"], color=["tab:purple" if st else "tab:red" for st in is_student])
ax2.invert_yaxis(); ax2.set_yticklabels([])
ax2.set_xlabel("forgetting: corpus loss increase from its start, nats\n(red: from the base; purple: from the untuned 2-layer student)")
plt.tight_layout(); plt.show()

# %% [markdown]
# **Reading the table** — what to look for, with the sentence for each printed or asserted below:
# - Partial methods against full fine-tuning: on new inputs they land close to it while training a fraction of the
#   parameters; whether they pay on *held-out phrasings* is printed in section 3, with two standard errors.
#   Freezing the unread tokens' rows: its effect on LoRA is printed in section 3 too.
# - Forgetting: full fine-tuning moves the corpus loss towards $\log |V|$; each partial method forgets far less.
# - Tuning on answers only teaches the model to end with `</s>`; the printed share of corpus positions where `</s>`
#   is the top guess shows how much of the "forgetting" is exactly that. The tuned 2-layer students end above
#   $\log |V|$ (asserted): worse than a uniform guess, i.e. confidently wrong on prose. Whether the two students'
#   corpus losses differ is printed with two standard errors, paired per chunk, and per third of the documents.
# - Sharing across tasks: how much sharing adds or costs, per task, is printed in section 5.
# - Reptile's weights score low on the seen tasks themselves. On the new task, compare the three starts' curves;
#   the check asserts only that each reaches 0.4 within 32 steps and that the untuned base is never behind the best
#   start by more than two standard errors. Which start adapts fastest is *not* asserted: it changed from run to
#   run (on CPUs whose arithmetic differs in the last digits, training takes a slightly different path), with 16
#   examples to adapt on and 90 test items.
# - NEFTune and FGM: their differences to plain full tuning are printed in section 4 with two standard errors.
# - Distillation: the distilled student against the data-only one, on both test sets together.
#
# **Check.** The claims above, asserted (each fails if the run does not support it).

# %%
em, forget = table["EM seen tasks"], table["forgetting"]
assert em["base (no tuning)"] < 0.05 and em["full fine-tuning"] > 0.4
for name in PARTIAL:
    assert em[name] >= em["full fine-tuning"] - 0.15, name                        # close to full ...
    assert table.loc[name, "trainable params"] < 0.5 * table.loc["full fine-tuning", "trainable params"]  # ... with less
    assert forget[name] < forget["full fine-tuning"] / 3, name                    # and far less forgetting
base_loss = table.loc["base (no tuning)", "corpus loss"]
assert table.loc["full fine-tuning", "corpus loss"] > 3 * base_loss
n_positions = top_is_eos(base)[1]
assert eos_share["full fine-tuning"] - eos_share["base"] > two_se(eos_share["full fine-tuning"], eos_share["base"],
                                                                 n_positions)   # tuning: </s> far more often
print(f"✓ partial methods come within 0.15 of full fine-tuning on new inputs and forget less than a third as much "
      f"(full fine-tuning: corpus loss {base_loss:.2f} -> {table.loc['full fine-tuning', 'corpus loss']:.2f}, "
      f"</s> the top guess at {eos_share['full fine-tuning']:.0%} of corpus positions, the base at "
      f"{eos_share['base']:.0%})")

student_start_loss = table.loc["2-layer student, untuned", "corpus loss"]
assert student_start_loss > base_loss                                            # cutting blocks costs ...
assert all(table.loc[n, "corpus loss"] > log_v for n in ("2-layer student, data only", "2-layer student, distilled"))
assert per_token_gap > 0.1                                                       # two different students
assert abs(student_gap - student_diff) < 1e-3      # token_nll scores exactly the positions of corpus_loss
print(f"✓ the untuned 2-layer student starts at {student_start_loss:.2f} (base {base_loss:.2f}); both tuned students "
      f"end above log |V| = {log_v:.2f}")

assert (sharing["one model per task"] >= 0.8).all() and (sharing["gain from sharing"].abs() <= 0.1).all()
print("✓ every task is learnt alone; sharing changes no task by more than 0.1")

assert em["Reptile (meta-learning)"] < em["full fine-tuning"] - 0.2
assert all(forget["Reptile (meta-learning)"] > 2 * forget[name] for name in PARTIAL)
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

# NEFTune and FGM: no evidence that either helps at this scale (one-sided: a gain would have to beat the noise)
neft_phr = compare("full + NEFTune α=5", "full fine-tuning", "phrasings")
assert neft_phr[0] <= neft_phr[1] and fgm_phr["difference to full"] <= fgm_phr["two SE"]
assert res_adv.seconds > res_full.seconds                                        # FGM: extra passes per step
# distillation, judged on both test sets together, paired per example
kd_x = matches["2-layer student, distilled"]["seen"] + matches["2-layer student, distilled"]["phrasings"]
data_x = matches["2-layer student, data only"]["seen"] + matches["2-layer student, data only"]["phrasings"]
kd_gain, kd_noise = (sum(kd_x) - sum(data_x)) / len(kd_x), paired_two_se(kd_x, data_x)
assert kd_gain > kd_noise                                                        # distillation helps the student ...
assert em["2-layer student, distilled"] < em["full fine-tuning"]                 # ... which stays below its teacher
print(f"✓ no evidence that noise helps: NEFTune {neft_phr[0]:+.3f} ± {neft_phr[1]:.3f}, FGM "
      f"{fgm_phr['difference to full']:+.3f} ± {fgm_phr['two SE']:.3f} on held-out phrasings; distillation lifts "
      f"the student by {kd_gain:+.3f}, beyond two standard errors ({kd_noise:.3f})")

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
# - **New tokens** (template words, chat markers) were never *read* by the base. With tied embeddings their rows are
#   not random — they were trained as outputs — but no layer learnt to read them; whether freezing them costs a
#   partial method anything is measured in section 3 (`trainable_token_indices` in `peft` trains them).
# - Partial methods forget far less of the pretrained model's world; what they cost in exact match, on new inputs
#   and on held-out phrasings, is printed in section 3 with two standard errors.
# - **Sharing** tasks can help a task that is weak alone; whether any task here is weak alone, and how much sharing
#   changes each, is printed in section 5. **Meta-learning** (Reptile) optimises for fast adaptation rather than
#   for the training tasks themselves — the untuned base was never behind the best start by more than two standard
#   errors (asserted); which start is fastest changed from run to run.
# - **NEFTune** (random noise on embeddings), **FGM** (the worst-case perturbation: adversarial training) and
#   **distillation** (a student matching a teacher's soft outputs) are one `loss_fn` each. What NEFTune and FGM do
#   here is printed with two standard errors in section 4; distillation's gain is asserted beyond them.
#
# **Next:** `07_prompts.ipynb` — change the input instead of the weights: prompt engineering, soft prompts, ensembles.

# %%
print(f"notebook ran in {time.time() - t_start:.0f} s")
