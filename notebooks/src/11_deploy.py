# %% [markdown]
# # 11 · Deploy — ship the tuned model, decode it right, make it cheaper
#
# **Learning goals.** After this notebook you can
# 1. export a tuned model as a plain Hugging Face folder and prove that a *fresh* Python process with only
#    `transformers` gives the same answers;
# 2. read a generation config: EOS, `max_new_tokens`, greedy vs sampling (temperature, top-p) — and show what
#    goes wrong without EOS;
# 3. chat with the model in a widget and measure latency per answer, tokens/s and batched throughput;
# 4. quantise it to int8 on the CPU and weigh size, speed and exact match before vs after;
# 5. tune the same base with TRL's `SFTTrainer` and check that it puts the loss on the same tokens as this course.
#
# **The idea.** Deployment is the last step of *collect → represent → fine-tune → evaluate → deploy*. What ships
# is not only the weights θ but also the *decoding rule*: how the next token $y_t$ is chosen from
# $p_\theta(\cdot \mid f(X, I), y_{<t})$, and when to stop.
#
# - greedy: $y_t = \arg\max_v p_\theta(v \mid \dots)$ — deterministic;
# - sampling with temperature $T$: $p_T(v) = \dfrac{\exp(z_v / T)}{\sum_u \exp(z_u / T)}$ for logits $z$, and
#   top-p keeps the smallest set $V_p$ of most likely tokens with $\sum_{v \in V_p} p_T(v) \ge p$ (renormalised);
# - stop at the first $y_t = $ `</s>` (EOS) — the token the model was trained to produce after every answer — or
#   after `max_new_tokens`.
#
# And to make it cheaper: int8 dynamic quantisation stores each linear layer's weight **symmetrically**, one float
# scale per matrix and no zero point:
#
# $$W \approx s\,W_{\text{int8}}, \qquad s = \frac{\max_{ij} |W_{ij}|}{127.5}, \qquad
#   W_{\text{int8}} = \mathrm{clamp}\big(\mathrm{round}(W / s),\,-128,\,127\big)$$
#
# — 1 byte per weight instead of 4. The *activations* $x$ entering the layer are quantised at every call with the
# asymmetric (affine) form $x \approx s_x\,(x_{\text{uint8}} - z_x)$, $s_x = (\max x - \min x)/255$, a zero point
# $z_x$ that maps 0 exactly, because activations need not be centred on 0.

# %%
import copy
import json
import shutil
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch

import itlib
from itlib import deploy
from itlib.evaluate import evaluate, exact_match, exact_matches, generate
from itlib.formats import prompt_ids, user_text
from itlib.metrics import paired_two_se
from itlib.pipeline import suite_data, tune

torch.set_num_threads(2)
t_start = time.time()
workdir = Path(tempfile.mkdtemp(prefix="itlib-nb11-"))

# %% [markdown]
# ## The model to deploy
# We tune the shipped base model once, briefly (300 examples per task, 2 passes, prefix format), and reuse it
# everywhere below. It is not the best model the course can make (notebook 00 reaches more with more data);
# it is a real tuned model, which is all deployment needs.

# %%
base, tok = itlib.load_base()
splits = suite_data(n_train_per_task=300, n_test_per_task=30, seed=0)
tuned = copy.deepcopy(base)
result = tune(tuned, tok, splits["train"], fmt="prefix", epochs=2, lr=2e-3, batch_tokens=256, seed=0)
tuned.eval()
test = splits["test_inputs"]
report = evaluate(tuned, tok, test)
print(f"tuned in {result.seconds:.0f} s ({result.steps} steps); exact match on {len(test)} held-out inputs: "
      f"{report['exact_match']:.3f}")

# %% [markdown]
# ## 1 · Export a Hugging Face folder
# `deploy.export` reuses `itlib.models.save_model` (safetensors, config, tokenizer; written to a temporary folder
# and renamed, never silently overwritten) and adds what serving needs:
# - `generation_config.json`: greedy, **`eos_token_id`**, `pad_token_id`, `max_new_tokens`;
# - a chat template that writes a user's message exactly in the format the model was **tuned** with (prefix here:
#   `Instruction: …\nInput: …\nAnswer:\n`), so `apply_chat_template` gives the training prompt;
# - left padding, so batched generation lines prompts up at the right edge.

# %%
folder = deploy.export(tuned, tok, workdir / "tuned-model", fmt="prefix",
                       metrics={"exact_match": report["exact_match"]})
print(sorted(p.name for p in folder.iterdir()))
print((folder / "generation_config.json").read_text())
print((folder / "chat_template.jinja").read_text())

# %%
try:
    deploy.export(tuned, tok, folder)
except FileExistsError as err:
    print("✓ refused:", err)

# %% [markdown]
# **A fresh process, plain `transformers`.** This is the whole program a user without `itlib` runs
# (`deploy.SERVE_SCRIPT`): `AutoTokenizer`, `AutoModelForCausalLM`, `pipeline("text-generation")`, chat messages in,
# answers out. We start it with `python -c`, offline, and send it held-out prompts.
#
# To show what EOS is for, we also hand it a broken copy of the folder: the same weights, with `eos_token_id`
# deleted from `config.json` and `generation_config.json` (an easy mistake when a config is written by hand).

# %%
print(deploy.SERVE_SCRIPT)

# %%
broken = Path(shutil.copytree(folder, workdir / "no-eos-model"))
for name in ("config.json", "generation_config.json"):
    cfg = json.loads((broken / name).read_text())
    cfg.pop("eos_token_id")
    (broken / name).write_text(json.dumps(cfg, indent=2))

probe = test[::10]  # 48 held-out inputs, 3 per task
messages = [user_text(e) for e in probe]  # "instruction\n\ninput": what a user types
fresh = deploy.answer_in_fresh_process([folder, broken], messages)
fresh_good, fresh_broken = (fresh["answers"][str(f.resolve())] for f in (folder, broken))
here = generate(tuned, tok, probe)  # the notebook's own answers (itlib, in this process)

refs = [e.output for e in probe]
pd.DataFrame({"message": [m.replace("\n\n", " | ") for m in messages], "reference": refs,
              "this notebook": here, "fresh process": fresh_good, "fresh, no EOS": fresh_broken}).head(8)

# %%
n_same = sum(a == b for a, b in zip(fresh_good, here))
print(f"fresh process ({fresh['seconds']:.0f} s, itlib imported there: {fresh['itlib_loaded']}): "
      f"{n_same}/{len(here)} answers identical to the notebook's")
print(f"exact match: notebook {exact_match(here, refs):.3f}, fresh process {exact_match(fresh_good, refs):.3f}, "
      f"fresh process without EOS {exact_match(fresh_broken, refs):.3f}")

# %% [markdown]
# **Check.** The exported folder alone reproduces the model: every answer from the fresh process equals the
# notebook's, and that process never imported `itlib`. Without `eos_token_id` the same weights score far lower (the
# check asks for at least 0.3 less; the exact numbers are printed above).

# %%
assert fresh["itlib_loaded"] is False
assert fresh_good == here, [(a, b) for a, b in zip(fresh_good, here) if a != b]
assert exact_match(fresh_broken, refs) <= exact_match(here, refs) - 0.3
print("✓ identical answers from a fresh process with plain transformers; ✓ without EOS the score collapses")

# %% [markdown]
# ## 2 · The generation config
# ### EOS and `max_new_tokens`
# Why does the score collapse? The model *does* produce `</s>` after its answer — it was trained to (the EOS token
# carries loss, notebook 01). But `generate` only stops there if it knows the EOS id. Otherwise it keeps going
# until `max_new_tokens`, and a server decodes everything with `skip_special_tokens=True`, so the `</s>` in the middle
# vanishes and the run-on text is glued to the answer. `deploy.serve_text` does what such a server does.

# %%
subset = test[::3]  # 160 held-out inputs
subset_refs = [e.output for e in subset]
rows, served = [], {}
for label, stop, max_new in [("EOS, max 32", True, 32), ("no EOS, max 32", False, 32),
                             ("EOS, max 4", True, 4), ("EOS, max 8", True, 8)]:
    texts, lengths = deploy.serve_text(tuned, tok, subset, stop_at_eos=stop, max_new_tokens=max_new)
    served[label] = texts
    rows.append({"setting": label, "exact match": exact_match(texts, subset_refs),
                 "mean new tokens": sum(lengths) / len(lengths),
                 "answers at the cap": sum(n == max_new for n in lengths) / len(lengths), "example": texts[0]})
eos_table = pd.DataFrame(rows).set_index("setting")
eos_table.round(3)

# %%
with_eos, without_eos = eos_table.loc["EOS, max 32"], eos_table.loc["no EOS, max 32"]
# the same score as evaluate() on these inputs (up to rare batching differences in the last float digits)
assert abs(with_eos["exact match"] - exact_match(report["predictions"][::3], subset_refs)) <= 0.02
assert without_eos["answers at the cap"] == 1.0  # every answer runs on to max_new_tokens
assert with_eos["answers at the cap"] < 0.05 and with_eos["mean new tokens"] < 12
assert without_eos["exact match"] <= with_eos["exact match"] - 0.3
assert eos_table.loc["EOS, max 4", "exact match"] < with_eos["exact match"]  # too small a cap cuts answers
print(f"✓ with EOS: {with_eos['mean new tokens']:.1f} new tokens per answer, EM {with_eos['exact match']:.3f}; "
      f"without: all {int(without_eos['mean new tokens'])} tokens, EM {without_eos['exact match']:.3f}")

# %% [markdown]
# The fix is what `deploy.export` does: write `eos_token_id` (from the tokenizer) into the generation config —
# the fresh-process answers above came from exactly that folder. `max_new_tokens` is only a safety cap: large
# enough for the longest answer (a cap of 4 cuts long answers), small enough to bound a run-away answer's cost.
#
# ### Greedy vs sampling
# Sampling draws the next token from $p_T$ restricted to the top-p nucleus. We take the model's logits for the
# first answer token of one prompt (the one, among 60 test prompts, whose first token the model is least sure of,
# so that sampling has something to vary). The temperature step is written out by hand below; the top-p step comes
# from `deploy.next_token_distribution` (exercise 3 asks you to write it). Both are compared with the
# `transformers` logits processors:

# %%
from transformers.generation.logits_process import TemperatureLogitsWarper, TopPLogitsWarper

with torch.no_grad():  # the prompt (of the first 60) whose first answer token the model is least sure of
    sure = [tuned(input_ids=torch.tensor([prompt_ids(e, tok)])).logits[0, -1].softmax(-1).max().item()
            for e in test[:60]]
e = test[min(range(len(sure)), key=sure.__getitem__)]
ids = torch.tensor([prompt_ids(e, tok)])
with torch.no_grad():
    z = tuned(input_ids=ids).logits[0, -1]  # logits of the first answer token


def temperature_by_hand(z, T):
    return torch.softmax(z / T, dim=-1)                  # p_T(v) = exp(z_v / T) / sum_u exp(z_u / T)


for T in (0.5, 1.0, 1.5):
    warped = TemperatureLogitsWarper(T)(ids, z[None].clone())
    assert torch.allclose(temperature_by_hand(z, T), torch.softmax(warped, -1)[0], atol=1e-6)
    assert torch.allclose(temperature_by_hand(z, T), deploy.next_token_distribution(z, T), atol=1e-6)
kept = {}
for T, p in [(1.0, 0.9), (1.5, 0.9)]:
    warped = TopPLogitsWarper(p)(ids, TemperatureLogitsWarper(T)(ids, z[None].clone()))
    assert torch.allclose(deploy.next_token_distribution(z, T, p), torch.softmax(warped, -1)[0], atol=1e-6)
    kept[T] = int((deploy.next_token_distribution(z, T, p) > 0).sum())
print("✓ temperature by hand = transformers' TemperatureLogitsWarper = deploy.next_token_distribution(z, T)")
print("✓ temperature + top-p: deploy.next_token_distribution(z, T, p) = TemperatureLogitsWarper + TopPLogitsWarper")
print(f"top-p 0.9 keeps {kept[1.0]} of {len(z)} tokens at T=1.0 and {kept[1.5]} at T=1.5")

top = z.softmax(-1).topk(8).indices
labels = [ascii(tok.decode([int(i)])) for i in top]  # ascii: the plot font has no Chinese glyphs
fig, ax = plt.subplots(figsize=(8, 3))
for k, (T, p) in enumerate([(0.5, 1.0), (1.0, 1.0), (1.5, 1.0), (1.5, 0.9)]):
    ax.bar(torch.arange(8) + 0.2 * k - 0.3, deploy.next_token_distribution(z, T, p)[top], width=0.2,
           label=f"T={T}, top-p={p}")
ax.set_xticks(range(8), labels)
ax.set_ylabel("probability")
ax.set_title(f"first answer token for: {e.instruction} | {e.input}  (reference {e.output!r})")
ax.legend()
plt.show()

# %% [markdown]
# Low $T$ sharpens the distribution towards greedy; high $T$ flattens it; top-p cuts the long tail. Now whole
# answers: the same prompt eight times, greedily and sampled, and exact match on 160 held-out inputs.

# %%
same_prompt = [prompt_ids(e, tok)] * 8
greedy_a = deploy.generate_ids(tuned, tok, same_prompt)
greedy_b = deploy.generate_ids(tuned, tok, same_prompt)
answers = {"greedy": greedy_a}
for T in (0.7, 1.5):
    answers[f"sampled T={T}"] = deploy.generate_ids(tuned, tok, same_prompt, do_sample=True, temperature=T,
                                                    top_p=0.95, seed=0)
variety = pd.DataFrame({k: [tok.decode(a, skip_special_tokens=True) for a in v] for k, v in answers.items()})
variety

# %%
decoded = {"greedy": served["EOS, max 32"]}
for T in (0.7, 1.5):
    decoded[f"sampled T={T}, top-p 0.95"], _ = deploy.serve_text(tuned, tok, subset, do_sample=True, temperature=T,
                                                                 top_p=0.95, seed=0)
scored = {k: exact_matches(v, subset_refs) for k, v in decoded.items()}  # per example: a paired comparison
em_decoding = {k: sum(v) / len(v) for k, v in scored.items()}
distinct = {k: variety[k].nunique() for k in variety}
hot = "sampled T=1.5, top-p 0.95"
changed = sum(g != s for g, s in zip(decoded["greedy"], decoded[hot]))
print("distinct answers out of 8:", distinct)
print("exact match:", {k: round(v, 3) for k, v in em_decoding.items()})
print(f"at T=1.5, {changed} of {len(subset)} answers differ from greedy's")

# %%
gap, noise = em_decoding["greedy"] - em_decoding[hot], paired_two_se(scored["greedy"], scored[hot])
assert greedy_a == greedy_b and distinct["greedy"] == 1  # greedy is deterministic
assert changed >= 5                                      # sampling varies
assert gap > noise                                       # and, hot, costs exact match beyond chance
print(f"✓ greedy repeats itself exactly; ✓ sampling changes answers and, at T=1.5, lowers exact match by "
      f"{gap:.3f} (paired two standard errors: {noise:.3f})")

# %% [markdown]
# For tasks with one right answer (all of ours), greedy is the right default — that is what `export` writes
# (`do_sample: false`). Sampling is for open-ended text, where variety is the point; fix a seed to make it repeatable.
#
# ## 3 · A chat widget, and how fast it answers
# `deploy.ChatWidget` writes each message in the prefix format the model was tuned with (instruction and input in
# separate boxes), decodes greedily (temperature 0) and shows the answer with its token count and time. Try it:
# type *Sort the numbers from smallest to largest.* and *7 2 9*, then press **send**. Each turn stands alone:
# the model was tuned on single turns.

# %%
chat = deploy.ChatWidget(tuned, tok, fmt="prefix")
for e in (test[100], test[250]):
    chat.instruction.value, chat.input.value = e.instruction, e.input
    chat.send_message()  # exactly what the send button does
chat

# %%
expected = generate(tuned, tok, [test[100], test[250]])
assert [turn["answer"] for turn in chat.history] == expected
assert all(a in chat.transcript.value for a in expected)
print("✓ the widget answers like the model:", expected)

# %% [markdown]
# **Latency and throughput.** One user waits for one answer: batch size 1, latency per answer. A server with a
# queue batches many prompts into one `generate` call: each call takes longer, but answers per second go up.
# `deploy.measure_latency` counts new tokens up to and including EOS.

# %%
bench = test[::15]  # 32 prompts
speed_rows = [{"model": "float32", **deploy.measure_latency(tuned, tok, bench, batch_size=bs)} for bs in (1, 32)]
speed = pd.DataFrame(speed_rows).set_index(["model", "batch_size"])
speed[["latency_ms", "tokens_per_s", "answers_per_s"]].round(1)

# %%
one, batched = speed.loc[("float32", 1)], speed.loc[("float32", 32)]
assert batched["answers_per_s"] > 2 * one["answers_per_s"]
print(f"✓ batching 32 prompts: {batched['answers_per_s'] / one['answers_per_s']:.1f}x the answers per second "
      f"(each user waits {batched['latency_ms']:.0f} ms instead of {one['latency_ms']:.0f} ms)")

# %% [markdown]
# ## 4 · CPU int8 dynamic quantisation
# `deploy.quantize_int8` replaces every `nn.Linear` in the transformer blocks by an int8 one
# (`torch.ao.quantization.quantize_dynamic`: int8 weights, activations quantised on the fly per call). Two notes:
# - `torch.ao.quantization` still works in torch 2.13 but is **deprecated**; its successor is torchao
#   (`torchao.quantization.quantize_(model, Int8DynamicActivationInt8WeightConfig())`), not a dependency of this course.
# - `lm_head` is left in float32: it shares its weight with the input embedding (an `nn.Embedding`, not quantised),
#   so an int8 copy would *add* memory.
#
# Dynamic quantisation is applied after loading the float folder (it is not saved as a `transformers` folder).

# %%
qmodel = deploy.quantize_int8(tuned)
print(qmodel.model.layers[0].mlp)
q_weight = qmodel.model.layers[0].mlp.gate_proj.weight()  # the int8 tensor torch stores
w_float = tuned.model.layers[0].mlp.gate_proj.weight.detach()
s_formula = w_float.abs().max().item() / 127.5
print(f"layer 0 gate_proj: q_scale() = {q_weight.q_scale():.6g}, q_zero_point() = {q_weight.q_zero_point()}, "
      f"max|W| / 127.5 = {s_formula:.6g}; int8 values from {q_weight.int_repr().min().item()} to "
      f"{q_weight.int_repr().max().item()}; largest rounding error {(q_weight.dequantize() - w_float).abs().max():.2e} "
      f"(s / 2 = {q_weight.q_scale() / 2:.2e})")
q_report = evaluate(qmodel, tok, test)
speed_rows += [{"model": "int8", **deploy.measure_latency(qmodel, tok, bench, batch_size=bs)} for bs in (1, 32)]
speed = pd.DataFrame(speed_rows).set_index(["model", "batch_size"])

size_f, size_q = deploy.model_size_bytes(tuned), deploy.model_size_bytes(qmodel)
compare = pd.DataFrame({
    "weights in memory (MB)": [size_f / 1e6, size_q / 1e6],
    "on disk, safetensors (MB)": [deploy.folder_size_bytes(folder) / 1e6, float("nan")],
    "exact match (480 held-out)": [report["exact_match"], q_report["exact_match"]],
    "batch-1 latency (ms)": [speed.loc[("float32", 1), "latency_ms"], speed.loc[("int8", 1), "latency_ms"]],
    "batch-32 answers/s": [speed.loc[("float32", 32), "answers_per_s"], speed.loc[("int8", 32), "answers_per_s"]],
}, index=["float32", "int8"])
compare.round({"weights in memory (MB)": 1, "on disk, safetensors (MB)": 1}).round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 2.6))
for ax, col in zip(axes, ["weights in memory (MB)", "exact match (480 held-out)", "batch-1 latency (ms)"]):
    ax.bar(compare.index, compare[col], color=["#1a4f8b", "#c77c02"])
    ax.set_title(col, fontsize=9)
plt.tight_layout()
plt.show()

# %%
agree = sum(a == b for a, b in zip(report["predictions"], q_report["predictions"])) / len(test)
drop = report["exact_match"] - q_report["exact_match"]
print(f"int8 weights: {size_q / size_f:.2f}x the float32 size; {agree:.1%} of the answers unchanged; "
      f"exact match {report['exact_match']:.3f} -> {q_report['exact_match']:.3f} (drop {drop:+.3f})")
REPEATS = 5  # one timing is one draw: repeat, alternating the two models, and report the spread
ratios = {1: [], 32: []}
for _ in range(REPEATS):
    for bs in ratios:
        t_float = deploy.measure_latency(tuned, tok, bench, batch_size=bs)["seconds"]
        ratios[bs].append(deploy.measure_latency(qmodel, tok, bench, batch_size=bs)["seconds"] / t_float)
for bs, r in ratios.items():
    r = sorted(r)
    verdict = ("faster in every repeat" if r[-1] < 1 else "slower in every repeat" if r[0] > 1 else
               "faster in some repeats, slower in others")
    print(f"batch {bs:>2}: int8 takes {r[len(r) // 2]:.2f}x the float32 time for the {len(bench)} prompts "
          f"(median of {REPEATS} repeats, range {r[0]:.2f}-{r[-1]:.2f}) -> {verdict}")

# %% [markdown]
# **Check.** int8 keeps the weights in well under half the memory and costs at most 0.05 exact match. Speed is
# reported, not asserted — it depends on the CPU and on the batch. Do not expect int8 to be faster here: with
# 128 × 128 matrices each matmul is tiny, the whole float32 model fits in the CPU's caches, and quantising the
# activations at every call adds work. int8 pays off on models thousands of times larger, where moving the
# weights from memory is what takes the time.

# %%
assert q_weight.q_zero_point() == 0 and abs(q_weight.q_scale() - s_formula) < 1e-6 * s_formula  # symmetric, max|W|/127.5
assert (q_weight.dequantize() - w_float).abs().max() <= q_weight.q_scale() / 2 + 1e-7  # round to the nearest step
assert size_q < 0.5 * size_f
assert drop <= 0.05, drop
assert agree >= 0.8
print(f"✓ int8 weights symmetric (zero point 0, scale = max|W|/127.5); {size_q / 1e6:.1f} MB instead of "
      f"{size_f / 1e6:.1f} MB, exact match within 0.05 of float32")

# %% [markdown]
# **Fewer bits: 4-bit weights and QLoRA.** The same idea goes further on GPUs. 4-bit weight quantisation stores
# each weight in 16 levels, with one scale per small *block* of weights (say 64) instead of per matrix, so that one
# large weight does not coarsen the whole matrix; the NF4 format places its 16 levels at the quantiles of a normal
# distribution, where trained weights lie. A model then takes about an eighth of its float32 memory. **QLoRA**
# fine-tunes such a model: the 4-bit base stays frozen, and only LoRA adapters (notebook 06), kept in 16-bit, get
# gradients — which makes tuning a model with billions of parameters fit on one GPU. Both run through GPU kernels
# (the `bitsandbytes` library, used by `transformers` and `peft`) that unpack the 4-bit blocks on the fly inside the
# matrix product; on a CPU, and for a model of a million parameters whose float32 weights already fit in the
# cache, there is nothing to gain, so this course does not install them.

# %% [markdown]
# ## 5 · From itlib to TRL
# After this course the tool you will most likely reach for is **TRL** (Transformer Reinforcement Learning), Hugging
# Face's library for post-training, and its `SFTTrainer` (supervised fine-tuning: instruction tuning is its first
# use). It is a `transformers.Trainer` that takes a `datasets.Dataset` of records, tokenises them with the model's
# tokenizer, and writes a `labels` column: the token id where the loss counts and **-100** where it does not. The
# model shifts the labels itself (the logits at position $t-1$ predict the label at $t$), which is exactly how
# `itlib.train.masked_nll` reads `loss_mask`. So the only question is whether the same tokens carry loss:
#
# | itlib format | TRL record | `SFTConfig` option | loss on |
# |---|---|---|---|
# | `"prefix"` | `{"prompt": f(X, I), "completion": Y}` | `completion_only_loss=True` | Y and EOS |
# | `"chat"` | `{"messages": [user, assistant, …]}` | `assistant_only_loss=True` | every `{% generation %}` block of the chat template: each assistant reply and its EOS |
#
# Two details make them agree. TRL appends the tokenizer's EOS to a completion, but it adds a BOS only if the
# tokenizer does so on its own, and ours does not — so `itlib.sft.to_trl_records` writes the BOS into the prompt.
# And `assistant_only_loss` needs a chat template that marks the assistant's part with `{% generation %}`; the
# course tokenizer's template has one, around the reply *and* its EOS, so the model learns to stop.
#
# Below, TRL prepares 40 suite examples in each format, its own data collator makes the batches, and every
# sequence is compared with `itlib.formats.render` token for token. To see that the comparison can fail, it is run
# once more with TRL's mask moved one token to the right (the classic off-by-one of label shifting).

# %%
import copy

import pandas as pd

import itlib
from itlib.metrics import two_se
from itlib.pipeline import suite_data
from itlib.sft import TRL_OPTION, compare_masks, compare_with_trl

trl_base, trl_tok = itlib.load_base()
forty = suite_data(n_train_per_task=3, n_test_per_task=1, seed=0)["train"][:40]
mask_rows = []
for fmt in ("prefix", "chat"):
    for shift in (0, 1):
        r = compare_masks(copy.deepcopy(trl_base), copy.deepcopy(trl_tok), forty, fmt, shift=shift)
        mask_rows.append({"format": fmt, "TRL option": r["option"], "TRL mask shifted by": shift,
                          "same ids": r["same_ids"], "same mask": r["same_mask"], "of": r["n"]})
        if shift == 0:
            print(f"{fmt}: {r['same']} of {r['n']} sequences identical to render's (ids and mask) "
                  f"with {r['option']}=True")
masks = pd.DataFrame(mask_rows)
masks

# %% [markdown]
# ### The same tuning run, twice
# Now tune the shipped base on the same suite data with both trainers: `itlib.train.fit` and `SFTTrainer` with
# `completion_only_loss`, on the same budget — the same examples, passes, peak learning rate, batch size (length-grouped
# on both sides), AdamW settings, clipping, warm-up and cosine schedule, fp32. What is *not* the same is the order in
# which each trainer draws the batches, so the two runs are two samples of the same recipe, not one run twice.
# Look at: exact match on the held-out inputs against the untuned base's, and the seconds each takes (TRL's include
# preparing the dataset, itlib's include rendering it).

# %%
side = compare_with_trl(n_train_per_task=60, epochs=2, lr=3e-3, batch_size=16, fmt="prefix", seed=0)
side_table = pd.DataFrame([{k: run[k] for k in ("trainer", "steps", "seconds", "final_loss", "exact_match")}
                           for run in side["runs"]]).set_index("trainer")
side_table.loc["untuned base", "exact_match"] = side["base_exact_match"]
ours, theirs = side["runs"]
n_test = side["n_test"]
gap = theirs["exact_match"] - ours["exact_match"]
spread = two_se(ours["exact_match"], theirs["exact_match"], n_test)
em3 = side_table["exact_match"].round(3)  # rounded as the table below shows them
print(f"{side['n_train']} training examples, {ours['steps']} steps each; exact match on {n_test} held-out inputs: "
      f"untuned base {em3['untuned base']:.3f}, itlib {em3[ours['trainer']]:.3f} in {ours['seconds']:.1f} s, "
      f"TRL {em3[theirs['trainer']]:.3f} in {theirs['seconds']:.1f} s")
print(f"TRL minus itlib: {gap:+.3f}, two standard errors of the difference on {n_test} test inputs: {spread:.3f} -> "
      + ("the two runs are within the test set's noise of each other" if abs(gap) <= spread else
         f"the {'TRL' if gap > 0 else 'itlib'} run is ahead on this test set; that says these two models differ, "
         "not that one trainer is better (each run is one draw of the batch order)"))
side_table.round(3)

# %% [markdown]
# **Check.** TRL's labels equal `render`'s loss mask on all 40 examples in both formats, and no sequence survives the
# one-token shift, so the comparison can tell them apart. Both trainers learn: each run's exact match is above the
# untuned base's by more than two standard errors. Which of the two is ahead is not asserted — it changes with the
# seed and the batch order.

# %%
for row in mask_rows:
    if row["TRL mask shifted by"] == 0:
        assert row["same ids"] == row["same mask"] == row["of"] == 40, row
    else:
        assert row["same ids"] == 40 and row["same mask"] == 0, row
for run in side["runs"]:
    assert run["exact_match"] - side["base_exact_match"] > two_se(run["exact_match"], side["base_exact_match"], n_test), run
print(f"✓ TRL's loss masks equal itlib's on 40 of 40 examples ({', '.join(TRL_OPTION.values())}); "
      f"both trainers beat the untuned base by more than 2 SE")

# %% [markdown]
# ## Exercises

# %%
from itlib.exercises import nb11 as ex

ex.q1

# %%
missing_field = ...  # the name of the missing field, as a string
ex.q1.check(missing_field)

# %%
# ex.q1.hint()
# ex.q1.solution()

# %%
ex.q2

# %%
int8_bytes = ...  # your number, worked out with the formula; compare it with the table above (rounded)
ex.q2.check(int8_bytes)

# %%
ex.q3

# %%
top_p_filter = ...  # def top_p_filter(probs, p): ...
ex.q3.check(top_p_filter)

# %% [markdown]
# ## Summary and next
# - `deploy.export` writes a plain Hugging Face folder (weights, tokenizer, a chat template in the *tuning* format,
#   a generation config with EOS); a fresh process with only `transformers` gives the notebook's answers exactly.
# - The decoding rule ships with the model: without `eos_token_id` every answer runs on to `max_new_tokens` and
#   exact match collapses; greedy is deterministic, sampling varies, and hot sampling (T = 1.5) scores lower
#   beyond two standard errors on tasks with one right answer (compare T = 0.7 in the printed scores).
# - Batching trades per-answer latency for throughput; int8 dynamic quantisation stores the linear layers'
#   weights symmetrically in 1 byte instead of 4 (scale max|W|/127.5, zero point 0), and the check bounds what it
#   costs in exact match. Whether it is faster depends on the CPU and the model's size: measure it, as the ratios
#   printed above do for this run. 4-bit weights and QLoRA take the same idea further, on GPUs.
# - The field's standard trainer, TRL's `SFTTrainer`, puts the loss on exactly the tokens `itlib.formats.render`
#   marks (`completion_only_loss` for prompt–completion records, `assistant_only_loss` for chat messages), so what
#   you learnt here carries over: `itlib.sft.to_trl_records` turns the course's examples into its records.
#
# **Next:** that closes the pipeline. Go back to `08_evaluation.ipynb` to iterate (error analysis → new data →
# tune again), or run the pipeline on your own data with the `itlib` command line and ship the folder it writes.

# %%
shutil.rmtree(workdir, ignore_errors=True)
print(f"notebook ran in {time.time() - t_start:.0f} s")
