# %% [markdown]
# # 01 · Instruction formats f(X, I) — prefix, infilling, seq2seq, chat — and the loss by hand
#
# **Learning goals.** After this notebook you can
# 1. write one example $(I, X, Y)$ as a *prefix* prompt, an *infilling* (cloze) prompt, a *sequence-to-sequence*
#    pair and a *chat* conversation, and say what the model reads and what it is trained to write;
# 2. point at exactly the tokens that carry loss (the loss mask), and get the same mask from a chat template;
# 3. compute $\mathcal{L} = -\sum \log P(Y \mid f(X, I))$ by hand from the logits and match both `itlib`'s loss
#    and `transformers`' own loss;
# 4. read a small measured comparison of the four formats, trained for the same budget.
#
# **The idea.** An instruction-tuning example has an instruction $I$, an input $X$ and an answer
# $Y = (y_1, \dots, y_{|Y|})$. A decoder-only language model reads one token sequence, so we need a function
# $f(X, I)$ that writes instruction and input as text; the answer follows it. Training minimises the negative
# log-likelihood of the **answer tokens only**:
#
# $$\mathcal{L}(\theta) = -\sum_{(I,X,Y)} \sum_{t=1}^{|Y|+1} \log P_\theta\big(y_t \mid f(X, I),\, y_{<t}\big),
# \qquad y_{|Y|+1} = \texttt{</s>}.$$
#
# The prompt $f(X, I)$ is *conditioned on*, not predicted: its tokens get loss mask 0. The answer and the
# end-of-sequence token `</s>` (so the model learns to stop) get mask 1. The formats differ only in $f$:
#
# | format | $f(X, I)$ — what the model reads before the answer |
# |---|---|
# | **prefix** | `Instruction: I` ↵ `Input: X` ↵ `Answer:` ↵ — instruction and input first, the answer continues them |
# | **infilling** | a text with a hole: `Input: X` ↵ `Answer: ▢` ↵ `(as asked: I)`. A decoder reads it in fill-in-the-middle order: `<\|fim_prefix\|>` text before the hole, `<\|fim_suffix\|>` text after it, `<\|fim_middle\|>` then the answer |
# | **seq2seq** | a bare source → target pair: `I` ↵ `X` `<sep>`. An encoder-decoder (T5) would put the source into its encoder; a decoder-only model reads it as a prefix LM |
# | **chat** | the tokenizer's chat template: `<\|user\|>` ↵ `I` ↵↵ `X` ↵ `<\|assistant\|>` ↵ |

# %%
import copy
import time

import matplotlib.pyplot as plt
import pandas as pd
import torch

import itlib
from itlib.data import Example
from itlib.formats import FORMATS, chat_messages, prompt_ids, prompt_text, render
from itlib.models import n_params
from itlib.viz_tokens import TokenMask, plot_token_masks, token_pieces

torch.set_num_threads(2)
torch.manual_seed(0)
t_start = time.time()

base, tokenizer = itlib.load_base()
print(f"base model: {n_params(base):,} parameters; tokenizer: {len(tokenizer)} tokens, "
      f"special tokens {tokenizer.all_special_tokens}")

# %% [markdown]
# ## One example, four formats
# The same instruction, input and answer, written four ways. `prompt_text(ex, fmt)` is $f(X, I)$: the text the
# model is given; the answer $Y$ follows it.

# %%
ex = Example(instruction="Sort the numbers from smallest to largest.", input="7 2 9", output="2 7 9")
for fmt in FORMATS:
    print(f"── {fmt} " + "─" * 50)
    print(prompt_text(ex, fmt) + ex.output + tokenizer.eos_token)

# %% [markdown]
# The infilling prompt is a *cloze*: the answer's slot sits inside the text (`Answer: ▢`), with text after it.
# Put back in reading order, the document the model completes is:

# %%
prefix_part, rest = prompt_text(ex, "infilling").split("<|fim_suffix|>")
suffix_part = rest.removesuffix("<|fim_middle|>")
document = prefix_part.removeprefix("<|fim_prefix|>") + ex.output + suffix_part
print(document)

# %% [markdown]
# ## Which tokens carry loss
# `render(ex, tokenizer, fmt)` tokenises $f(X, I)$, the answer and `</s>`, and returns `input_ids`, the 0/1
# `loss_mask` and `prompt_len` (how many leading tokens the model is given when it has to answer).
# Green tokens are trained on (mask 1), grey ones are read but not trained on (mask 0).
# (`·` is a space, `↵` a newline.)

# %%
rendered = {fmt: render(ex, tokenizer, fmt) for fmt in FORMATS}
rows = [(fmt, token_pieces(tokenizer, r.input_ids), r.loss_mask) for fmt, r in rendered.items()]
plot_token_masks(rows, line_chars=64, title="f(X, I) + Y + </s>: the loss mask over the tokens")
plt.show()

pd.DataFrame({fmt: {"tokens": len(r.input_ids), "prompt tokens (mask 0)": r.prompt_len,
                    "answer + EOS tokens (mask 1)": sum(r.loss_mask)} for fmt, r in rendered.items()}).T

# %% [markdown]
# The same picture as HTML (hover over a token to see its mask); `TokenMask` is the helper in `itlib.viz_tokens`:

# %%
TokenMask.from_ids(tokenizer, rendered["infilling"].input_ids, rendered["infilling"].loss_mask, label="infilling")

# %% [markdown]
# **Check.** In every format the mask is 1 on exactly the answer's tokens and `</s>`, as one block at the end
# after the `prompt_len` prompt tokens; what differs between formats is only the prompt.

# %%
answer_ids = tokenizer(ex.output, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
for fmt, r in rendered.items():
    trained = [t for t, m in zip(r.input_ids, r.loss_mask) if m]
    assert trained == answer_ids, fmt
    assert r.loss_mask == [0] * r.prompt_len + [1] * len(answer_ids), fmt
    assert r.input_ids[: r.prompt_len] == prompt_ids(ex, tokenizer, fmt), fmt
assert len({tuple(r.input_ids[: r.prompt_len]) for r in rendered.values()}) == len(FORMATS)  # 4 different prompts
print(f"✓ in all {len(FORMATS)} formats the loss mask covers exactly the {len(answer_ids)} answer + EOS tokens")

# %% [markdown]
# ## The chat template
# Chat models keep the format in the tokenizer: `tokenizer.chat_template` is a Jinja template that turns a list of
# `messages` into text. Ours marks the assistant's reply with a `{% generation %}` block, so `transformers` can
# return the **assistant mask** — the tokens a chat model is trained on.

# %%
print(tokenizer.chat_template)

# %%
messages = chat_messages(ex)
print(messages)
encoded = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
print(type(encoded).__name__, "with keys", list(encoded.keys()))  # transformers 5: a dict, not a list of ids
print(repr(tokenizer.decode(encoded["input_ids"])))
print("assistant_masks:", encoded["assistant_masks"])
print("itlib chat mask:", rendered["chat"].loss_mask)

# %% [markdown]
# With `add_generation_prompt=True` and only the user's turn, the template gives the prompt a chat model answers
# from — the same ids as `prompt_ids(ex, tokenizer, "chat")`. A conversation with several turns gets loss on
# *every* assistant reply, and on nothing the user or the system said:

# %%
generation_prompt = tokenizer.apply_chat_template(messages[:1], tokenize=True, return_dict=True,
                                                  add_generation_prompt=True)["input_ids"]
conversation = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "Sort the numbers: 7 2 9"},
    {"role": "assistant", "content": "2 7 9"},
    {"role": "user", "content": "Now backwards."},
    {"role": "assistant", "content": "9 7 2"},
]
multi = tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=True,
                                      return_assistant_tokens_mask=True)
TokenMask.from_ids(tokenizer, multi["input_ids"], multi["assistant_masks"], label="two turns")

# %%
assert encoded["input_ids"] == rendered["chat"].input_ids
assert encoded["assistant_masks"] == rendered["chat"].loss_mask
assert generation_prompt == prompt_ids(ex, tokenizer, "chat")
trained_text = tokenizer.decode([t for t, m in zip(multi["input_ids"], multi["assistant_masks"]) if m])
assert trained_text == "2 7 9</s>9 7 2</s>", trained_text
print("✓ the chat template's assistant mask equals itlib's chat-format loss mask")
print(f"✓ in the two-turn conversation only the assistant replies are trained on: {trained_text!r}")

# %% [markdown]
# ## Chinese instructions, losslessly
# The tokenizer is byte-level BPE: text becomes UTF-8 bytes, and frequent byte pairs are merged into tokens. Any
# string — Chinese included — therefore round-trips exactly: `decode(encode(text)) == text`. The suite's *map*
# tasks have Chinese instruction templates, e.g. for translating colour words:

# %%
from itlib.tasks import get_task

colours = get_task("colour_to_chinese")
zh = Example(instruction=colours.zh_templates[0], input="red blue green", output=colours.solve("red blue green"))
zh_text = prompt_text(zh, "chat") + zh.output
zh_ids = tokenizer(zh_text, add_special_tokens=False)["input_ids"]
print(zh_text)
print(f"{len(zh_text)} characters = {len(zh_text.encode('utf-8'))} UTF-8 bytes -> {len(zh_ids)} tokens")
r_zh = render(zh, tokenizer, "chat")
TokenMask.from_ids(tokenizer, r_zh.input_ids, r_zh.loss_mask, label="中文 (chat)")

# %% [markdown]
# A `…` box is a token that adds bytes but does not complete a character yet: the character appears on the token
# that completes it. Nothing is lost:

# %%
assert tokenizer.decode(zh_ids) == zh_text
assert tokenizer.decode(r_zh.input_ids) == tokenizer.bos_token + zh_text + tokenizer.eos_token
zh_trained = [t for t, m in zip(r_zh.input_ids, r_zh.loss_mask) if m]
assert tokenizer.decode(zh_trained, skip_special_tokens=True) == zh.output
assert "".join(token_pieces(tokenizer, r_zh.input_ids)) == tokenizer.decode(r_zh.input_ids)
print("✓ decode(encode(text)) == text for the Chinese instruction, and the mask covers exactly its answer",
      repr(zh.output))

# %% [markdown]
# ## The loss by hand
# A causal LM outputs, at every position $t$, logits $z_t \in \mathbb{R}^{V}$ for the **next** token. So token
# $x_t$ is scored by the logits at position $t-1$:
#
# $$\log P(x_t \mid x_{<t}) = \log\operatorname{softmax}(z_{t-1})[x_t], \qquad
# \mathcal{L}_{\text{sum}} = -\sum_{t:\ m_t = 1} \log P(x_t \mid x_{<t}), \qquad
# \mathcal{L}_{\text{mean}} = \mathcal{L}_{\text{sum}} \big/ \textstyle\sum_t m_t .$$
#
# Training uses the mean over the answer tokens of a batch (so the step size does not depend on how long answers
# are). We take a batch of four training examples, right-padded to the same length, and compute it step by step.

# %%
from itlib.pipeline import suite_data
from itlib.train import collate, masked_nll

splits = suite_data(n_train_per_task=20, n_test_per_task=6, seed=0)
batch_examples = splits["train"][:4]
batch = collate([render(e, tokenizer, "prefix") for e in batch_examples], tokenizer.pad_token_id)
ids, attention, mask = batch["input_ids"], batch["attention_mask"], batch["loss_mask"]
print("batch shape", tuple(ids.shape), "| answer tokens (mask 1):", int(mask.sum()), "| padding:",
      int((attention == 0).sum()))

with torch.no_grad():
    logits = base(input_ids=ids, attention_mask=attention).logits  # (batch, length, vocab)

logp = torch.log_softmax(logits.float(), dim=-1)                            # log-probabilities
token_logp = logp[:, :-1].gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)  # log P(x_t | x_<t), t = 1..T-1
m = mask[:, 1:].float()                                                     # the mask moves with the targets
loss_sum = -(token_logp * m).sum()
loss_by_hand = loss_sum / m.sum()
print(f"L_sum = {loss_sum:.3f} over {int(m.sum())} tokens, L_mean = {loss_by_hand:.4f}")

# %% [markdown]
# Token by token for the first example: the prompt's tokens are read (mask 0, no loss); only the answer's tokens
# and `</s>` add their $-\log P$.

# %%
n = int(attention[0].sum())
table = pd.DataFrame({
    "token": token_pieces(tokenizer, ids[0, 1:n].tolist()),
    "mask": mask[0, 1:n].tolist(),
    "-log P(token | before)": (-token_logp[0, : n - 1]).tolist(),
})
table["adds to loss"] = table["mask"] * table["-log P(token | before)"]
print(f"{batch_examples[0].instruction} | {batch_examples[0].input} -> {batch_examples[0].output}")
table.round(3)

# %% [markdown]
# The same number two more ways: `itlib.train.masked_nll`, which training uses, and the loss `transformers`
# computes itself when given `labels` — the token ids, with `-100` (ignored) wherever the mask is 0. The model
# shifts the labels by one position internally. Without the mask (`labels = input_ids`), the loss would also
# train the model to *produce the prompt* — a different objective:

# %%
loss_itlib = masked_nll(logits, ids, mask)
labels = ids.masked_fill(mask == 0, -100)
with torch.no_grad():
    loss_hf = base(input_ids=ids, attention_mask=attention, labels=labels).loss
    loss_all = base(input_ids=ids, attention_mask=attention, labels=ids.masked_fill(attention == 0, -100)).loss
print(f"by hand {loss_by_hand:.6f} | itlib masked_nll {loss_itlib:.6f} | transformers (labels=-100 outside the "
      f"mask) {loss_hf:.6f}")
print(f"every token incl. the prompt: {loss_all:.4f} (not the instruction-tuning loss)")

# %%
assert torch.allclose(loss_by_hand, loss_itlib, atol=1e-5)
assert torch.allclose(loss_by_hand, loss_hf, atol=1e-5)
assert abs(float(loss_all) - float(loss_by_hand)) > 0.1
assert abs(float(table["adds to loss"].sum()) - float(-(token_logp[0] * m[0]).sum())) < 1e-4
print("✓ the loss by hand = itlib.train.masked_nll = transformers' loss with labels = -100 outside the mask")

# %% [markdown]
# ## Which format trains best?
# The formats carry the same information, so does the choice matter? We tune the same base model for the **same
# budget** in each format — the same examples, epochs, learning rate and seed — and measure exact match (EM) on
# held-out inputs (never in training), each model prompted in the format it was tuned in.
#
# To keep this under a minute on a laptop the run is small: one task from each of the suite's six clusters and a
# short schedule (2 passes over 300 examples per task).

# %%
from itlib.evaluate import evaluate
from itlib.tasks import suite_splits
from itlib.train import fit

COMPARE_TASKS = ["reverse", "uppercase", "max_digit", "first_item", "sentiment", "word_type"]  # one per cluster
BUDGET = {"epochs": 2, "lr": 2e-3, "batch_tokens": 512, "seed": 0}
data = suite_splits(n_train_per_task=300, n_test_per_task=30, seed=0, tasks=COMPARE_TASKS)
print(f"{len(data['train'])} training examples, {len(data['test_inputs'])} held-out test inputs; budget {BUDGET}")

runs, scores = {}, {}
for fmt in FORMATS:
    model = copy.deepcopy(base)
    before = evaluate(model, tokenizer, data["test_inputs"], fmt=fmt)
    runs[fmt] = fit(model, tokenizer, data["train"], fmt=fmt, progress=False, **BUDGET)
    after = evaluate(model, tokenizer, data["test_inputs"], fmt=fmt)
    scores[fmt] = {"EM before": before["exact_match"], "EM after": after["exact_match"],
                   "steps": runs[fmt].steps, "train tokens": runs[fmt].tokens,
                   "train s": round(runs[fmt].seconds, 1), **after["per_task"]}
    print(f"{fmt:9s} EM {before['exact_match']:.2f} -> {after['exact_match']:.2f}  ({runs[fmt].seconds:.0f} s)")

results = pd.DataFrame(scores).T
results.round(2)

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
for fmt, run in runs.items():
    ax1.plot(pd.Series(run.losses).rolling(10, min_periods=1).mean(), label=fmt)
ax1.set_xlabel("step"); ax1.set_ylabel("masked NLL (moving avg.)"); ax1.set_yscale("log"); ax1.legend()
ax1.set_title("training loss, same budget")
results[["EM before", "EM after"]].plot.bar(ax=ax2, rot=0, color=["#bbbbbb", "#43a047"])
ax2.set_ylabel("exact match, held-out inputs"); ax2.set_ylim(0, 1); ax2.set_title("before vs after tuning")
plt.tight_layout()
plt.show()

# %%
ranking = results["EM after"].sort_values(ascending=False)
print("ranking:", " > ".join(f"{fmt} {em:.2f}" for fmt, em in ranking.items()))
task_cols = [t for t in COMPARE_TASKS if t in results.columns]
spread = results[task_cols].max() - results[task_cols].min()
top = spread.idxmax()
print(f"the formats differ most on {top!r}: " + ", ".join(f"{f} {results.loc[f, top]:.2f}" for f in FORMATS))

# %% [markdown]
# **Check.** The untuned base follows none of the formats; after the same short budget every format is far
# above it; and the formats differ in cost: the same examples take more tokens in the infilling format than in
# the prefix format, and the fewest in seq2seq.

# %%
assert (results["EM before"] < 0.05).all(), results["EM before"]
assert (results["EM after"] >= 0.6).all(), results["EM after"]
print(f"✓ the untuned base scores EM <= {results['EM before'].max():.2f} in every format; after tuning every "
      f"format scores at least {results['EM after'].min():.2f} "
      f"(spread between formats: {results['EM after'].max() - results['EM after'].min():.2f})")
tokens = results["train tokens"]
assert tokens["infilling"] > tokens["prefix"] > tokens["seq2seq"], tokens
print(f"✓ the same examples cost {tokens['infilling']:,.0f} tokens as infilling, {tokens['prefix']:,.0f} as "
      f"prefix, {tokens['seq2seq']:,.0f} as seq2seq")

# %% [markdown]
# **Reading the result.** Every format learns: the information (instruction, input, answer) is the same, and a
# pretrained base picks up whichever layout it is shown. The ranking is *not* asserted: prefix, seq2seq and chat
# end within a few test answers of each other, and such gaps move with the seed — change `seed` in `BUDGET` and
# rerun the cell to see it. Where one format trails, look at the per-task columns before blaming the format: a
# gap concentrated on one task (the line printed under the table) says more about that task in that layout than
# about the format in general. (With the course's first, weaker base model, prefix led seq2seq and chat by 0.14
# EM at this budget; a base that knows the skills better leaves less for the layout to decide.) The formats do
# differ in cost — compare the
# `train tokens` column: the same examples are longer in the infilling format and shorter in seq2seq. In practice
# the format is chosen for *use* as much as for EM: the chat template is what chat front-ends send, infilling is
# what code editors need, and whatever you choose, **the format at inference must be the one the model was tuned
# on**.

# %% [markdown]
# ## Exercises

# %%
from itlib.exercises import nb01 as ex01

ex01.q1

# %%
my_count = ...  # your answer: an int
ex01.q1.check(my_count)

# %%
# ex01.q1.hint()
# ex01.q1.solution()

# %%
ex01.q2

# %%
my_masked_nll = ...  # replace `...` by your function: def my_masked_nll(logits, input_ids, loss_mask): ...
ex01.q2.check(my_masked_nll)

# %%
ex01.q3

# %%
my_make_labels = ...  # replace `...` by your function: def my_make_labels(input_ids, loss_mask): ...
ex01.q3.check(my_make_labels)

# %% [markdown]
# ## Summary and next
# - An instruction example becomes one sequence $f(X, I)$ + $Y$ + `</s>`; prefix, infilling, seq2seq and chat differ
#   only in $f$ — the loss mask is always the answer and `</s>`.
# - A chat template (`{% generation %}`) gives the same mask through `apply_chat_template(...,
#   return_assistant_tokens_mask=True)`; byte-level BPE keeps any text, Chinese included, lossless.
# - $\mathcal{L} = -\sum \log P(Y \mid f(X, I))$ is a gather of log-softmax at shifted positions under a mask —
#   the same number as `masked_nll` and as `transformers` with `labels = -100` outside the mask.
# - Tuned for the same small budget, every format learns far above the base; here prefix learned faster than
#   seq2seq and chat. Tune and prompt in the same format.
#
# **Next:** `02_data.ipynb` — where the examples come from: the task suite, its templates, and measuring coverage,
# diversity, difficulty and bias.

# %%
print(f"notebook ran in {time.time() - t_start:.0f} s")
