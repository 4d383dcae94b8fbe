# %% [markdown]
# # 00 · What instruction tuning is — the whole pipeline in a few minutes
#
# **Learning goals.** After this notebook you can
# 1. say what instruction tuning is, as a formula, and how it relates to prompt learning, meta-learning and interpretability;
# 2. run the five steps — *collect → represent → fine-tune → evaluate → deploy* — on a real (tiny) pretrained language model;
# 3. read an exact-match table before and after tuning, and say what it shows.
#
# **The idea.** A pretrained language model $P_\theta$ continues text. Instruction tuning shows it examples
# $(I, X, Y)$ — an instruction $I$, an input $X$, the wanted answer $Y$ — written as one text $f(X, I)$, and
# minimises the negative log-likelihood of the answer tokens only:
#
# $$\mathcal{L}(\theta) = -\sum_{(I,X,Y)} \sum_{t=1}^{|Y|} \log P_\theta\big(y_t \mid f(X, I),\, y_{<t}\big).$$
#
# After tuning, the model answers instructions it has never seen with inputs it has never seen.
# Everything below runs on a laptop CPU: the course ships a small base model pretrained by `itlib` itself.

# %%
import time

import pandas as pd
import torch

import itlib
from itlib.evaluate import evaluate, generate
from itlib.formats import render
from itlib.pipeline import suite_data
from itlib.train import fit

torch.set_num_threads(2)
t_start = time.time()

# %% [markdown]
# ## The starting point: a pretrained base model
# `itlib.load_base()` loads the shipped base model (a 1 M-parameter Llama-style transformer) and its tokenizer.
# It was pretrained on plain prose about a little world of numbers, colours, animals and people
# (`itlib.corpus`) — it has never seen an instruction.

# %%
base, tokenizer = itlib.load_base()
print(f"{sum(p.numel() for p in base.parameters()):,} parameters, vocabulary of {len(tokenizer)} tokens")


def continue_text(model, text, n=12):
    ids = tokenizer(tokenizer.bos_token + text, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=n, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


for text, reference in (("Of the numbers 3 8 5, the biggest is", "8"), ("Leo read the list 4 1 8 backwards:", "8 1 4")):
    answer = continue_text(base, text)
    print(f"{text!r} -> {answer!r}  (reference {reference!r})")

# %% [markdown]
# **Prompt learning.** The base model already *has* the skills — as prose. Phrase the task the way its
# corpus does (a *prompt*) and it may answer; that is prompt learning: change the input, not the weights.
# Two prompts prove nothing either way (look at the two above: is each continuation the reference?), so we
# measure: `itlib.experiments.prose_accuracy` asks the base four corpus-style sentences per task, for all 16
# tasks, and counts a hit when the continuation is exactly the reference followed by the sentence's full stop.
# Then we ask the same base with an *instruction* instead.

# %%
from itlib.corpus import SKILLS
from itlib.data import Example
from itlib.experiments import prose_accuracy

PROSE_PER_TASK = 4
prose = {task: prose_accuracy(base, tokenizer, task, n=PROSE_PER_TASK, seed=0) for task in SKILLS}
n_prose = PROSE_PER_TASK * len(prose)
prose_acc = sum(prose.values()) / len(prose)
print(f"prose prompts: {round(prose_acc * n_prose)} of {n_prose} answered exactly ({prose_acc:.2f}) "
      f"(per task: {', '.join(f'{t} {a:.2f}' for t, a in prose.items())})")

question = Example("What is the largest number?", "3 8 5", "8")
print("instruction prompt ->", repr(generate(base, tokenizer, [question])[0]), "(reference '8')")

# %% [markdown]
# ## Step 1 · Collect examples
# `itlib.tasks` holds a suite of synthetic tasks. Each has a reference solver (so every answer is checkable),
# several instruction templates (some held out), a cluster, a kind and a difficulty level.
# `suite_data` splits them so that test inputs and held-out templates never appear in training.

# %%
splits = suite_data(n_train_per_task=500, n_test_per_task=30, seed=0)
print({name: len(examples) for name, examples in splits.items()})
pd.DataFrame([e.__dict__ for e in splits["train"][:6]])[["task", "cluster", "kind", "instruction", "input", "output"]]

# %% [markdown]
# ## Step 2 · Represent them: f(X, I)
# The *prefix* format writes the instruction and input first and the answer after them. Only the answer
# tokens (and the end-of-sequence token `</s>`) carry loss — the mask below is 1 exactly there.

# %%
example = splits["train"][0]
r = render(example, tokenizer, "prefix")
tokens = tokenizer.convert_ids_to_tokens(r.input_ids)
pd.DataFrame({"token": tokens, "loss mask": r.loss_mask}).T

# %% [markdown]
# ## Step 3 · Fine-tune
# `itlib.train.fit` minimises the masked loss above with AdamW and a warm-up + cosine schedule.
# The base model is copied first, so we can compare before and after.

# %%
import copy

tuned = copy.deepcopy(base)
result = fit(tuned, tokenizer, splits["train"], fmt="prefix", epochs=2, lr=2e-3, batch_tokens=1024, seed=0)
print(f"{result.steps} steps in {result.seconds:.0f} s, {result.tokens_per_second:,.0f} tokens/s, "
      f"{result.padding_efficiency:.1%} of batch tokens are real (not padding)")

# %%
import matplotlib.pyplot as plt

smooth = pd.Series(result.losses).rolling(20, min_periods=1).mean()
plt.figure(figsize=(6, 3))
plt.plot(result.losses, alpha=0.3, label="per step")
plt.plot(smooth, label="moving average")
plt.xlabel("step"); plt.ylabel("masked NLL"); plt.yscale("log"); plt.legend(); plt.title("instruction tuning loss")
plt.show()

# %% [markdown]
# ## Step 4 · Evaluate: before vs after, on inputs the model never saw
# Exact match (EM) = the share of answers equal to the reference. We score the base and the tuned model on
# new inputs of the seen tasks (`test_inputs`) and on new phrasings (`test_templates`).

# %%
before = evaluate(base, tokenizer, splits["test_inputs"])
after = evaluate(tuned, tokenizer, splits["test_inputs"])
before_templates = evaluate(base, tokenizer, splits["test_templates"])
after_templates = evaluate(tuned, tokenizer, splits["test_templates"])
table = pd.DataFrame({"base": before["per_task"], "tuned": after["per_task"]})
table.loc["ALL"] = [before["exact_match"], after["exact_match"]]
table.round(2)

# %%
from itlib.metrics import two_se

print(f"exact match, new inputs:    base {before['exact_match']:.2f} -> tuned {after['exact_match']:.2f}")
print(f"exact match, new phrasings: base {before_templates['exact_match']:.2f} -> tuned "
      f"{after_templates['exact_match']:.2f}")
print("per difficulty (tuned):", {k: round(v, 2) for k, v in after["per_difficulty"].items()})

# %% [markdown]
# **Check.** The claims of this notebook, asserted: the base model answers most prose prompts but does not
# follow instructions; the tuned model does, on inputs it never saw, and it also handles phrasings it never saw
# better than the base.

# %%
gap = prose_acc - before["exact_match"]
spread = two_se(prose_acc, before["exact_match"], min(n_prose, len(splits["test_inputs"])))
assert prose_acc >= 0.5, prose
assert gap > spread, (prose_acc, before["exact_match"], spread)
assert before["exact_match"] < 0.2, before["exact_match"]
assert after["exact_match"] >= 0.8, after["exact_match"]
n_inputs, n_templates = len(splits["test_inputs"]), len(splits["test_templates"])
template_gain = after_templates["exact_match"] - before_templates["exact_match"]
template_spread = two_se(after_templates["exact_match"], before_templates["exact_match"], n_templates)
assert template_gain > template_spread, (before_templates["exact_match"], after_templates["exact_match"])
print(f"✓ the base answers {round(prose_acc * n_prose)} of {n_prose} prose prompts ({prose_acc:.2f}) but "
      f"{round(before['exact_match'] * n_inputs)} of {n_inputs} instructions ({before['exact_match']:.2f}; "
      f"gap {gap:.2f} ± {spread:.2f}): the skills are there, the instruction format is not")
print(f"✓ tuned: {after['exact_match']:.2f} on new inputs (base {before['exact_match']:.2f}); on new phrasings "
      f"{after_templates['exact_match']:.2f} vs the base's {before_templates['exact_match']:.2f} "
      f"(gain {template_gain:+.2f} ± {template_spread:.2f}, {n_templates} examples)")

# %% [markdown]
# **A few examples suffice — on a pretrained base.** The seed's claim (§1.2): instruction tuning needs few
# examples, where classic supervised training from scratch needs many. A tiny test of it:
# `itlib.experiments.few_examples` tunes the base on only 128 examples (8 per task) for about 60 short steps
# (rounded to whole passes over the 128 examples; the count is printed), and trains
# the *same architecture from scratch* on the same 128 examples with the same steps; both are scored on 96 new
# inputs. Compare the two numbers with each other and with the tuned model above. Notebook 10
# (`10_scale.ipynb`) sweeps the number of examples.

# %%
from itlib.experiments import few_examples

few = {r["start"]: r for r in few_examples(ns=(128,), steps=60, batch_tokens=512, lr=1e-3, n_test_per_task=6)}
em_few, em_scratch = few["pretrained base"]["exact_match"], few["from scratch"]["exact_match"]
n_few_test = 6 * len(prose)
few_spread = two_se(em_few, em_scratch, n_few_test)
print(f"128 examples ({128 / len(splits['train']):.1%} of the {len(splits['train']):,} above), "
      f"{few['pretrained base']['steps']} steps each: pretrained base EM {em_few:.2f}, from scratch {em_scratch:.2f} "
      f"(difference {em_few - em_scratch:+.2f} ± {few_spread:.2f}); all {len(splits['train']):,} examples on the base: "
      f"{after['exact_match']:.2f}")
assert em_few - em_scratch > few_spread, (em_few, em_scratch, few_spread)
print("✓ on the same few examples the pretrained base learns to follow instructions; the same model from scratch "
      "does not")

# %% [markdown]
# **Meta-learning.** Instruction tuning trains on many tasks at once; what transfers is *how to read an
# instruction*. Compare the tuned model's exact match on held-out phrasings with its score on new inputs (both
# printed above): reading a phrasing it never saw is the multi-task idea of meta-learning, where a learner
# trained on many tasks adapts to a new one. Notebook 06 tunes on some
# task clusters and tests on a cluster it never saw.
#
# **Interpretability.** We can look inside: with eager attention the model returns its attention weights.
# How much of the attention at the last prompt position (the one that predicts the first answer token) goes to
# the instruction part versus the rest of the prompt (the input and the `Answer:` header)?

# %%
from itlib.formats import prompt_ids, prompt_text
from itlib.models import with_eager_attention

probe = with_eager_attention(copy.deepcopy(tuned))
example = splits["test_inputs"][5]
ids = torch.tensor([prompt_ids(example, tokenizer)])
with torch.no_grad():
    att = probe(input_ids=ids, output_attentions=True).attentions  # layers x (1, heads, query, key)
last_row = torch.stack(att)[:, 0, :, -1, :].mean(dim=(0, 1))  # mean over layers and heads
# where does the instruction end? the first token that starts at or after "Input:" in the prompt text
text = prompt_text(example, "prefix")
offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
n_instr = 1 + next(k for k, (start, _) in enumerate(offsets) if start >= text.index("Input:"))  # 1 = BOS
pieces = tokenizer.convert_ids_to_tokens(ids[0].tolist())
print(example.instruction, "|", example.input)
print("instruction part:", pieces[1:n_instr], "\nrest:", pieces[n_instr:])
print(f"attention on the instruction part: {last_row[1:n_instr].sum():.2f}, on the rest: {last_row[n_instr:].sum():.2f}, "
      f"on BOS: {last_row[0]:.2f}")
assert pieces[n_instr] == "Input" and tokenizer.convert_tokens_to_string(pieces[1:n_instr]).startswith("Instruction:")
assert abs(last_row.sum() - 1) < 1e-4  # attention weights are a distribution
# notebook 05 builds an interactive explorer on exactly these weights

# %% [markdown]
# ## Step 5 · Deploy: a plain Hugging Face folder
# `save_model` writes safetensors weights, the config, a generation config that stops at `</s>`, and the
# tokenizer with its chat template — any `transformers` user can load it.

# %%
import tempfile

from transformers import AutoModelForCausalLM, AutoTokenizer

from itlib.models import save_model

folder = save_model(tuned, tokenizer, tempfile.mkdtemp() + "/tuned-model", metrics={"exact_match": after["exact_match"]})
print(sorted(p.name for p in folder.iterdir()))
plain_model = AutoModelForCausalLM.from_pretrained(folder)
plain_tok = AutoTokenizer.from_pretrained(folder)
plain_tok.padding_side = "left"
reloaded = generate(plain_model, plain_tok, splits["test_inputs"][:20])
assert reloaded == after["predictions"][:20]
print("✓ the reloaded model gives the same answers")

# %% [markdown]
# ## Exercises

# %%
from itlib.exercises import nb00 as ex

ex.q1

# %%
my_em = ...  # your answer: a number between 0 and 1
ex.q1.check(my_em)

# %%
# ex.q1.hint()
# ex.q1.solution()

# %%
ex.q2

# %%
my_step = ...  # one of "collect", "represent", "fine-tune", "evaluate", "deploy"
ex.q2.check(my_step)

# %% [markdown]
# ## Summary and next
# - Instruction tuning = minimise $-\sum \log P(Y \mid f(X, I))$ over answer tokens, across many tasks.
# - The base model had the skills as prose (prompt learning reaches them); tuning teaches it to follow instructions —
#   including new inputs and new phrasings.
# - Few examples go much further on a pretrained base than on the same model trained from scratch (the check
#   above); notebook 10 measures how many are needed.
# - The pipeline: collect → represent → fine-tune → evaluate → deploy, each one `itlib` call.
#
# **Next:** `01_formats.ipynb` — the representation f(X, I) in detail: prefix, infilling, seq2seq and chat, and the loss by hand.

# %%
print(f"notebook ran in {time.time() - t_start:.0f} s")
