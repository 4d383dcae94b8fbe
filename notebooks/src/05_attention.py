# %% [markdown]
# # 05 · Instruction attention — the instruction decides which input tokens matter
#
# **Learning goals.** After this notebook you can
# 1. write instruction attention $\alpha_i = \mathrm{softmax}_i(h_i^\top W e_I)$, $c = \sum_i \alpha_i h_i$ by hand
#    and check it against the library;
# 2. train it on a task where *only the instruction* says which input tokens matter, and measure that
#    $\alpha$ moves to the right tokens when the instruction changes;
# 3. explore attention with an interactive widget — on this module and on a tuned transformer's own heads
#    (heatmap, shaded text, layers × heads grid, attention rollout) — and find a head that tuning taught to
#    follow the instruction.
#
# **The idea.** An input $X$ is encoded token by token into vectors $h_1, \dots, h_n$; the instruction $I$ into
# one vector $e_I$ (here: the mean of its word embeddings, as in notebook 04). A learned matrix $W$ scores each
# token against the instruction, the softmax turns the scores into weights, and the weighted sum is what the
# answer is read from:
#
# $$s_i = h_i^\top W e_I, \qquad \alpha_i = \frac{\exp s_i}{\sum_{j \in \text{real tokens}} \exp s_j}, \qquad
# c = \sum_i \alpha_i h_i .$$
#
# Same input, different instruction → different $e_I$ → different scores → the model *reads* different tokens.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import itlib

# One thread: these models are tiny, and on a shared 2-core machine a second thread mostly waits for the first.
torch.set_num_threads(1)
torch.manual_seed(0)
t_start = time.time()

# %% [markdown]
# ## 1 · The formula, by hand
# Five encoded tokens of width 4 — the last one is padding (a batch pads short inputs) — a matrix $W$ and an
# instruction vector $e_I$. Padding must get weight exactly 0: its score is set to $-\infty$ *before* the softmax.

# %%
g = torch.Generator().manual_seed(0)
h = torch.randn(5, 4, generator=g)          # h_1 .. h_5
W = torch.randn(4, 3, generator=g)          # d_h x d_e
e_I = torch.randn(3, generator=g)           # the instruction embedding
mask = torch.tensor([1, 1, 1, 1, 0])        # the 5th position is padding

scores = h @ W @ e_I                                        # s_i = h_i^T W e_I
scores = scores.masked_fill(mask == 0, float("-inf"))       # padding: -inf -> exp(-inf) = 0
alpha = torch.exp(scores - scores.max()) / torch.exp(scores - scores.max()).sum()
c = (alpha[:, None] * h).sum(0)                             # c = sum_i alpha_i h_i

pd.DataFrame({"score s_i": scores.numpy().round(3), "weight α_i": alpha.numpy().round(3)},
             index=[f"h_{i + 1}" + (" (pad)" if m == 0 else "") for i, m in enumerate(mask)]).T

# %% [markdown]
# The library has the batched version, `itlib.attention.instruction_attention(h, e, W, mask)` (and the module
# `InstructionAttention` that holds a learned $W$); `reference_attention` is the same thing as a plain loop over
# $i$. All three agree:

# %%
from itlib.attention import instruction_attention, reference_attention

lib = instruction_attention(h[None], e_I[None], W, mask[None])     # a batch of one
loop = reference_attention(h[None], e_I[None], W, mask[None])
print("weights:", lib.weights[0].numpy().round(3), f" sum: {float(lib.weights.sum()):.6f}")
print("c:      ", lib.context[0].numpy().round(3))

# %%
assert torch.allclose(alpha.sum(), torch.tensor(1.0)) and alpha[4] == 0
assert torch.allclose(lib.weights[0], alpha) and torch.allclose(lib.context[0], c, atol=1e-6)
assert torch.allclose(loop.weights[0], alpha) and torch.allclose(loop.context[0], c, atol=1e-6)
assert torch.allclose(lib.scores[0, :4], scores[:4])    # the raw scores are exposed too
print("✓ the weights sum to 1, padding gets 0, and hand = library = loop")

# %% [markdown]
# ## 2 · A task where the instruction decides which tokens matter
# Every input is a mixed list of digits, colours and animals. Seven instructions ask about it — each in four
# phrasings — and each needs different tokens: the *first* digit, the *last* colour, the *largest* digit, ...
# The answer is always one of the input items.

# %%
from itlib.attention import SELECT_TASKS, Selector, SelectVocab, make_example, make_select_data

train = make_select_data(3500, seed=0)
test = make_select_data(700, seed=1)
pd.DataFrame([{"task": t.name, "asks for a": t.kind, "phrasings": " / ".join(t.phrasings[:3]) + " / ..."}
              for t in SELECT_TASKS.values()])

# %%
pd.DataFrame([{"instruction": e.instruction, "input": " ".join(e.items), "answer": e.answer}
              for e in train[:7]])

# %% [markdown]
# ## 3 · The model, and a baseline that cannot choose
# `Selector` is as small as it gets: $h_i$ = item embedding + position embedding; $e_I$ = mean of the
# instruction's word embeddings; $c = \sum_i \alpha_i h_i$; a small MLP predicts the answer item **from $c$
# alone** — so $c$ has to carry the answer. The baseline replaces attention by the plain mean
# $c = \frac1n\sum_i h_i$ (and is given $e_I$ next to it, so it at least knows what was asked).

# %%
from itlib.attention import selector_accuracy, train_selector

vocab = SelectVocab()
selector = Selector(vocab, d=32, pool="attention", seed=0)
baseline = Selector(vocab, d=32, pool="mean", seed=0)
run_attention = train_selector(selector, train, epochs=20, lr=1e-2, batch_size=128, seed=0)
run_mean = train_selector(baseline, train, epochs=20, lr=1e-2, batch_size=128, seed=0)
acc_attention, acc_mean = selector_accuracy(selector, test), selector_accuracy(baseline, test)
print(f"{run_attention.steps} steps each; {run_attention.seconds:.0f} s + {run_mean.seconds:.0f} s")
print(f"test accuracy: instruction attention {acc_attention:.3f}, mean pooling {acc_mean:.3f}")

# %%
plt.figure(figsize=(6, 3))
for run, name in ((run_attention, "instruction attention"), (run_mean, "mean pooling")):
    plt.plot(pd.Series(run.losses).rolling(10, min_periods=1).mean(), label=name)
plt.yscale("log"); plt.xlabel("step"); plt.ylabel("cross-entropy"); plt.legend(); plt.title("training loss")
plt.show()

# %%
assert acc_attention >= 0.95, acc_attention
assert acc_attention > acc_mean + 0.2, (acc_attention, acc_mean)
print("✓ with attention the model answers (almost) everything; averaging the input cannot")

# %% [markdown]
# ## 4 · Change only the instruction: where does α go?
# Take the 700 test inputs and ask **every** instruction about **each** of them. For each instruction: the share
# of attention on digits, on colours, on animals, and on the answer token itself.

# %%
from itlib.attention import kind_mass, position_mass, predict

rows = []
for task in SELECT_TASKS.values():
    same_inputs = [make_example(task, e.items) for e in test]        # same inputs, this instruction
    weights = predict(selector, same_inputs)["weights"]
    rows.append({"instruction": task.phrasings[0], "asks for a": task.kind,
                 **{f"mass on {k}s": np.mean([kind_mass(w, e.items, k) for e, w in zip(same_inputs, weights)])
                    for k in ("digit", "colour", "animal")},
                 "mass on the answer token": np.mean([position_mass(w, e.answer_positions)
                                                      for e, w in zip(same_inputs, weights)])})
masses = pd.DataFrame(rows).set_index("instruction")
masses.round(3)

# %% [markdown]
# One input, all seven instructions: each row is $\alpha$ over the same eight tokens.

# %%
items = ("7", "red", "cat", "2", "blue", "9", "dog", "green")
rows_alpha = [predict(selector, [make_example(t, items)])["weights"][0].numpy() for t in SELECT_TASKS.values()]
fig, ax = plt.subplots(figsize=(7, 3.6))
im = ax.imshow(np.array(rows_alpha), cmap="Blues", vmin=0, vmax=1)
ax.set_xticks(range(len(items)), items)
ax.set_yticks(range(len(SELECT_TASKS)), [t.phrasings[0] for t in SELECT_TASKS.values()])
for (r, k), v in np.ndenumerate(np.array(rows_alpha)):
    ax.text(k, r, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v > 0.55 else "black")
fig.colorbar(im, label="α"); ax.set_title("same input, seven instructions")
plt.show()

# %% [markdown]
# **Check.** When the instruction asks for a digit, almost all attention lands on digits; asked for a colour or an
# animal, hardly any does — and the same the other way round. Most of it lands on the answer token itself.

# %%
for kind in ("digit", "colour", "animal"):
    asked = masses[masses["asks for a"] == kind][f"mass on {kind}s"]
    not_asked = masses[masses["asks for a"] != kind][f"mass on {kind}s"]
    print(f"mass on {kind}s: {asked.min():.2f}-{asked.max():.2f} when asked for, "
          f"≤ {not_asked.max():.2f} otherwise")
    assert asked.min() >= 0.8 and not_asked.max() <= 0.3, (kind, asked, not_asked)
assert masses["mass on the answer token"].min() >= 0.5, masses["mass on the answer token"]
print("✓ only the instruction changed, and α moved to the tokens it asks about")

# %% [markdown]
# ## 5 · The attention explorer, on α
# `itlib.viz.AttentionExplorer` is a widget made of standard ipywidgets. For instruction attention it shows $\alpha$
# for one instruction (raw scores $s_i$ above the bars), two instructions side by side, or their difference.
# Edit the instructions or the input and press **run**; hover over a token to see its exact weight.
# (In a saved notebook without a running kernel you see a static copy of the picture.)

# %%
from itlib.viz import AttentionExplorer

explore_alpha = AttentionExplorer.from_selector(
    selector, ["what is the first digit", "which colour comes last"], "7 red cat 2 blue 9 dog green",
    view="compare")
explore_alpha

# %%
explore_alpha.view.value = "difference"       # what the "difference" button shows
pd.DataFrame({"token": explore_alpha.tokens, "α(A) − α(B)": explore_alpha.matrix[0].round(3)}).T

# %%
same = predict(selector, [make_example("first_digit", items, "what is the first digit"),
                          make_example("last_colour", items, "which colour comes last")])["weights"]
assert np.allclose(explore_alpha.alphas[0], same[0].numpy(), atol=1e-6)
assert np.allclose(explore_alpha.alphas[1], same[1].numpy(), atol=1e-6)
assert explore_alpha.stats["top"][0][1] == "7" and explore_alpha.stats_b["top"][0][1] == "green"
print("✓ the explorer shows the model's α: 'first digit' reads 7, 'last colour' reads green")

# %% [markdown]
# ## 6 · A transformer's own heads
# A transformer has no single $\alpha$: every layer $l$ and head $h$ has its own attention matrix $A^{(l,h)}$, with
# one row per *query* token (rows sum to 1, and a token only sees the tokens before it). Let us instruction-tune
# the shipped base model briefly — 2 passes over 200 examples per task, far shorter than notebook 00 — and print
# how far that got on the two tasks we look at (exact match, with two standard errors) before looking inside.
#
# Attention weights are only computed by the *eager* implementation: under the default *sdpa*,
# `output_attentions=True` silently returns nothing — `itlib.models.with_eager_attention(model)` switches
# (the explorer does it for you, with a notice).

# %%
import copy

from itlib.evaluate import evaluate
from itlib.models import with_eager_attention
from itlib.pipeline import suite_data, tune

base, tokenizer = itlib.load_base()
splits = suite_data(n_train_per_task=200, n_test_per_task=30, seed=0)
tuned = copy.deepcopy(base)
run_tune = tune(tuned, tokenizer, splits["train"], epochs=2, seed=0)
tuned, base = with_eager_attention(tuned), with_eager_attention(base)
select_tests = [e for e in splits["test_inputs"] if e.task in ("first_item", "last_item")]
em = evaluate(tuned, tokenizer, select_tests)["exact_match"]
em_se = 2 * (em * (1 - em) / len(select_tests)) ** 0.5
print(f"tuned on {len(splits['train'])} examples: {run_tune.steps} steps in {run_tune.seconds:.0f} s; "
      f"exact match on {len(select_tests)} new 'first item' / 'last item' questions: {em:.2f} ± {em_se:.2f} "
      f"(two standard errors)")

# %% [markdown]
# The explorer on the tuned model: pick a layer, a head (or the mean / max over heads), a query token and a view.
# The heatmap masks the causal upper triangle; the numbers beside it are the query row's top tokens, its sum and
# its entropy. Try the **grid** view to see every head of every layer at once, and **rollout** to follow attention through the
# layers. Look at how much of each row's weight goes to the first token `<s>` — heads often use it as an
# *attention sink*, "attend to nothing"; tick *hide the first token* to see the rest.

# %%
explorer = AttentionExplorer(tuned, tokenizer, instruction="What is the first item?", input="3 red cat 8 blue")
explorer

# %% [markdown]
# ## 7 · Did tuning teach a head to follow the instruction?
# The same test as in section 4, on the transformer: 40 inputs, each asked *"What is the first item?"* and
# *"What is the last item?"*. At the last prompt position (where the answer starts), how much more attention goes
# to the first item than to the last one — under the first instruction minus under the second? That **instruction
# effect** is computed for every layer × head of the base model and of the tuned one. To be honest about picking a
# head, we choose it on 20 inputs and measure it on 20 others.

# %%
import random

from itlib.attention import item_positions
from itlib.data import Example
from itlib.formats import prompt_ids
from itlib.tasks import mixed
from itlib.viz import attention_matrices

rng = random.Random(5)
inputs = [mixed(rng, 3) for _ in range(40)]           # 6-7 mixed items each
FIRST, LAST = "What is the first item?", "What is the last item?"


def first_minus_last(model, instruction, x):
    """Attention of the last prompt position to the first item minus to the last item, per layer x head."""
    example = Example(instruction, x, "?")
    ids, pos = prompt_ids(example, tokenizer), item_positions(tokenizer, example)
    attn, _ = attention_matrices(model, ids)            # (layers, heads, query, key)
    row = attn[:, :, -1, :]                             # the last query position
    return row[:, :, pos[0]].sum(-1) - row[:, :, pos[-1]].sum(-1)


effect = {name: np.stack([first_minus_last(m, FIRST, x) - first_minus_last(m, LAST, x) for x in inputs])
          for name, m in (("base", base), ("tuned", tuned))}             # (inputs, layers, heads)
select, held_out = slice(0, 20), slice(20, 40)
layer, head = np.unravel_index(effect["tuned"][select].mean(0).argmax(), effect["tuned"].shape[1:])
print(f"chosen on the first 20 inputs: layer {layer}, head {head}")

# %%
# one symmetric colour scale for both maps, wide enough for the largest effect (it can reach ±2: +1 - (-1))
lim = max(np.abs(effect[name][held_out].mean(0)).max() for name in effect)
fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.2), constrained_layout=True)
for ax, name in zip(axes, ("base", "tuned")):
    im = ax.imshow(effect[name][held_out].mean(0), cmap="RdBu", vmin=-lim, vmax=lim)
    ax.set_title(f"{name}: instruction effect"); ax.set_xlabel("head"); ax.set_ylabel("layer")
    ax.set_xticks(range(4)); ax.set_yticks(range(4))
fig.colorbar(im, ax=axes, label="first − last, 'first' minus 'last' instruction")
plt.show()
held = {name: effect[name][held_out, layer, head] for name in effect}
print(f"layer {layer} head {head} on the 20 held-out inputs: mean effect base {held['base'].mean():+.3f}, "
      f"tuned {held['tuned'].mean():+.3f}; positive for {np.mean(held['tuned'] > 0):.0%} of the inputs")

# %% [markdown]
# The same head in the explorer, on one input, under each instruction: its attention from the last prompt token
# to each input item (then the explorer's text view: that row as shading; hover for the exact weights).

# %%
x = inputs[25]
views = {}
for instruction in (FIRST, LAST):
    views[instruction] = AttentionExplorer(tuned, tokenizer, instruction=instruction, input=x, view="text",
                                           layer=int(layer), head=int(head), hide_sink=True)
positions = item_positions(tokenizer, Example(FIRST, x, "?"))     # the input items' token positions
pd.DataFrame({instruction: [v.row[p].sum().round(3) for p in positions] for instruction, v in views.items()},
             index=[f"{k}: {item}" for k, item in enumerate(x.split())]).T

# %%
views[LAST]

# %% [markdown]
# **Check.** Tuning made a head whose attention follows the instruction: on inputs it was *not* chosen on, it
# looks at the first item when asked for the first and at the last item when asked for the last. In the base
# model the same head does not do this: its effect is at least 0.3 lower (both are printed above).

# %%
assert held["tuned"].mean() >= 0.3, held["tuned"].mean()
assert np.mean(held["tuned"] > 0) >= 0.8, held["tuned"]
assert held["tuned"].mean() >= held["base"].mean() + 0.3, (held["tuned"].mean(), held["base"].mean())
rows = attention_matrices(tuned, prompt_ids(Example(FIRST, x, "?"), tokenizer))[0]
assert np.allclose(rows.sum(-1), 1, atol=1e-4) and np.allclose(np.triu(rows, 1), 0)   # causal distributions
print(f"✓ a tuned head moves with the instruction ({held['tuned'].mean():+.2f}); the same head in the base "
      f"does not ({held['base'].mean():+.2f})")

# %% [markdown]
# **How to read this honestly.** Attention weights say where a head *looks*, not what the model *uses* — the
# value vectors, the other heads and the MLPs all matter. Rollout is a rough estimate of the flow through
# the residual stream, and a head found by searching over 16 must be confirmed on fresh inputs, as above.
#
# ## Exercises

# %%
from itlib.exercises import nb05 as ex

ex.q1

# %%
my_alpha = ...  # your answer: 5 weights (the padding position included)
ex.q1.check(my_alpha)

# %%
# ex.q1.hint()
# ex.q1.solution()

# %%
ex.q2

# %%
my_c = ...  # your answer: the context vector, 2 numbers
ex.q2.check(my_c)

# %%
ex.q3

# %%
R = ...  # your answer: a 3 x 3 array
ex.q3.check(R)

# %% [markdown]
# ## Summary and next
# - Instruction attention: $s_i = h_i^\top W e_I$, $\alpha = \mathrm{softmax}(s)$ over real tokens, $c = \sum_i \alpha_i h_i$
#   — a few lines, checked against a loop.
# - Trained where the instruction decides which tokens matter, $\alpha$ moves to those tokens when only the
#   instruction changes; mean pooling, which cannot choose, stays far below it (asserted in sections 3 and 4).
# - `itlib.viz.AttentionExplorer` shows α, and a transformer's heads as heatmap, shaded text, grid and rollout;
#   after brief instruction tuning one head already follows the instruction, measured on held-out inputs.
#
# **Next:** `06_strategies.ipynb` — what to tune: all weights, some layers, biases only, LoRA — and what each costs.

# %%
print(f"notebook ran in {time.time() - t_start:.0f} s")
