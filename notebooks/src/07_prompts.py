# %% [markdown]
# # 07 · Prompts — choose them, learn them, combine them
#
# **Learning goals.** After this notebook you can
# 1. measure *template sensitivity*: one tuned model, the same inputs, many phrasings of the instruction — and
#    read the gap between the best and the worst phrasing;
# 2. write a *soft prompt* by hand ($m$ trainable vectors among the input embeddings of a frozen model), check it
#    against `peft`'s prompt tuning, train it, and sweep its length and initialisation;
# 3. *ensemble* prompts by majority vote and by averaged answer probability, and compare the ensemble with the
#    average and with the best single prompt.
#
# **The idea.** The representation $f(X, I)$ has a part we are free to choose: the instruction $I$. Three ways to use
# that freedom:
#
# - **choose it** (prompt engineering): score each phrasing $I_k$ on the same inputs,
#   $\mathrm{EM}_k = \frac{1}{n}\sum_i [\hat y(f(X_i, I_k)) = Y_i]$, and look at the spread $\max_k \mathrm{EM}_k - \min_k \mathrm{EM}_k$;
# - **learn it** (prompt tuning): replace the instruction's token embeddings by $m$ free vectors
#   $P \in \mathbb{R}^{m \times d}$ and train *only* them, the model $\theta$ frozen:
#   $$P^\star = \arg\min_P \; -\sum_i \log P_\theta\big(Y_i \mid [E(\text{head}_i);\, P;\, E(\text{tail}_i)]\big);$$
# - **combine several** (prompt ensembling): $\hat y_i = \arg\max_y \sum_k [\hat y_{ik} = y]$ (majority vote) or
#   $\hat y_i = \arg\max_{y \in C_i} \frac{1}{K} \sum_k P_\theta(y \mid f(X_i, I_k))$ (averaged probability).

# %%
import copy
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import itlib
from itlib.evaluate import evaluate, exact_match, exact_matches, generate
from itlib.formats import encode
from itlib.metrics import paired_two_se, two_se
from itlib.pipeline import suite_data, tune
from itlib.prompts import (
    SoftPrompt,
    distinct_answers,
    ensemble_by_probability,
    generate_soft,
    instruction_tokens,
    majority_vote,
    render_slot,
    rephrase,
    score_templates,
    soft_prompt_with_peft,
    train_soft_prompt,
)
from itlib.tasks import TASKS, make_examples

torch.set_num_threads(2)
torch.manual_seed(0)
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")  # raised inside peft, not ours
t_start = time.time()

# %% [markdown]
# ## 0 · One tuned model for the whole notebook
# We instruction-tune the shipped base model once (the time it took is printed) and reuse it everywhere.
# One task, `digit_parity`, is left out of tuning on purpose: section 2 asks whether a soft prompt can teach it to
# the frozen model.

# %%
HELD_OUT = "digit_parity"   # never seen in tuning
SEEN = "contains_animal"    # a tuned task: section 2 learns a soft prompt for it

base, tokenizer = itlib.load_base()
splits = suite_data(n_train_per_task=300, n_test_per_task=30, seed=0, heldout_tasks=(HELD_OUT,))
tuned = copy.deepcopy(base)
fit_result = tune(tuned, tokenizer, splits["train"], epochs=3, batch_tokens=512, seed=0)
test = splits["test_inputs"]          # new inputs of the 15 tuned tasks, asked with training phrasings
print(f"{fit_result.steps} steps in {fit_result.seconds:.0f} s; exact match on new inputs: "
      f"{evaluate(tuned, tokenizer, test)['exact_match']:.2f}")

# %% [markdown]
# ## 1 · Prompt engineering: the same model, the same inputs, many phrasings
# Every task in `itlib.tasks` has eight English instructions: six were used in tuning (`train`), two never were
# (`held-out`); the map tasks also have Chinese ones. We add one more phrasing per task that nobody wrote with care:
# the task's name, as a terse keyword prompt (`new`). `score_templates` asks the *same* 30 new inputs of each task
# with every phrasing and scores each phrasing.

# %%
terse = {name: [name.replace("_", " ")] for name in TASKS}          # e.g. "max digit"
grid = score_templates(tuned, tokenizer, test, templates=terse)
print(f"{len(grid)} (task, phrasing) pairs, {grid.n.sum()} answers generated")
grid[grid.task == "max_digit"][["template", "split", "instruction", "exact_match"]].round(2)

# %% [markdown]
# One input, asked in different words — same model, same numbers:

# %%
row = grid[grid.task == "max_digit"].reset_index(drop=True)
i = 4
x = [e for e in test if e.task == "max_digit"][i]
pd.DataFrame({"instruction": row.instruction, "split": row.split,
              "answer": [p[i] for p in row.predictions]}).assign(reference=x.output).head(9).T

# %% [markdown]
# The whole grid: each row a task, each column a phrasing (0–5 train, 6–7 held-out, 8–10 Chinese for the map tasks,
# and the terse name).

# %%
grid["column"] = np.where(grid.template >= 0, grid.template.astype(str), "name")
heat = grid.pivot(index="task", columns="column", values="exact_match")[[*map(str, range(11)), "name"]]
fig, ax = plt.subplots(figsize=(9, 5))
im = ax.imshow(heat.values, vmin=0, vmax=1, cmap="viridis", aspect="auto")
kind = {**{str(k): "train" for k in range(6)}, "6": "held", "7": "held", "8": "zh", "9": "zh", "10": "zh held",
        "name": "new"}
ax.set_xticks(range(heat.shape[1]), [f"{c}\n{kind[c]}" for c in heat.columns], fontsize=8)
ax.set_yticks(range(len(heat)), heat.index)
fig.colorbar(im, label="exact match")
ax.set_title("one tuned model, the same inputs, different phrasings")
plt.show()

# %%
per_task = grid.groupby("task").exact_match.agg(best="max", worst="min", mean="mean")
per_task["gap"] = per_task.best - per_task.worst
by_split = grid.groupby("split").exact_match.mean()
print("mean exact match by kind of phrasing:", by_split.round(2).to_dict())
print(f"best-minus-worst phrasing, averaged over tasks: {per_task.gap.mean():.2f}; "
      f"largest: {per_task.gap.max():.2f} ({per_task.gap.idxmax()})")
per_task.sort_values("gap", ascending=False).round(2)

# %% [markdown]
# **Check.** The wording alone moves the score: the gap between a task's best and worst phrasing is large on
# average, and both the held-out phrasings and the terse keyword prompts score well below the phrasings seen in
# tuning. Which of those two is lower is *not* asserted: their order changed between runs on different CPUs (whose
# arithmetic differs in the last digits, so training takes a slightly different path) — one terse prompt per tuned
# task (15) and two held-out phrasings per task are too few to rank.

# %%
assert per_task.gap.mean() >= 0.3, per_task.gap.mean()
assert by_split["train"] >= by_split["held-out"] + 0.1, by_split
assert by_split["train"] >= by_split["new"] + 0.1, by_split
print("✓ phrasing matters: mean gap", round(per_task.gap.mean(), 2),
      "| train ≫ held-out, new:", by_split.round(2).to_dict())

# %% [markdown]
# ## 2 · Prompt tuning: learn the prompt instead of writing it
# ### 2.1 A soft prompt by hand
# Remove the instruction's tokens from $f(X, I)$ and put $m$ free vectors in their place. `render_slot` gives the
# token ids without the instruction and the position (`slot`) where it was. The key lines, by hand:

# %%
example = next(e for e in test if e.task == SEEN)
r = render_slot(example, tokenizer)                       # "<s>Instruction:" [slot] "\nInput: ...\nAnswer:\n" + answer
print(repr(tokenizer.decode(r.input_ids[:r.slot])), "| slot |", repr(tokenizer.decode(r.input_ids[r.slot:])))

E = tuned.get_input_embeddings()                      # the token embedding table, vocab x d
m, d = 4, E.weight.shape[1]
P = torch.randn(m, d, generator=torch.Generator().manual_seed(0)) * E.weight.std()   # the soft prompt
ids = torch.tensor([r.input_ids])
embeds = torch.cat([E(ids[:, :r.slot]), P[None], E(ids[:, r.slot:])], dim=1)          # [E(head); P; E(tail)]
with torch.no_grad():
    logits_hand = tuned(inputs_embeds=embeds).logits
print("tokens:", ids.shape[1], "-> positions with the soft prompt:", embeds.shape[1])

# %% [markdown]
# The library's `SoftPrompt` does the same for a batch (one slot per row). `peft` puts the virtual tokens in
# front of everything (slot 0); with the same vectors, `SoftPrompt(slot=0)` and `peft`'s `PromptTuningConfig` give the
# same logits.

# %%
soft = SoftPrompt(copy.deepcopy(tuned), n_tokens=m)
with torch.no_grad():
    soft.prompt.copy_(P)
    logits_lib = soft(ids, slot=r.slot).logits
    full = torch.tensor([render_slot(example, tokenizer, where="start").input_ids])   # the instruction kept, P in front
    peft_model = soft_prompt_with_peft(copy.deepcopy(tuned), P)
    logits_peft = peft_model(input_ids=full, attention_mask=torch.ones_like(full)).logits
    logits_front = soft(full, slot=0).logits
peft_model.print_trainable_parameters()
print(f"max |hand - SoftPrompt| = {(logits_hand - logits_lib).abs().max():.1e}, "
      f"max |SoftPrompt - peft| = {(logits_front - logits_peft).abs().max():.1e}")

# %% [markdown]
# A hand-written instruction *is* a point in this space: $P$ = the embeddings of its own tokens. Initialised
# there, the soft prompt gives exactly the hand-written prompt's answers — prompt tuning starts from a prompt we could
# have written and moves into the continuous space around it.

# %%
seen_test = [e for e in test if e.task == SEEN]
instruction = TASKS[SEEN].templates[0]
as_soft = SoftPrompt(tuned, n_tokens=len(instruction_tokens(tokenizer, instruction)), init="text",
                     token_ids=instruction_tokens(tokenizer, instruction))
same = generate_soft(as_soft, tokenizer, seen_test) == generate(tuned, tokenizer, rephrase(seen_test, instruction))
print(f"{instruction!r} as {as_soft.n_tokens} soft vectors gives the same answers: {same}")

# %%
torch.testing.assert_close(logits_lib, logits_hand)
torch.testing.assert_close(logits_front, logits_peft)
assert same
assert [n for n, p in soft.named_parameters() if p.requires_grad] == ["prompt"]   # only P is trainable
print(f"✓ hand = SoftPrompt = peft; the instruction's own embeddings reproduce the hand-written prompt; "
      f"{soft.prompt.numel()} trainable numbers")

# %% [markdown]
# ### 2.2 Learn a soft prompt that replaces the instruction
# A comparison of prompts teaches something only where the phrasings differ; section 1's grid shows which tasks
# spread across their hand-written phrasings. Here we take `count_items` (its spread is printed below and asserted
# to exceed two standard errors) and compare: no instruction at all ($m = 0$: the model sees only "Instruction:" and the
# input), each hand-written phrasing, and a soft prompt **started from the worst hand-written phrasing** — its own
# token embeddings, so at step 0 it gives exactly that phrasing's answers (2.1) — then trained on 200 training
# examples of the task, the model frozen. Training is `itlib.train.fit` with the soft prompt's `loss_fn` and
# `collate_fn` (`train_soft_prompt`): the loss counts the answer tokens only.

# %%
SPREAD = "count_items"
spread_test = [e for e in test if e.task == SPREAD]
spread_refs = [e.output for e in spread_test]
spread_train = [e for e in splits["train"] if e.task == SPREAD][:200]
no_instruction = exact_match(generate_soft(SoftPrompt(tuned, n_tokens=0), tokenizer, spread_test), spread_refs)
written_rows = grid[(grid.task == SPREAD) & grid.template.between(0, 7)]
written = written_rows.set_index("instruction").exact_match
worst = written.idxmin()                                                 # the worst hand-written phrasing

learned = SoftPrompt(tuned, n_tokens=len(instruction_tokens(tokenizer, worst)), init="text",
                     token_ids=instruction_tokens(tokenizer, worst))
step0 = exact_matches(generate_soft(learned, tokenizer, spread_test), spread_refs)   # before any training
before = {k: v.clone() for k, v in tuned.state_dict().items()}
soft_fit = train_soft_prompt(learned, tokenizer, spread_train, epochs=2, lr=0.03, seed=0)
trained = exact_matches(generate_soft(learned, tokenizer, spread_test), spread_refs)
step0_em, soft_em = np.mean(step0), np.mean(trained)
gain_noise = paired_two_se(trained, step0)
print(f"{SPREAD}, {len(spread_test)} new inputs. No instruction: {no_instruction:.2f} | hand-written: worst "
      f"{written.min():.2f} ({worst!r}), mean {written.mean():.2f}, best {written.max():.2f}")
print(f"soft prompt from the worst phrasing ({learned.n_tokens} vectors): step 0 {step0_em:.2f} -> after "
      f"{soft_fit.steps} steps ({soft_fit.seconds:.1f} s) {soft_em:.2f}; gain {soft_em - step0_em:+.2f} ± "
      f"{gain_noise:.2f} (two standard errors, paired)")

# %%
fig, ax = plt.subplots(1, 2, figsize=(10, 3))
ax[0].plot(soft_fit.losses, marker="o")
ax[0].set(xlabel="step", ylabel="answer loss", title=f"training only P ({learned.n_tokens} x 128 numbers)")
labels = ["none"] + [f"written {k}" for k in written_rows.template] + ["soft, step 0", "soft, trained"]
ax[1].bar(labels, [no_instruction, *written.values, step0_em, soft_em],
          color=["grey"] + ["tab:blue"] * len(written) + ["navajowhite", "tab:orange"])
ax[1].set(ylabel="exact match", ylim=(0, 1.05), title=f"{SPREAD}: how the task is asked")
ax[1].tick_params(axis="x", rotation=60)
plt.tight_layout()
plt.show()

# %% [markdown]
# **Check.** The phrasings of this task differ by more than two standard errors (otherwise the comparison shows
# nothing); the soft prompt starts exactly at the worst phrasing's score, and training only its vectors — the model
# untouched — lifts it beyond two standard errors; without an instruction the model does worse than the trained
# soft prompt.

# %%
n_spread = len(spread_test)
assert all(torch.equal(before[k], v) for k, v in tuned.state_dict().items())   # the model is bit-identical
assert written.max() - written.min() > two_se(written.max(), written.min(), n_spread), written
assert step0_em == written.min()                                               # step 0 = the worst phrasing
assert soft_em - step0_em > gain_noise, (step0_em, soft_em, gain_noise)
assert soft_em - no_instruction > two_se(soft_em, no_instruction, n_spread), (soft_em, no_instruction)
print(f"✓ phrasings spread {written.min():.2f}-{written.max():.2f}; soft prompt {step0_em:.2f} at step 0 -> "
      f"{soft_em:.2f} trained (hand-written mean {written.mean():.2f}, no instruction {no_instruction:.2f})")

# %% [markdown]
# ### 2.3 Prompt length and initialisation
# Back to `contains_animal`, a task with label words ("yes", "no"). A small grid: $m \in \{1, 4, 16\}$ vectors,
# started from random vectors (at the scale of real embeddings), from random vocabulary tokens, from the label words
# ("yes no") or from the instruction's words — each scored before training (step 0) and after the same 8 steps.

# %%
seen_train = [e for e in splits["train"] if e.task == SEEN][:200]
refs = [e.output for e in seen_test]
inits = {"random": {"init": "random"}, "vocabulary": {"init": "vocab"},
         "label words": {"init": "text", "token_ids": encode(tokenizer, " " + " ".join(TASKS[SEEN].labels))},
         "instruction words": {"init": "text", "token_ids": instruction_tokens(tokenizer, instruction)}}
rows = []
for n_tokens in (1, 4, 16):
    for name, kwargs in inits.items():
        sp = SoftPrompt(tuned, n_tokens=n_tokens, seed=0, **kwargs)
        at_start = exact_match(generate_soft(sp, tokenizer, seen_test), refs)
        res = train_soft_prompt(sp, tokenizer, seen_train, epochs=2, lr=0.03, seed=0, progress=False)
        rows.append({"m": n_tokens, "init": name, "step 0": at_start,
                     "exact_match": exact_match(generate_soft(sp, tokenizer, seen_test), refs),
                     "final loss": res.losses[-1]})
sweep = pd.DataFrame(rows)
label_row = sweep[(sweep.init == "label words") & (sweep.m == 4)].iloc[0]
print(f"label words, m = 4: exact match {label_row['step 0']:.2f} at step 0 -> {label_row.exact_match:.2f} after "
      f"training (n = {len(seen_test)})")
sweep.pivot(index="init", columns="m", values=["step 0", "exact_match"]).round(2)

# %%
fig, ax = plt.subplots(figsize=(6, 3))
for (name, grp), style in zip(sweep.groupby("init"), ["o-", "s--", "^-", "v:"]):
    ax.plot(grp.m, grp.exact_match, style, label=name, alpha=0.8)
ax.set(xscale="log", xticks=[1, 4, 16], xticklabels=["1", "4", "16"], xlabel="soft prompt length m",
       ylabel="exact match", title=f"{SEEN}: prompt tuning on the frozen model")
ax.legend(fontsize=8)
plt.show()
by_m = sweep.groupby("m").exact_match.mean()
by_init = sweep.groupby("init").exact_match.mean()
print("mean over inits, by m:", {m: f"{v:.3f}" for m, v in by_m.items()})
print("mean over m, by init:", {name: f"{v:.3f}" for name, v in by_init.items()})

# %% [markdown]
# **Check.** Averaged over the starts, 16 vectors do better than 1; and starting from real words (the labels or the
# instruction) beats starting from random vectors. Compare the step-0 columns with the trained ones to see where
# each start begins and how far 8 steps take it. (With 8 steps the middle of the grid depends on
# the seed — change `seed=` above and look; the two claims checked here held on runs on different CPUs.)

# %%
assert by_m[16] >= by_m[1] + 0.2, by_m
assert min(by_init["label words"], by_init["instruction words"]) >= by_init["random"] + 0.1, by_init
print(f"✓ m=16 {by_m[16]:.3f} vs m=1 {by_m[1]:.3f}; word initialisation "
      f"{min(by_init['label words'], by_init['instruction words']):.3f} vs random {by_init['random']:.3f}")

# %% [markdown]
# ### 2.4 Can a soft prompt teach a task the model never saw?
# `digit_parity` was left out of tuning. How does the tuned model do when asked with its hand-written instructions?
# A soft prompt (16 vectors, longer training) is given the same chance as above.

# %%
new_test = splits["test_tasks"]
taken = {e.input for e in new_test}
new_train = [e for e in make_examples([HELD_OUT], n_per_task=600, seed=1) if e.input not in taken][:300]
written_new = score_templates(tuned, tokenizer, new_test, english_only=True).exact_match
sp = SoftPrompt(tuned, n_tokens=16, init="text", token_ids=instruction_tokens(tokenizer, TASKS[HELD_OUT].templates[0]))
new_fit = train_soft_prompt(sp, tokenizer, new_train, epochs=3, lr=0.3, seed=0, progress=False)
new_em = exact_match(generate_soft(sp, tokenizer, new_test), [e.output for e in new_test])
print(f"{HELD_OUT}: hand-written instructions best {written_new.max():.2f}; soft prompt (m=16, {new_fit.steps} steps): "
      f"{new_em:.2f}, answer loss {new_fit.losses[0]:.1f} -> {new_fit.losses[-1]:.1f}")
print("a few answers:", generate_soft(sp, tokenizer, new_test[:4]), "references:", [e.output for e in new_test[:4]])

# %% [markdown]
# What to look for: does the answer loss fall to the level of a tuned task, and are the answers parity tags? The
# check below asserts the outcome of this run. A soft prompt can *select* a skill the model was tuned to follow
# (2.2, 2.3); teaching a new task to a frozen model is another matter. Lester et al. (2021) found that prompt tuning
# only catches up with tuning the weights at billions of parameters; ours has about one million.

# %%
assert new_em <= 0.3 and written_new.max() <= 0.1, (new_em, written_new.max())
print("✓ measured: a soft prompt alone does not teach the frozen small model a new task")

# %% [markdown]
# ## 3 · Prompt ensembling
# Section 1 already has every task's 8 English phrasings answering the same inputs ("phrasing $k$" below = the
# $k$-th template of every task; a tie in the vote goes to the lower $k$). Combine them per input:
# - **majority vote**: the most frequent answer (a tie goes to the earlier phrasing);
# - **averaged probability**: the candidates are the different answers the phrasings gave; each phrasing scores
#   each candidate with its probability $P_\theta(y \mid f(X, I_k))$ (renormalised over the candidates), and the
#   candidate with the highest average wins.

# %%
english = grid[grid.template.between(0, 7)]
tasks = sorted(english.task.unique())
inputs = {t: [e for e in test if e.task == t] for t in tasks}
refs_all = [e.output for t in tasks for e in inputs[t]]                       # every input, task by task
answers = {(t, k): p for t, k, p in zip(english.task, english.template, english.predictions)}
preds = [[a for t in tasks for a in answers[t, k]] for k in range(8)]        # preds[k][i]: phrasing k, input i
prompts = [[e for t in tasks for e in rephrase(inputs[t], TASKS[t].templates[k])] for k in range(8)]

single = [exact_match(p, refs_all) for p in preds]
vote_preds = majority_vote(preds)
prob_preds = ensemble_by_probability(tuned, tokenizer, prompts, distinct_answers(preds))
vote_em, prob_em = exact_match(vote_preds, refs_all), exact_match(prob_preds, refs_all)
best_per_task = english.groupby("task").exact_match.max().mean()          # an oracle: picked on the test answers
summary = pd.Series({"worst phrasing k": min(single), "average phrasing": np.mean(single),
                     "best phrasing k (picked on test)": max(single), "best per task (picked on test)": best_per_task,
                     "majority vote of 8": vote_em, "averaged probability of 8": prob_em})
summary.round(3).to_frame("exact match")

# %%
fig, ax = plt.subplots(figsize=(7, 3))
colours = ["grey", "grey", "grey", "lightgrey", "tab:orange", "tab:orange"]
ax.barh(summary.index[::-1], summary.values[::-1], color=colours[::-1])
ax.set(xlabel="exact match", xlim=(0, 1), title="8 phrasings per task, combined")
plt.show()

# %% [markdown]
# **Check.** Both ensembles beat the average single phrasing by a clear margin. Against the best phrasing the
# comparison is honest only if that phrasing is chosen without the test answers: the per-task best here is an
# oracle. The printed lines say where each ensemble lands against both, with two standard errors paired per input
# (the ensembles do not know which phrasing is best).

# %%
assert vote_em >= np.mean(single) + 0.05, (vote_em, np.mean(single))
assert prob_em >= np.mean(single) + 0.05, (prob_em, np.mean(single))
print(f"✓ majority vote {vote_em:.3f} and averaged probability {prob_em:.3f} > average single phrasing "
      f"{np.mean(single):.3f}")
best_k = int(np.argmax(single))
best_task_k = english.loc[english.groupby("task").exact_match.idxmax()].set_index("task").template
oracle_x = exact_matches([a for t in tasks for a in answers[t, best_task_k[t]]], refs_all)
assert abs(np.mean(oracle_x) - best_per_task) < 1e-9               # the same oracle as the table (equal tasks)
references = {f"the best single phrasing ({max(single):.3f})": exact_matches(preds[best_k], refs_all),
              f"the oracle best per task ({best_per_task:.3f})": oracle_x}
ensembles = {"majority vote": exact_matches(vote_preds, refs_all),
             "averaged probability": exact_matches(prob_preds, refs_all)}


def against(x, y):
    d, noise = np.mean(x) - np.mean(y), paired_two_se(x, y)
    side = "above" if d > 0 else "below"
    if d != 0 and f"{abs(d):.4f}" == f"{noise:.4f}":       # as printed, the gap IS the spread
        where = f"{side}, at the edge of"
    else:
        where = "within" if abs(d) <= noise else f"{side}, beyond"
    return f"{d:+.4f} ± {noise:.4f} ({where} two standard errors)"


for name, x in ensembles.items():
    print(f"  {name} minus " + "; minus ".join(f"{ref}: {against(x, y)}" for ref, y in references.items())
          + f" ({len(x)} inputs)")

# %% [markdown]
# ## Exercises

# %%
from itlib.exercises import nb07 as ex

ex.q1

# %%
vote = ...  # replace `...` by your function: def vote(answers): ...
ex.q1.check(vote)

# %%
# ex.q1.hint()
# ex.q1.solution()

# %%
ex.q2

# %%
insert_prompt = ...  # replace `...` by your function: def insert_prompt(embeds, P, slot): ...
ex.q2.check(insert_prompt)

# %%
ex.q3

# %%
answer = ...  # your answer: one of ex.CANDIDATES
ex.q3.check(answer)

# %% [markdown]
# ## Summary and next
# - The same tuned model scores very differently under different phrasings of one instruction: phrasings seen in
#   tuning beat new ones and terse keyword prompts by far (which of those two is worse changed between runs).
#   Always report *which* prompt, or several.
# - A soft prompt — $m$ vectors in the instruction's place, trained with the model frozen — is the hand-written
#   prompt's continuous cousin (the instruction's own embeddings reproduce it exactly); by hand = `SoftPrompt` =
#   `peft`. Started from the worst hand-written phrasing of a task and trained in seconds, it climbs beyond two
#   standard errors (asserted in 2.2); starting from words beats starting from random vectors (2.3); at this
#   scale a soft prompt did not teach a new task (2.4).
# - Ensembling phrasings (majority vote, averaged probability) beats the average phrasing; where it lands against
#   the best phrasing chosen with hindsight is printed in section 3.
#
# **Next:** `08_evaluation.ipynb` — exact match and P/R/F1, the three levels of "unseen" (new inputs, new phrasings,
# new tasks), and how sure we can be of a difference.

# %%
print(f"notebook ran in {time.time() - t_start:.0f} s")
