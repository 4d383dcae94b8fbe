# %% [markdown]
# # 09 · The Bayesian view — priors, weight decay, L2-SP, EWC and forgetting
#
# **Learning goals.** After this notebook you can
# 1. write fine-tuning as maximum a posteriori (MAP) estimation, $\theta^* = \arg\max_\theta P(D\mid\theta)\,P(\theta)$,
#    and derive in three lines which Gaussian prior gives weight decay, which gives L2-SP and which gives EWC;
# 2. use each prior as a penalty in `itlib.train.fit(penalty=...)`, with the diagonal Fisher information
#    computed by `itlib.bayes.diagonal_fisher`;
# 3. measure what each prior does to *forgetting*: fine-tune the pretrained base on new tasks and read the
#    trade-off between the new-task score and what the base already knew;
# 4. explain why the prior's weight fades as the data grows — and why `fit`'s mean loss hides that.
#
# **The idea.** Bayes' rule for the weights $\theta$ given fine-tuning data $D = \{(x_n, y_n)\}_{n=1}^N$:
#
# $$\theta^* = \arg\max_\theta P(\theta \mid D) = \arg\max_\theta P(D\mid\theta)\,P(\theta)
#   = \arg\min_\theta \Big[\underbrace{-\sum_{n=1}^N \log P_\theta(y_n \mid x_n)}_{\text{the usual loss}}
#   \;\underbrace{-\,\log P(\theta)}_{\text{the prior}}\Big].$$
#
# Take a Gaussian prior on each weight, $\theta_i \sim \mathcal N(\mu_i,\ \sigma_i^2)$. Its negative log is
#
# $$-\log P(\theta) = \sum_i \frac{(\theta_i - \mu_i)^2}{2\sigma_i^2} + \text{const}
#   = \frac{\lambda}{2}\sum_i F_i\,(\theta_i - \mu_i)^2 + \text{const}, \qquad \frac{1}{\sigma_i^2} = \lambda F_i .$$
#
# | centre $\mu$ | weights $F$ | name | what it says |
# |---|---|---|---|
# | $0$ | $1$ | **weight decay** (L2) | small weights are likely; gradient $\lambda\theta$ |
# | $\theta_0$ (pretrained) | $1$ | **L2-SP** | the pretrained weights are likely; stay near them (a newly added head has no $\theta_0$: it is left out) |
# | $\theta_0$ | Fisher $F_i$ | **EWC** | stay near them *in the directions the old data cares about* |
#
# EWC is the **Laplace approximation**: the posterior after the old data $D_{\text{old}}$ is peaked at $\theta_0$;
# a second-order Taylor expansion of its log around the peak gives
# $\log P(\theta\mid D_{\text{old}}) \approx \text{const} - \tfrac12(\theta-\theta_0)^\top H(\theta-\theta_0)$, and the
# Hessian of the negative log-likelihood is approximated by the (diagonal) Fisher information
# $F_i = \mathbb E\big[(\partial_{\theta_i} \log P_\theta(y\mid x))^2\big]$. Yesterday's posterior is today's prior.

# %%
import copy
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

import itlib
from itlib import bayes
from itlib.evaluate import evaluate, exact_matches
from itlib.metrics import paired_two_se
from itlib.pretrain import corpus_loss, corpus_splits
from itlib.progress import bar
from itlib.tasks import suite_splits
from itlib.train import fit

torch.set_num_threads(2)
torch.manual_seed(0)
t_start = time.time()

# %% [markdown]
# ## 1 · The priors are penalties
# `itlib.bayes` writes each prior as a function of the model that returns $\frac{\lambda}{2}\sum_i F_i(\theta_i-\mu_i)^2$,
# so `fit(..., penalty=lambda m: bayes.l2_sp(m, theta0, lam))` minimises exactly the MAP objective above.
# The one line that does the work:
#
# ```python
# total = total + (F[name] * (p - mu[name]) ** 2).sum()     # for every named parameter p
# ```
#
# First, the claims of the table, checked on the shipped base model: the gradient of the prior at 0 is $\lambda\theta$
# (weight decay), L2-SP is 0 at $\theta_0$, EWC with $F = 1$ is L2-SP, and the penalty is $-\log$ of a Gaussian density
# up to a constant (compared with `torch.distributions.Normal`).

# %%
base, tok = itlib.load_base()
theta0 = bayes.snapshot(base)                                     # {name: tensor}: the pretrained weights
n_params = sum(t.numel() for t in theta0.values())
print(f"{n_params:,} parameters, ||theta_0|| = {bayes.norm(base):.1f}")

lam = 0.04
m = copy.deepcopy(base)
bayes.weight_decay(m, lam).backward()
grad_is_lam_theta = all(torch.allclose(p.grad, lam * p.detach()) for p in m.parameters())

ones = {n: torch.ones_like(t) for n, t in theta0.items()}
with torch.no_grad():
    moved = copy.deepcopy(base)
    for p in moved.parameters():
        p.add_(0.01 * torch.randn_like(p))
    sigma = 1 / lam ** 0.5
    prior = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(sigma, dtype=torch.float64))
    log_prob = sum(prior.log_prob(p.double()).sum() for p in moved.parameters())
    const = n_params * np.log(sigma * np.sqrt(2 * np.pi))
    print(f"L2-SP at theta_0: {bayes.l2_sp(base, theta0, lam).item():.1f}   after a small move: "
          f"{bayes.l2_sp(moved, theta0, lam).item():.4f}   EWC with F = 1: {bayes.ewc(moved, theta0, ones, lam).item():.4f}")
    penalty64 = bayes.weight_decay(copy.deepcopy(moved).double(), lam).item()   # in float64: a sum of 1 M terms
    print(f"-log N(theta; 0, sigma^2) = {-log_prob.item():,.3f}   penalty + constant = {penalty64 + const:,.3f}")

# %%
assert grad_is_lam_theta
assert bayes.l2_sp(base, theta0, lam).item() == 0.0 < bayes.l2_sp(moved, theta0, lam).item()
assert torch.isclose(bayes.ewc(moved, theta0, ones, lam), bayes.l2_sp(moved, theta0, lam))
assert abs(-log_prob.item() - (penalty64 + const)) < 1e-6 * abs(log_prob.item())
print("✓ the prior at 0 has gradient λθ; L2-SP is 0 at θ₀; EWC with F = 1 is L2-SP; λ = 1/σ² gives -log N + const")

# %% [markdown]
# ## 2 · Old knowledge, new tasks
# **Old:** what the base already knows is its pretraining corpus — prose about a little world. We measure it as the
# mean next-token loss on 200 **held-out** corpus documents (`itlib.pretrain.corpus_loss`, nats per token; lower =
# better). Forgetting = this loss going up.
#
# **New:** four tasks of the suite in the instruction format, 400 training examples each, scored on new inputs by
# exact match (EM) and by the answer's negative log-likelihood per token (NLL, smooth where EM is still coarse).
# One short fine-tune = one pass (its number of steps is printed with the sweep); every run below uses the same
# data, seed and recipe.

# %%
train_docs, heldout_docs = corpus_splits()
old_docs = heldout_docs[:200]
NEW_TASKS = ["sentiment", "contains_animal", "max_digit", "min_digit"]
new = suite_splits(n_train_per_task=400, n_test_per_task=30, tasks=NEW_TASKS, seed=0)
RECIPE = {"epochs": 1.0, "lr": 2e-3, "batch_tokens": 512, "seed": 0, "progress": False}

base_old = corpus_loss(base, tok, old_docs)
base_em = evaluate(base, tok, new["test_inputs"])["exact_match"]
base_nll = bayes.answer_nll(base, tok, new["test_inputs"])
print(f"base: corpus loss {base_old:.3f}, new-task EM {base_em:.2f}, new-task NLL {base_nll:.2f}")
print(f"{len(new['train'])} training examples, {len(new['test_inputs'])} test examples")

# %% [markdown]
# **The Fisher for EWC.** The old data is the corpus, so the Fisher is the mean squared gradient of
# $\log P_{\theta_0}(\text{document})$ over 128 training documents — one backward pass per document (per-example
# gradients: the square of a mean is not the mean of squares). We divide it by its mean entry, so that EWC and
# L2-SP with the same $\lambda$ have the same total stiffness, only spread differently over the weights.
#
# It is the **empirical** Fisher: the gradients are those of the log-probability of the tokens the documents
# *actually have*, $\frac1N\sum_n (\partial_i \log P_\theta(x_n))^2$. The true Fisher averages over tokens *drawn
# from the model itself*, $\mathbb E_{y\sim P_\theta}[(\partial_i \log P_\theta(y))^2]$, and only that one equals the
# Hessian's expectation at the optimum. The empirical one is cheaper (no sampling) and close to it where the model
# predicts the data well; where it does not, the residual errors inflate it, so it can weigh some directions
# wrongly. For EWC it is a ranking of which weights matter more, and that is how it is used here.

# %%
fisher = bayes.diagonal_fisher(base, tok, train_docs[:128])
fisher = bayes.normalise_fisher(fisher)
flat = torch.cat([f.flatten() for f in fisher.values()])
share_top1 = flat.sort(descending=True).values[: len(flat) // 100].sum() / flat.sum()
print(f"Fisher (mean 1): median {flat.median():.3f}, 99th percentile {flat.sort().values[int(0.99 * len(flat))]:.1f}, "
      f"max {flat.max():.0f}; the top 1% of weights hold {share_top1:.0%} of it")


def group(name):
    return next((g for g in ("embed", "norm", "attn", "mlp") if g in name), "other")


by_group = pd.DataFrame([{"group": group(n), "weights": f.numel(), "Fisher sum": float(f.sum())}
                         for n, f in fisher.items()]).groupby("group").sum()
by_group["mean Fisher per weight"] = by_group["Fisher sum"] / by_group["weights"]
display(by_group.round(3))

# the left bump below: weights with (almost) no Fisher. Where are they?
seen = {i for d in train_docs[:128] for i in tok(d)["input_ids"]} | {tok.bos_token_id, tok.eos_token_id}
emb = fisher[next(n for n in fisher if "embed" in n)]
dead_rows = (emb < 1e-6).all(dim=1).nonzero().flatten().tolist()
print(f"{int((flat < 1e-6).sum()):,} weights have Fisher < 1e-6: {len(dead_rows)} whole embedding rows, "
      f"{sum(i not in seen for i in dead_rows)} of them tokens that never occur in the 128 documents")

plt.figure(figsize=(6, 2.8))
plt.hist(np.log10(flat.numpy() + 1e-12), bins=80)
plt.xlabel("log10 Fisher (normalised to mean 1)"); plt.ylabel("weights")
plt.title("most weights barely matter to the corpus, a few a lot\n(left bump: embeddings of tokens the documents never use)", fontsize=10)
plt.show()
assert share_top1 > 0.5
assert len(dead_rows) * emb.shape[1] > 0.9 * int((flat < 1e-6).sum()) and all(i not in seen for i in dead_rows)

# %% [markdown]
# ## 3 · The sweep: priors × strengths, no prior, and decoupled weight decay
# Short fine-tunes of a copy of the base. The penalties, as passed to `fit`. Beside them, **decoupled** weight decay
# (AdamW's `weight_decay`, `fit(weight_decay=λ)`): it is not a penalty in the loss but a shrink of every weight
# matrix by $\text{lr}\cdot\lambda\cdot\theta$ after each step, outside Adam's rescaling. Comparing it with the
# penalty at 0 (*coupled* L2, whose gradient $\lambda\theta$ Adam rescales) at the same $\lambda$ shows how much of
# what the prior at 0 does comes from the optimiser rather than from the prior.

# %%
PRIORS = {
    "weight decay (μ = 0)": (lambda lam: (lambda m: bayes.weight_decay(m, lam)), [1e-4, 1e-2]),
    "L2-SP (μ = θ₀)": (lambda lam: (lambda m: bayes.l2_sp(m, theta0, lam)), [0.01, 0.1, 1.0]),
    "EWC (μ = θ₀, Fisher)": (lambda lam: (lambda m: bayes.ewc(m, theta0, fisher, lam)), [0.01, 0.1, 1.0]),
}


def run(penalty, train, epochs=1.0, decoupled=0.0):
    """Fine-tune a copy of the base with `penalty` (and AdamW decay `decoupled`); return the scores."""
    model = copy.deepcopy(base)
    result = fit(model, tok, train, penalty=penalty, weight_decay=decoupled, **{**RECIPE, "epochs": epochs})
    report = evaluate(model, tok, new["test_inputs"])
    return {"steps": result.steps, "seconds": result.seconds, "new EM": report["exact_match"],
            "right": exact_matches(report["predictions"], [e.output for e in new["test_inputs"]]),  # per answer
            "new NLL": bayes.answer_nll(model, tok, new["test_inputs"]),
            "old corpus loss": corpus_loss(model, tok, old_docs),
            "‖θ−θ₀‖": bayes.distance(model, theta0), "‖θ‖": bayes.norm(model)}


jobs = [("no prior", 0.0, None)] + [(name, lam, make(lam)) for name, (make, lams) in PRIORS.items() for lam in lams]
DECOUPLED = "AdamW decay (decoupled)"
jobs += [(DECOUPLED, lam, None) for lam in (1e-2, 1.0)]
rows, right = [], {}  # right[(prior, λ)]: per test answer, right or not (for paired comparisons)
for name, lam, penalty in bar(jobs, desc="fine-tunes", noun="fine-tunes"):
    scores = run(penalty, new["train"], decoupled=lam if name == DECOUPLED else 0.0)
    right[(name, lam)] = scores.pop("right")
    rows.append({"prior": name, "λ": lam, **scores})
sweep = pd.DataFrame(rows)
print(f"{len(rows)} fine-tunes of {sorted(set(sweep['steps']))} steps each (one pass over {len(new['train'])} examples)")
sweep.round({c: 3 for c in sweep.columns if c != "λ"})

# %%
fig, ax = plt.subplots(figsize=(7, 4.2))
for name, group in sweep.groupby("prior", sort=False):
    ax.plot(group["new NLL"], group["old corpus loss"], "o-" if len(group) > 1 else "*", ms=12 if len(group) == 1 else 6,
            label=name)
    for _, r in group.iterrows():
        if r["λ"]:
            ax.annotate(f"λ={r['λ']:g}", (r["new NLL"], r["old corpus loss"]), fontsize=8,
                        xytext=(4, 3), textcoords="offset points")
ax.axhline(base_old, color="grey", ls="--", lw=1, label="base model (before tuning)")
ax.set_yscale("log"); ax.set_xlabel("new tasks: answer NLL on new inputs  (← learnt better)")
ax.set_ylabel("old: held-out corpus loss  (↓ forgot less)")
ax.set_title("what each prior trades: learning the new vs keeping the old"); ax.legend(fontsize=8)
plt.show()

# %%
by = {(r["prior"], r["λ"]): r for r in rows}
none = by[("no prior", 0.0)]
wd = [r for r in rows if r["prior"].startswith("weight decay")]
sp = [r for r in rows if r["prior"].startswith("L2-SP")]
ew = [r for r in rows if r["prior"].startswith("EWC")]
dw = [r for r in rows if r["prior"] == DECOUPLED]
kept = [r for r in sp + ew if r["old corpus loss"] < base_old + 0.05]
print(f"no prior: corpus loss {base_old:.2f} -> {none['old corpus loss']:.2f}, new EM {none['new EM']:.2f}")
print("weight decay: corpus loss", [round(r["old corpus loss"], 2) for r in wd], " new EM", [round(r["new EM"], 2) for r in wd])
print("L2-SP:        corpus loss", [round(r["old corpus loss"], 2) for r in sp], " new EM", [round(r["new EM"], 2) for r in sp])
print("EWC:          corpus loss", [round(r["old corpus loss"], 2) for r in ew], " new EM", [round(r["new EM"], 2) for r in ew])
print("AdamW decay:  corpus loss", [round(r["old corpus loss"], 2) for r in dw], " new EM", [round(r["new EM"], 2) for r in dw],
      f" (λ = {[r['λ'] for r in dw]})")
coupled_same = by[("weight decay (μ = 0)", dw[0]["λ"])]
print(f"at the same λ = {dw[0]['λ']:g}: coupled L2 (a penalty, rescaled by Adam) corpus loss "
      f"{coupled_same['old corpus loss']:.2f}, decoupled AdamW decay {dw[0]['old corpus loss']:.2f} (no prior: "
      f"{none['old corpus loss']:.2f}); even λ = {dw[-1]['λ']:g} decoupled: {dw[-1]['old corpus loss']:.2f}")
best_sp = min((r for r in kept if r in sp), key=lambda r: r["new NLL"])
best_ew = min((r for r in kept if r in ew), key=lambda r: r["new NLL"])
print(f"among runs that keep the corpus (loss < base + 0.05): best L2-SP λ={best_sp['λ']:g} NLL {best_sp['new NLL']:.3f}, "
      f"best EWC λ={best_ew['λ']:g} NLL {best_ew['new NLL']:.3f} (no prior: {none['new NLL']:.3f})")
n_new = len(new["test_inputs"])
right_sp = np.array(right[(best_sp["prior"], best_sp["λ"])], dtype=float)
right_ew = np.array(right[(best_ew["prior"], best_ew["λ"])], dtype=float)
em_gap, em_se = float(np.mean(right_ew - right_sp)), paired_two_se(right_ew, right_sp)  # same answers: paired
only_ew, only_sp = int(((right_ew == 1) & (right_sp == 0)).sum()), int(((right_sp == 1) & (right_ew == 0)).sum())
print(f"what those NLLs mean: each answer token gets on average (geometric mean) probability exp(-NLL) = "
      f"{np.exp(-best_sp['new NLL']):.3f} (L2-SP) vs {np.exp(-best_ew['new NLL']):.3f} (EWC); exact match "
      f"{best_sp['new EM']:.3f} vs {best_ew['new EM']:.3f} on the same {n_new} answers: EWC alone right on {only_ew}, "
      f"L2-SP alone on {only_sp} ({em_gap:+.3f}, two paired standard errors {em_se:.3f}): "
      + (f"EWC gets more answers right by more than two paired standard errors, but on only {only_ew + only_sp} "
         "answers that differ, and both runs were picked by their NLL on these same answers — a fresh test set "
         "would have to confirm it" if em_gap > em_se else
         "not separable from noise — near the floor the difference shows in how sure the model is of its answers "
         "more than in how many it gets right"))

# %% [markdown]
# **Reading the picture.**
# - **No prior forgets.** One pass over four tasks raises the corpus loss a lot: the model drifts away from $\theta_0$.
# - **The prior at 0 forgets even more.** Weight decay's centre is 0, not $\theta_0$ — it pulls every weight *away*
#   from what the base knew (‖θ−θ₀‖ grows, ‖θ‖ shrinks). Under Adam it is also stronger than λ suggests: Adam
#   divides each gradient by its own running size, so even a tiny λ moves a weight whose only gradient is
#   $\lambda\theta$ far more than λ suggests (exercise 3 asks how far). AdamW's *decoupled* decay (`fit(weight_decay=...)`)
#   shrinks each weight by lr·λ·θ per step instead — but then it is no longer the gradient of a prior
#   (`tests/test_bayes.py` checks that Adam + this penalty equals Adam's coupled `weight_decay`, and differs from AdamW).
#   Compare the AdamW rows with the weight-decay rows at the same λ (printed above): how much of the extra
#   forgetting belongs to the prior at 0, and how much to coupling it with Adam?
# - **The prior at θ₀ keeps the old knowledge.** L2-SP keeps the corpus loss far below the unregularised run's at
#   every strength, and closer to the base's at the strongest λ than at the weakest (both asserted below); look at
#   its new-task NLL as λ grows.
# - **EWC gets more of both.** The Fisher lets weights the corpus does not care about move freely, so at the same
#   retention it learns the new tasks better than L2-SP — measured here in NLL close to its floor; the printed
#   probabilities and exact matches above say what that difference amounts to.

# %%
assert none["old corpus loss"] > base_old + 0.5, "no prior: the corpus loss should rise (forgetting)"
assert min(r["old corpus loss"] for r in wd) > none["old corpus loss"] + 1.0
assert max(r["old corpus loss"] for r in sp) < none["old corpus loss"] - 1.0
assert sp[-1]["old corpus loss"] < sp[0]["old corpus loss"] - 0.1  # stronger prior at θ₀: closer to the base
assert max(r["old corpus loss"] for r in sp) + 1.0 < min(r["old corpus loss"] for r in wd)
assert all(r["‖θ−θ₀‖"] > none["‖θ−θ₀‖"] and r["‖θ‖"] < bayes.norm(base) for r in wd)
assert all(r["‖θ−θ₀‖"] < none["‖θ−θ₀‖"] / 3 for r in sp)
# a similar new-task score, very different retention: the weakest priors at 0 and at θ₀
assert abs(wd[0]["new EM"] - sp[0]["new EM"]) < 0.1 and wd[0]["old corpus loss"] > 2 * sp[0]["old corpus loss"]
# decoupled decay at the same λ forgets less than the coupled penalty: part of "the prior at 0 forgets more" is Adam
assert dw[0]["old corpus loss"] < coupled_same["old corpus loss"] - 1.0
# EWC vs L2-SP at the same retention
assert best_ew["new NLL"] < 0.5 * best_sp["new NLL"]
print(f"✓ no prior forgets; the prior at 0 forgets more; the prior at θ₀ keeps the corpus loss far below no-prior's "
      f"({none['old corpus loss']:.2f}) at every strength: " + ", ".join(
          f"λ={r['λ']:g} {r['old corpus loss']:.2f}" for r in sp) + f" (base {base_old:.2f});")
print("✓ at a similar new-task score the prior at θ₀ retains far more than the prior at 0;")
print(f"✓ decoupled AdamW decay (λ = {dw[0]['λ']:g}) forgets less than the coupled penalty at the same λ: "
      f"{dw[0]['old corpus loss']:.2f} vs {coupled_same['old corpus loss']:.2f}")
print("✓ among runs that keep the corpus, EWC learns the new tasks better than L2-SP (in NLL)")

# %% [markdown]
# ## 4 · The prior fades as the data grows
# In the MAP objective the log-likelihood is a **sum** over the $N$ examples, and the log-prior is added **once**:
#
# $$-\sum_{n=1}^N \log P_\theta(y_n\mid x_n) + \frac{\lambda}{2}\lVert\theta-\theta_0\rVert^2
#   \;\propto\; \underbrace{-\frac1N\sum_{n=1}^N \log P_\theta(y_n\mid x_n)}_{\text{what } \texttt{fit} \text{ minimises (a mean)}}
#   + \frac{\lambda}{2N}\lVert\theta-\theta_0\rVert^2 .$$
#
# `fit` minimises a **mean** (per answer token), which does not grow with $N$; a penalty added to it unchanged would
# weigh the same for 100 examples as for a million. To keep the Bayesian meaning we scale it by $1/N$
# (`bayes.scaled(penalty, 1/N)`; the mean number of tokens per example is absorbed into λ). Then the same prior
# pulls hard on a small data set and gently on a large one. Two data sizes with about the same number of steps
# (16 passes over 100 examples, 1 pass over 1600), the same total strength $\lambda = 16$ for L2-SP — the large run
# is the sweep's L2-SP λ = 0.01 = 16/1600:

# %%
LAMBDA_TOTAL = 16.0
small = new["train"][:100]
n_big = len(new["train"])
assert abs(LAMBDA_TOTAL / n_big - 0.01) < 1e-12          # the sweep already has this run


def l2sp_total(m):
    return bayes.l2_sp(m, theta0, LAMBDA_TOTAL)


runs_n = {
    ("N = 100", "no prior"): run(None, small, epochs=16.0),
    ("N = 100", "L2-SP λ/N"): run(bayes.scaled(l2sp_total, 1 / len(small)), small, epochs=16.0),
    (f"N = {n_big}", "no prior"): none,
    (f"N = {n_big}", "L2-SP λ/N"): by[("L2-SP (μ = θ₀)", 0.01)],
}
fade = pd.DataFrame(runs_n).T[["steps", "new NLL", "new EM", "old corpus loss", "‖θ−θ₀‖"]].astype(float)
fade.round(3)

# %%
summary = {}
for n_label in ("N = 100", f"N = {n_big}"):
    free, held = runs_n[(n_label, "no prior")], runs_n[(n_label, "L2-SP λ/N")]
    summary[n_label] = {"distance kept (MAP / free)": held["‖θ−θ₀‖"] / free["‖θ−θ₀‖"],
                        "NLL cost of the prior": held["new NLL"] - free["new NLL"]}
summary = pd.DataFrame(summary).T
fig, axes = plt.subplots(1, 2, figsize=(8, 2.8))
for ax, col in zip(axes, summary.columns):
    ax.bar(summary.index, summary[col], color=["tab:orange", "tab:blue"]); ax.set_title(col, fontsize=10)
plt.tight_layout(); plt.show()
summary.round(3)

# %%
small_s, big_s = summary.iloc[0], summary.iloc[1]
assert big_s["distance kept (MAP / free)"] > 2 * small_s["distance kept (MAP / free)"]
assert small_s["NLL cost of the prior"] < 0 < big_s["NLL cost of the prior"]
print(f"✓ with 16× more data the same prior lets training move {big_s['distance kept (MAP / free)']:.0%} of the free "
      f"distance (vs {small_s['distance kept (MAP / free)']:.0%}); on 100 examples it *lowers* the new-task NLL by "
      f"{-small_s['NLL cost of the prior']:.2f} nats (less overfitting), on {n_big} it costs "
      f"{big_s['NLL cost of the prior']:.2f}")

# %% [markdown]
# **When the prior helps the new tasks too.** In the one-pass sweep, compare each prior's new-task NLL with the
# no-prior row: there is little overfitting for a prior to prevent. With 100 examples and 16 passes the free
# model overfits them, and the same prior *lowers* the new-task NLL on new inputs (the table above): a prior is a
# regulariser exactly where the data are few.
# EM on 120 test examples moves in steps of 0.008 and is noisy at these scores (the order of runs on EM alone is not
# reliable; the NLL is smoother). And the prior at 0 as a penalty is not the gentle regulariser of textbooks: with
# Adam and a pretrained start, look at its rows next to the decoupled AdamW rows to see what coupling adds.
#
# ## Exercises

# %%
from itlib.exercises import nb09 as ex

ex.q1

# %%
my_l2_sp = ...  # replace `...` by your function: def my_l2_sp(model, theta0, lam): ...
ex.q1.check(my_l2_sp)

# %%
# ex.q1.hint()
# ex.q1.solution()

# %%
ex.q2

# %%
sigma = ...  # your answer: the prior's standard deviation for λ = 0.01
ex.q2.check(sigma)

# %%
ex.q3

# %%
step = ...  # your answer: the size of Adam's first step for that weight
ex.q3.check(step)

# %% [markdown]
# ## Summary and next
# - Fine-tuning with a penalty is MAP estimation: loss $= -\log P(D\mid\theta) - \log P(\theta)$; a Gaussian prior is a
#   squared penalty with $\lambda = 1/\sigma^2$.
# - Centred at 0 it is weight decay; at the pretrained $\theta_0$ it is L2-SP; weighted by the Fisher it is EWC, the
#   Laplace approximation of the old data's posterior.
# - Measured here (the check cells): no prior forgets the corpus, the prior at 0 as a penalty forgets more (partly an
#   effect of Adam: decoupled AdamW decay at the same λ forgets less), the prior at $\theta_0$ keeps far more of it,
#   and EWC keeps it while reaching a lower new-task NLL than L2-SP.
# - The log-prior is added once while the likelihood sums over $N$ examples, so the prior fades as $N$ grows — with a
#   mean loss, scale the penalty by $1/N$ to keep that meaning.
#
# **Next:** `10_scale.ipynb` — what changes with model size, pretraining data and the number of tasks.

# %%
print(f"notebook ran in {time.time() - t_start:.0f} s")
