# %% [markdown]
# # 04 · Instruction embeddings — from word vectors to one vector $e_I$
#
# **Learning goals.** After this notebook you can
# 1. get word vectors $\phi(w)$ three ways: train a small skip-gram word2vec in seconds, read a language
#    model's own input embeddings, or read its hidden states — *contextual* (BERT-style) vectors that depend on
#    the sentence a word is in;
# 2. combine the vectors of an instruction's words into one vector $e_I$ by mean, max and learned attention
#    pooling — written out by hand and checked against the library;
# 3. measure whether paraphrases of one task land close together (nearest-neighbour accuracy on held-out
#    phrasings, a 2-D picture) and say what a bag-of-words embedding cannot see;
# 4. give $e_I$ to a small model and measure what the instruction signal is worth.
#
# **The idea.** An instruction $I = (w_1, \dots, w_k)$ becomes word vectors $e_i = \phi(w_i)$, and a
# *combine* function turns the variable-length list into one vector:
#
# $$e_I = \mathrm{Combine}(e_1, \dots, e_k):\qquad
# \underbrace{\tfrac{1}{k}\textstyle\sum_i e_i}_{\text{mean}},\qquad
# \underbrace{\max_i e_i \ \text{(per dimension)}}_{\text{max}},\qquad
# \underbrace{\textstyle\sum_i \alpha_i e_i,\ \ \alpha_i = \mathrm{softmax}_i(w^\top e_i + b)}_{\text{attention}}.$$
#
# A model that receives $e_I$ next to its input $X$ can be told *which* task to do — the simplest form of
# instruction conditioning, before notebook 05 lets $e_I$ steer attention over the input.

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd
import torch

import itlib
from itlib import embeddings as E
from itlib.tasks import SUITE, get_task

torch.set_num_threads(1)  # every tensor here is tiny: one thread is fastest (more threads only wait)
torch.manual_seed(0)
t_start = time.time()

# %% [markdown]
# ## 1 · Word vectors $\phi(w)$
# ### Trained: skip-gram word2vec with negative sampling
# Words that occur in similar contexts get similar vectors. Each word $w$ has an input vector $v_w$ (the word
# vector we keep) and an output vector $u_w$. For a centre word $c$ and a word $o$ within a few positions of it,
# plus $K$ random "negative" words $n_k$ drawn from the unigram distribution$^{3/4}$, skip-gram minimises
#
# $$\mathcal{L} = -\log \sigma(u_o^\top v_c) - \sum_{k=1}^{K} \log \sigma(-u_{n_k}^\top v_c).$$
#
# The text: the course's pretraining corpus (`itlib.corpus`, prose about numbers, colours and animals) plus the
# suite's **training** instruction templates. Held-out phrasings never take part, so their new words stay
# unknown — as they would be for a real model.

# %%
sentences = E.sentences_for_word2vec(n_docs=1000, template_repeats=20, seed=0)
print(f"{len(sentences):,} sentences, {sum(map(len, sentences)):,} words; e.g. {sentences[0]}")
w2v = E.train_word2vec(sentences, dim=32, window=3, negatives=5, epochs=3, seed=0, progress=True)
print(f"{len(w2v.vectors)} words x {w2v.vectors.dim} dims; {w2v.seconds:.1f} s in all, counting the vocabulary "
      f"and the training pairs (the line above times the {len(w2v.losses)} training steps alone)")

plt.figure(figsize=(5, 2.5))
plt.plot(w2v.losses)
plt.xlabel("step"); plt.ylabel("skip-gram loss"); plt.title("word2vec training")
plt.show()

# %% [markdown]
# Trained vectors can share one common direction, which makes every cosine similarity high; so we subtract the
# mean vector first: `.centred()`. Compare the median cosine between two words before and after centring (printed).
# Then: which words are nearest to a few instruction words?

# %%
def median_cosine(vectors):
    """The median cosine similarity over all pairs of different words."""
    unit = vectors.vectors / vectors.vectors.norm(dim=1, keepdim=True)
    return float((unit @ unit.T)[~torch.eye(len(vectors), dtype=torch.bool)].median())


wv = w2v.vectors.centred()
print(f"median cosine between two words: {median_cosine(w2v.vectors):.2f} as trained, "
      f"{median_cosine(wv):.2f} after centring")
probe_words = ["largest", "first", "capitals", "chinese", "even", "count"]
pd.DataFrame({w: [f"{n} ({s:.2f})" for n, s in wv.most_similar(w, 4)] for w in probe_words})

# %% [markdown]
# Look for synonyms and related words among the neighbours — and for **antonyms**: "largest" and "smallest",
# "first" and "last", "even" and "odd" occur in the very same contexts ("the ___ number is 8"), so distributional
# vectors can put them side by side. Their cosines, next to the typical cosine between two words:

# %%
pair_cos = {f"{a}/{b}": float(wv[a] @ wv[b] / (wv[a].norm() * wv[b].norm()))
            for a, b in [("largest", "smallest"), ("first", "last"), ("even", "odd")]}
unit = wv.vectors / wv.vectors.norm(dim=1, keepdim=True)
all_cos = (unit @ unit.T)[~torch.eye(len(wv), dtype=torch.bool)]
print({k: round(v, 2) for k, v in pair_cos.items()},
      f"| between two words: median {all_cos.median():.2f}, 90th percentile {all_cos.quantile(0.9):.2f}")

# %% [markdown]
# Keep these antonym cosines in mind for sections 4 and 5.
#
# ### Read from a model: the base LM's input embeddings
# The shipped base model already has a vector per *token* (its input embedding table). A word may be several
# tokens; we average them. Written out for one word, then the library for all template words:

# %%
base, tokenizer = itlib.load_base()
table = base.get_input_embeddings().weight.detach()
ids = tokenizer(" successor", add_special_tokens=False)["input_ids"]
print("' successor' ->", tokenizer.convert_ids_to_tokens(ids))
by_hand = table[ids].mean(dim=0)

lm_wv = E.word_vectors(model=base, tokenizer=tokenizer)  # every word of the suite's templates
assert torch.allclose(by_hand, lm_wv["successor"])
lm_wv = lm_wv.centred()
print(f"✓ the library averages the sub-word embeddings the same way; {len(lm_wv)} words x {lm_wv.dim} dims")

# %% [markdown]
# ### In context: the base LM's hidden states (BERT-style)
# Word2vec and the input embeddings give a word one vector, whatever the sentence. BERT-style *contextual* vectors
# are a model's hidden states: the vector of a word is computed from the words around it. Our base model is a
# causal LM, so a word's hidden state sees the words *before* it. `E.ContextualVectors(base, tokenizer, layer)`
# reads layer `layer` of the hidden states (0 = the input embeddings, −1 = the last layer) and averages each word's
# sub-word tokens, like the static version. The same word in two instructions:

# %%
ctx_raw = E.ContextualVectors(base, tokenizer, layer=-1)
pair = ["What is the largest number?", "What is the smallest number?"]
(words_a, ctx_a), (words_b, ctx_b) = ctx_raw.lookup(pair[0]), ctx_raw.lookup(pair[1])
cos = torch.nn.functional.cosine_similarity
print(words_a, "|", words_b)
print(f"'number' in the two sentences: cosine {cos(ctx_a[-1], ctx_b[-1], dim=0):.3f} contextual, "
      f"{cos(lm_wv['number'], lm_wv['number'], dim=0):.3f} from the static input embeddings; "
      f"'what' (nothing before it differs): {cos(ctx_a[0], ctx_b[0], dim=0):.3f}")
assert cos(ctx_a[-1], ctx_b[-1], dim=0) < 0.999 and torch.allclose(ctx_a[0], ctx_b[0], atol=1e-5)
ctx = ctx_raw.centred([t for task in SUITE for t in task.train_templates()])   # centred like the others
print("✓ a contextual vector depends on the words before it; the first word, with nothing before it, does not")

# %% [markdown]
# A fourth source, as a baseline: **one-hot** vectors over the word2vec vocabulary. Different words are then
# orthogonal, so two instructions are similar only through the words they share — the question for the
# trained vectors is whether they do better than counting shared words.

# %%
onehot = E.WordVectors(list(wv.words), torch.eye(len(wv)))
sources = {"word2vec": wv, "base LM embeddings": lm_wv, "base LM contextual (last layer)": ctx,
           "one-hot (shared words)": onehot}

# %% [markdown]
# ## 2 · Combine: $e_I$ by hand, and the library
# Instructions have different lengths, so a batch is padded to the longest and carries a mask (True on real
# words). Padding must play no part: the mean divides by the number of real words, the max ignores padded
# positions, and attention gives them weight 0 (score $-\infty$ before the softmax).

# %%
texts = ["What is the largest number?", "Give the lowest digit.", "Tell me the opening item."]
words_and_vectors = [wv.lookup(t) for t in texts]  # known words and their vectors (k_i, D)
x, mask = E.pad_vectors([v for _, v in words_and_vectors])
print("words:", [w for w, _ in words_and_vectors])
print("x", tuple(x.shape), "mask", mask.int().tolist())

m = mask.unsqueeze(-1).float()
e_mean = (x * m).sum(dim=1) / m.sum(dim=1)
e_max = x.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)

pool = E.AttentionPool(wv.dim)
with torch.no_grad():  # some non-zero scoring vector w and bias b, to compare with the library
    pool.score.weight.normal_(generator=torch.Generator().manual_seed(0))
    pool.score.bias.fill_(0.3)
w, b = pool.score.weight[0].detach(), pool.score.bias.detach()
scores = (x @ w + b).masked_fill(~mask, float("-inf"))  # w^T e_i + b, padding -> -inf
alpha = torch.softmax(scores, dim=-1)
e_att = (alpha.unsqueeze(-1) * x).sum(dim=1)

lib_att, lib_alpha = pool(x, mask)
assert torch.allclose(e_mean, E.mean_pool(x, mask), atol=1e-6)
assert torch.allclose(e_mean, E.embed_instruction(texts, wv, "mean"), atol=1e-6)
assert torch.allclose(e_max, E.max_pool(x, mask))
assert torch.allclose(e_att, lib_att.detach(), atol=1e-6) and torch.allclose(alpha, lib_alpha.detach(), atol=1e-6)
assert torch.allclose(alpha.sum(-1), torch.ones(3)) and (alpha[~mask] == 0).all()
assert torch.allclose(torch.softmax(scores + 100.0, dim=-1), alpha)  # the bias b cancels in the softmax
print("✓ mean, max and attention pooling by hand = the library; padded words get weight 0; "
      "attention weights sum to 1")

# %% [markdown]
# The last line shows a detail of $\alpha_i = \mathrm{softmax}_i(w^\top e_i + b)$: the bias $b$ is added to
# every score of an instruction, so it cancels — only $w$ decides which words matter. (A *query* vector,
# $\alpha_i = \mathrm{softmax}_i(q^\top e_i/\sqrt{D})$, is the same thing; `AttentionPool(dim, query=True)`.)
#
# ## 3 · Learning the attention
# Mean pooling weights "the" as much as "largest". A learned $w$ can look at the words that tell tasks apart.
# We fit it on the **training templates** only (word vectors fixed) so that each template's nearest neighbours
# are templates of its own task: with cosine similarities $s_{ij}$ and temperature $\tau$,
#
# $$p_{ij} = \frac{\exp(s_{ij}/\tau)}{\sum_{k \ne i} \exp(s_{ik}/\tau)}, \qquad
# \mathcal{L} = -\frac{1}{N}\sum_i \log \sum_{j \ne i:\ \mathrm{task}(j) = \mathrm{task}(i)} p_{ij}.$$

# %%
train_t = [(t, task.name) for task in SUITE for t in task.train_templates()]
held_t = [(t, task.name) for task in SUITE for t in task.heldout_templates()]
print(f"{len(train_t)} training templates, {len(held_t)} held-out templates, {len(SUITE)} tasks")

pools = {}
for name, vectors in sources.items():
    fit = E.train_attention_pool([t for t, _ in train_t], [k for _, k in train_t], vectors, steps=200, seed=0)
    pools[name] = fit.pool
    print(f"{name:24s} loss {fit.losses[0]:.2f} -> {fit.losses[-1]:.2f}")
    if name == "word2vec":
        att_fit = fit

# %% [markdown]
# Which words does the learned pool look at? With one-hot vectors, $w^\top e_i = w_{w_i}$ is simply a learned
# score per word, so we can list the words it ranks highest and lowest:

# %%
word_score = pools["one-hot (shared words)"].score.weight[0].detach()
order = word_score.argsort(descending=True).tolist()
print("highest:", [onehot.words[i] for i in order[:12]])
print("lowest: ", [onehot.words[i] for i in order[-12:]])
rank = {onehot.words[i]: r / len(order) for r, i in enumerate(order)}  # 0 = highest score, 1 = lowest
assert all(rank[w] < 0.25 for w in ("chinese", "colours", "lowest")), rank
assert all(rank[w] > 0.75 for w in ("what", "give", "list")), rank

# %% [markdown]
# The pool learned which words *name* a task ("chinese", "colours", "last", "lowest", the tag names) and which
# are filler ("what", "give", "list", "numbers"). The weights on a few **held-out** phrasings, for both sources:

# %%
rows = []
for text in ["Tell me the maximum digit you see.", "Output the element in the final position.",
             "Which digits are even and which odd? Tag them E or O."]:
    row = {"held-out instruction": text}
    for name in ("one-hot (shared words)", "word2vec"):
        _, weights, known = E.embed_instruction([text], sources[name], pools[name], return_weights=True)
        top = weights[0].argsort(descending=True)[:3].tolist()
        row[f"top words, {name}"] = ", ".join(f"{known[0][i]} ({weights[0, i]:.2f})" for i in top)
    row["mean pooling's weight"] = f"{1 / len(known[0]):.2f}"
    rows.append(row)
pd.DataFrame(rows)

# %% [markdown]
# With word2vec vectors the picture is murkier: $w$ scores a *direction* that many words share, so filler words
# can score high too.

# %% [markdown]
# ## 4 · Do paraphrases land together?
# For every held-out phrasing (35 queries: 2 per task, plus a Chinese one for the 3 map tasks) we look up its
# nearest training template by cosine similarity and ask: same task? Chance is 1/16. We also report the
# silhouette over all templates (from −1 to 1; above 0 means a template is on average closer to its own task
# than to the nearest other task).

# %%
chance = 1 / len(SUITE)
key_texts, key_tasks = [t for t, _ in train_t], [k for _, k in train_t]
query_texts, query_tasks = [t for t, _ in held_t], [k for _, k in held_t]

results, embedded = [], {}
for name, vectors in sources.items():
    for pooling, how in [("mean", "mean"), ("max", "max"), ("attention", pools[name])]:
        keys = E.embed_instruction(key_texts, vectors, how)
        queries = E.embed_instruction(query_texts, vectors, how)
        embedded[name, pooling] = (keys, queries)
        results.append({"word vectors": name, "pooling": pooling,
                        "NN accuracy (held-out phrasings)": E.nearest_neighbour_accuracy(
                            queries, query_tasks, keys, key_tasks),
                        "silhouette (all templates)": E.silhouette(torch.cat([keys, queries]),
                                                                   key_tasks + query_tasks)})
table = pd.DataFrame(results).pivot(index="word vectors", columns="pooling")
acc = table["NN accuracy (held-out phrasings)"]
print(f"chance = 1/{len(SUITE)} = {chance:.3f}")
table.round(2)

# %% [markdown]
# A picture: the first two principal components (an SVD of the centred vectors, `E.pca`) of the $e_I$ of every
# English template, coloured by task; crosses are held-out phrasings. (The 9 Chinese templates share almost no
# words with the rest and would take the first component to themselves, so they are left out of the picture.)

# %%
def is_english(text):
    return text.isascii()


fig, axes = plt.subplots(1, 2, figsize=(12, 5))
colours = plt.get_cmap("tab20")
for ax, pooling in zip(axes, ["mean", "attention"]):
    keys, queries = embedded["word2vec", pooling]
    points = torch.cat([keys, queries])
    texts_all, tasks_all = key_texts + query_texts, key_tasks + query_tasks
    held = [False] * len(keys) + [True] * len(queries)
    keep = [i for i, t in enumerate(texts_all) if is_english(t)]
    xy = E.pca(points[keep], 2)
    for i, task in enumerate(SUITE):
        for is_held, marker, size in ((False, "o", 25), (True, "x", 60)):
            idx = [j for j, k in enumerate(keep) if tasks_all[k] == task.name and held[k] == is_held]
            ax.scatter(xy[idx, 0], xy[idx, 1], color=colours(i), marker=marker, s=size,
                       label=task.name if not is_held else None)
    ax.set_title(f"word2vec + {pooling} pooling: NN accuracy {acc.loc['word2vec', pooling]:.2f}")
    ax.set_xticks([]); ax.set_yticks([])
axes[1].legend(bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Groups or islands? Compare the picture with the silhouettes in the table above (1 would be clean islands).
# Where does the nearest neighbour go wrong? The mistakes of
# word2vec + mean pooling, with the words of the query that word2vec never saw:

# %%
keys, queries = embedded["word2vec", "mean"]
nearest = E.nearest_neighbour(queries, keys).tolist()
cluster = {t.name: t.cluster for t in SUITE}
mistakes = pd.DataFrame([
    {"held-out phrasing": q, "task": task, "nearest training template": key_texts[j], "its task": key_tasks[j],
     "same cluster": cluster[key_tasks[j]] == cluster[task], "unknown words": [w for w in E.split_words(q) if w not in wv]}
    for q, task, j in zip(query_texts, query_tasks, nearest) if key_tasks[j] != task])
unknown_share = sum(w not in wv for q in query_texts for w in E.split_words(q)) / sum(
    len(E.split_words(q)) for q in query_texts)
print(f"{len(mistakes)} of {len(query_texts)} held-out phrasings miss; "
      f"{unknown_share:.0%} of the held-out phrasings' words never occur in the word2vec text")
mistakes

# %% [markdown]
# Two limits show. **Unknown words**: a held-out phrasing like "Shout these words: put them in all caps" has
# its key words outside the training text, and an unknown word has no vector at all. **Order**: mean, max and
# attention pooling (without positions) see an instruction as a *bag of words*. The suite has templates of two
# different tasks with the very same words:

# %%
bags = {}
for task in SUITE:
    for t in task.all_templates():
        bags.setdefault(tuple(sorted(E.split_words(t))), []).append((task.name, t))
same_bag = [group for group in bags.values() if len({name for name, _ in group}) > 1]
for group in same_bag:
    print(" | ".join(f"{name}: {t!r}" for name, t in group))

# %% [markdown]
# **Check.** The claims of this section, asserted: every source and every pooling puts the nearest neighbour of a
# held-out phrasing in the right task far more often than chance (how word2vec's mean and max pooling compare is
# printed with its spread, not asserted); the attention pool learned its objective on the training templates, and
# with one-hot vectors (where it learns a score per word) it is not worse than the mean on new phrasings (by how
# much it is better, and whether that is beyond the noise of 35 queries, is printed after the check); bag-of-words
# pooling maps the templates above to identical vectors, whatever the *static* word vectors — and contextual
# vectors, which see the words before each word, tell them apart.

# %%
assert (acc.values >= 4 * chance).all(), acc
assert att_fit.losses[-1] < 0.9 * att_fit.losses[0], (att_fit.losses[0], att_fit.losses[-1])
assert acc.loc["one-hot (shared words)", "attention"] >= acc.loc["one-hot (shared words)", "mean"], acc
assert len(same_bag) >= 1
static = [name for name in sources if name != "base LM contextual (last layer)"]
for group in same_bag:
    same_words = [t for _, t in group]
    for name in static:
        for how in ("mean", "max", pools[name]):
            e = E.embed_instruction(same_words, sources[name], how)
            assert torch.allclose(e[0], e[1], atol=1e-6)
    e = E.embed_instruction(same_words, ctx, "mean")
    bag_cos = float(cos(e[0], e[1], dim=0))
    assert bag_cos < 0.99, bag_cos                                   # contextual: order is visible
print(f"✓ NN accuracy from {acc.values.min():.2f} to {acc.values.max():.2f}, "
      f"every entry at least 4x chance ({chance:.3f})")
from itlib.metrics import two_se

p_mean, p_max = acc.loc["word2vec", "mean"], acc.loc["word2vec", "max"]
gap, gap_se = p_mean - p_max, two_se(p_mean, p_max, len(query_texts))
print(f"  word2vec: mean {p_mean:.2f} vs max {p_max:.2f}: {gap:+.3f} ± {gap_se:.3f} (two standard errors, "
      f"{len(query_texts)} queries) → " + ("beyond the spread" if abs(gap) > gap_se else "within the spread"))
print(f"✓ the attention pool's loss on the training templates fell from {att_fit.losses[0]:.2f} "
      f"to {att_fit.losses[-1]:.2f}")
print(f"✓ one-hot: attention {acc.loc['one-hot (shared words)', 'attention']:.2f} >= "
      f"mean {acc.loc['one-hot (shared words)', 'mean']:.2f} on held-out phrasings")
print(f"✓ {len(same_bag)} pairs of templates of different tasks get identical e_I from static vectors (word order "
      f"is invisible); contextual mean pooling gives them cosine {bag_cos:.2f}")

# %% [markdown]
# How to read the table: there are only 35 queries, so two accuracies differ by chance by up to about two standard
# errors, $2\sqrt{p(1-p)/n + q(1-q)/n}$ (printed with each difference). The sentences below are printed from the
# table with that spread; look at which differences pass it. Word vectors can only help when a new phrasing uses a
# *different* word with a similar meaning that the text taught them; contextual vectors add the words around each
# word, at the price of a forward pass through the model per instruction.

# %%
n_q = len(query_texts)


def versus(a, b, pooling="mean"):
    p, q = acc.loc[a, pooling], acc.loc[b, pooling]
    noise = two_se(p, q, n_q)
    word = "within the noise" if abs(p - q) <= noise else ("better" if p > q else "worse")
    return f"{a} {p:.2f} vs {b} {q:.2f} ({pooling} pooling): {p - q:+.2f} ± {noise:.2f}, {word}"


for a, b in [("base LM contextual (last layer)", "base LM embeddings"), ("word2vec", "one-hot (shared words)"),
             ("base LM contextual (last layer)", "one-hot (shared words)")]:
    print(versus(a, b))
for name in sources:
    d, noise = acc.loc[name, "attention"] - acc.loc[name, "mean"], two_se(acc.loc[name, "attention"],
                                                                         acc.loc[name, "mean"], n_q)
    print(f"{name}: learned attention minus mean {d:+.2f} ± {noise:.2f}")

# %% [markdown]
#
# ## 5 · Telling a model the task with $e_I$
# Four tasks with the **same kind of input** (digits) and a one-digit answer: `max_digit`, `min_digit`,
# `first_item`, `last_item`. Every input appears once with each task, so without the instruction the answer is
# ambiguous. A small GRU reads the digits; $e_I$ (after a LayerNorm) is concatenated to every item and to the
# final state:
#
# $$h_t = \mathrm{GRU}([\mathrm{emb}(x_t);\ e_I],\ h_{t-1}), \qquad \hat y = \mathrm{softmax}(\mathrm{MLP}([h_T;\ e_I])).$$
#
# Three versions of the *same* network, trained the same way (with *word dropout*: each instruction word is
# hidden with probability 0.25 during training, so the network cannot lean on a single word of the six
# training phrasings per task):
# - **no instruction**: $e_I$ replaced by zeros;
# - **frozen word2vec, mean**: $e_I$ = mean of the fixed word2vec vectors from section 1;
# - **tuned word vectors, attention**: the same vectors as a starting point, tuned by the task together with an
#   attention pool — an instruction embedding *learned* for what the model has to do.
#
# Tested on new inputs (training phrasings) and on the same new inputs with **held-out phrasings**.

# %%
from itlib.tasks import DIGITS

data = E.instruction_choice_data(n_train_inputs=600, n_test_inputs=100, seed=0)
print({split: len(examples) for split, examples in data.items()})
ex0 = data["train"][:4]
pd.DataFrame([{"instruction": e.instruction, "input": e.input, "answer": e.output} for e in ex0])

# %% [markdown]
# The best any model can do **without** the instruction: for each input, guess the answer that most of the four
# tasks give.

# %%
from collections import Counter, defaultdict

answers_per_input = defaultdict(list)
for e in data["test_inputs"]:
    answers_per_input[e.input].append(e.output)
best_blind = sum(max(Counter(a).values()) for a in answers_per_input.values()) / len(data["test_inputs"])
print(f"best possible exact match without the instruction: {best_blind:.2f}")

# %%
variants = {"no instruction": {"pool": "mean", "trainable": False, "use_instruction": False},
            "frozen word2vec, mean": {"pool": "mean", "trainable": False, "use_instruction": True},
            "tuned word vectors, attention": {"pool": "attention", "trainable": True, "use_instruction": True}}
scores, curves, models = {}, {}, {}
for name, v in variants.items():
    t0 = time.time()
    encoder = E.InstructionEncoder(wv, pool=v["pool"], trainable=v["trainable"])
    torch.manual_seed(0)
    model = E.ConditionedGRU(n_items=len(DIGITS), n_classes=len(DIGITS), encoder=encoder,
                             use_instruction=v["use_instruction"], word_dropout=0.25)
    X, y = E.encode_examples(data["train"], encoder, DIGITS, DIGITS)
    curves[name] = E.fit_classifier(model, X, y, epochs=10, batch_size=128, lr=3e-3, seed=0)
    scores[name] = {split: E.classifier_accuracy(model, *E.encode_examples(data[split], encoder, DIGITS, DIGITS))
                    for split in ("test_inputs", "test_templates")}
    models[name] = model
    print(f"{name:30s} {time.time() - t0:4.1f} s  {scores[name]}")

# %%
plt.figure(figsize=(6, 3))
for name, losses in curves.items():
    plt.plot(pd.Series(losses).rolling(10, min_periods=1).mean(), label=name)
plt.xlabel("step"); plt.ylabel("cross-entropy"); plt.legend(); plt.title("same network, different e_I")
plt.show()
em = pd.DataFrame(scores).T.rename(columns={"test_inputs": "EM new inputs", "test_templates": "EM new phrasings"})
em.loc["best possible without instruction"] = [best_blind, best_blind]
em.round(3)

# %% [markdown]
# Compare the frozen $e_I$'s row with the no-instruction row and the best blind guess. To see why, compare the four
# tasks' frozen $e_I$ as the network sees them (after the LayerNorm): average cosine similarity between training
# templates of two tasks.

# %%
frozen = models["frozen word2vec, mean"]
task_names = list(E.CHOICE_TASKS)
with torch.no_grad():
    per_task = {}
    for name in task_names:
        ids_, mask_ = frozen.encoder.word_ids(get_task(name).train_templates())
        per_task[name] = torch.nn.functional.normalize(frozen.norm(frozen.encoder(ids_, mask_)), dim=-1)
similarity = pd.DataFrame([[float((per_task[a] @ per_task[b].T).mean()) for b in task_names] for a in task_names],
                          index=task_names, columns=task_names)
similarity.round(2)

# %%
for a_, b_ in [("max_digit", "min_digit"), ("first_item", "last_item")]:
    print(f"{a_} templates: {similarity.loc[a_, a_]:.2f} to each other, {similarity.loc[a_, b_]:.2f} to {b_}")
    assert similarity.loc[a_, b_] >= similarity.loc[a_, a_] - 0.05  # antonym tasks: as close as the task itself

# %% [markdown]
# A template of `max_digit` is as close to the `min_digit` templates as to its own task's (the antonyms of
# section 1 again; asserted above), and the same holds for `first_item` and `last_item`: a fixed $e_I$ cannot
# tell max from min or first from last (compare those cells with the cross pairs, max / min against first / last).
# Does tuning the word vectors with the task move the antonyms apart? The same numbers for the tuned model — its
# word vectors and its $e_I$ — next to the frozen ones:

# %%
tuned_model = models["tuned word vectors, attention"]


def task_similarity(model):
    """Mean cosine between the training templates of two tasks, as the network sees them (after the LayerNorm)."""
    with torch.no_grad():
        z = {}
        for name in task_names:
            ids_, mask_ = model.encoder.word_ids(get_task(name).train_templates())
            z[name] = torch.nn.functional.normalize(model.norm(model.encoder(ids_, mask_)), dim=-1)
    return pd.DataFrame([[float((z[a] @ z[b].T).mean()) for b in task_names] for a in task_names],
                        index=task_names, columns=task_names)


def word_cosine(encoder, a, b):
    vectors = encoder.emb.weight.detach()
    return float(cos(vectors[encoder.index[a]], vectors[encoder.index[b]], dim=0))


similarity_tuned = task_similarity(tuned_model)
moved = []
for (a_, b_), (ta, tb) in [(("largest", "smallest"), ("max_digit", "min_digit")),
                           (("first", "last"), ("first_item", "last_item"))]:
    before_w, after_w = word_cosine(frozen.encoder, a_, b_), word_cosine(tuned_model.encoder, a_, b_)
    gap_before = similarity.loc[ta, ta] - similarity.loc[ta, tb]
    gap_after = similarity_tuned.loc[ta, ta] - similarity_tuned.loc[ta, tb]
    moved.append(gap_after - gap_before)
    print(f"'{a_}' vs '{b_}': word cosine {before_w:.2f} frozen -> {after_w:.2f} tuned; {ta} templates closer to "
          f"their own task than to {tb} by {gap_before:+.2f} (frozen e_I) -> {gap_after:+.2f} (tuned e_I)")

# %% [markdown]
# Read the two kinds of number separately: the word cosine says whether the antonyms' own vectors moved apart; the
# $e_I$ gap is what the network receives (attention pool and LayerNorm included). The check asserts that tuning
# widened the $e_I$ gap of both antonym pairs.

# %%
assert all(m > 0 for m in moved), moved
print(f"✓ tuning widened the gap between the antonym tasks' e_I by {min(moved):+.2f} and {max(moved):+.2f}")

# %% [markdown]
#
# Which **new phrasings** work? Call a word a *task word* if it occurs in the training phrasings of its own task
# and of none of the other three (e.g. "maximum" in "Find the maximum of these numbers."). Per held-out phrasing,
# the tuned model:

# %%
train_words = {name: {w for t in get_task(name).train_templates() for w in E.split_words(t)} for name in task_names}


def task_words(text, task):
    others = set().union(*(train_words[n] for n in task_names if n != task))
    return [w for w in E.split_words(text) if w in train_words[task] and w not in others]


tuned_name = "tuned word vectors, attention"
tuned = models[tuned_name]
X, y = E.encode_examples(data["test_templates"], tuned.encoder, DIGITS, DIGITS)
with torch.no_grad():
    correct = (tuned(*X).argmax(-1) == y).tolist()
per_phrasing = defaultdict(list)
for e, ok in zip(data["test_templates"], correct):
    per_phrasing[e.task, e.instruction].append(ok)
phrasings = pd.DataFrame([{"task": task, "held-out phrasing": t, "EM": sum(v) / len(v), "n": len(v),
                           "task words": task_words(t, task),
                           "unknown words": [w for w in E.split_words(t) if w not in wv]}
                          for (task, t), v in sorted(per_phrasing.items())])
has_task_word = phrasings["task words"].map(bool)
em_with = (phrasings.EM * phrasings.n)[has_task_word].sum() / phrasings.n[has_task_word].sum()
em_without = (phrasings.EM * phrasings.n)[~has_task_word].sum() / phrasings.n[~has_task_word].sum()
print(f"EM on new phrasings with a task word {em_with:.2f}, without one {em_without:.2f}")
phrasings.round(2)

# %% [markdown]
# **Check.** Without the instruction the network cannot beat the best blind guess. With a learned $e_I$ it
# solves new inputs almost perfectly, beats the frozen $e_I$ trained the same way, and is better on phrasings
# it never saw — better when a new phrasing carries a task word than when it does not ("exceeds" has no vector at
# all; "leads" has one but occurs in none of these tasks' training phrasings; "ends" is not "end"; and "not larger
# than" would need word order too).

# %%
blind, tuned_s = scores["no instruction"], scores[tuned_name]
frozen_s = scores["frozen word2vec, mean"]
assert blind["test_inputs"] <= best_blind + 0.05, (blind, best_blind)
assert tuned_s["test_inputs"] >= 0.9 and tuned_s["test_inputs"] >= blind["test_inputs"] + 0.3, scores
assert tuned_s["test_inputs"] >= frozen_s["test_inputs"] + 0.2, scores
assert tuned_s["test_templates"] >= blind["test_templates"] + 0.05, scores
assert em_with >= 0.7 and em_with >= em_without + 0.2, (em_with, em_without)
print(f"✓ new inputs: no instruction {blind['test_inputs']:.2f} (best blind guess {best_blind:.2f}), "
      f"frozen e_I {frozen_s['test_inputs']:.2f}, learned e_I {tuned_s['test_inputs']:.2f}")
print(f"✓ new phrasings: no instruction {blind['test_templates']:.2f} -> learned e_I {tuned_s['test_templates']:.2f}")
print(f"✓ new phrasings with a task word {em_with:.2f} vs without {em_without:.2f}")

# %% [markdown]
# ## Exercises

# %%
from itlib.exercises import nb04 as ex

ex.q1

# %%
x_try, mask_try, weights_try = *ex.test_batch(), ex.test_weights()  # a padded batch (B=3, L=4, D=5) and weights

my_weighted_pool = ...  # replace with your function: `def my_weighted_pool(x, mask, weights): ...` -> (B, D)
ex.q1.check(my_weighted_pool)

# %%
# ex.q1.hint()
# ex.q1.solution()

# %%
ex.q2

# %%
my_query_pool = ...  # replace with your function: `def my_query_pool(x, mask, q): ...` -> (e_I, alpha)
ex.q2.check(my_query_pool)

# %%
ex.q3

# %%
my_answer = ...  # a dict: {"A": ..., "B": ..., "C": ..., "D": ...}, each "both", "mean only", "max only" or "neither"
ex.q3.check(my_answer)

# %% [markdown]
# ## Summary and next
# - $\phi(w)$: word2vec trained in seconds on the course text, the base LM's input embeddings (sub-word
#   tokens averaged), or its hidden states — contextual, BERT-style vectors that depend on the words before each
#   word. Distributional vectors put antonyms ("largest", "smallest") close: their tasks' templates are as close
#   to each other as to their own (asserted in section 5).
# - $e_I$ by mean, max or attention pooling, with padding masked; the attention bias cancels in the softmax.
# - Measured on held-out phrasings: nearest-neighbour accuracy far above chance (1/16) for every source and
#   pooling (asserted); static vectors are limited by unknown words and by word order, which pooling cannot see,
#   while contextual vectors see the order. Which source and which pooling is better is printed with two standard
#   errors — with 35 queries, many differences are within the noise.
# - Given to a model, a learned $e_I$ turns an ambiguous problem (best blind guess) into a solved one on new
#   inputs; on new phrasings it does clearly better when they carry a word the task taught it (asserted).
#
# **Next:** `05_attention.ipynb` — $e_I$ steers attention over the *input*: $\alpha_i = \mathrm{softmax}(h_i^\top W e_I)$.

# %%
print(f"notebook ran in {time.time() - t_start:.0f} s")
