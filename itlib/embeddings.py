"""Instruction embeddings: word vectors combined into one vector e_I per instruction.

    phi(w_i) = e_i                       a vector for each word of the instruction
    e_I = Combine(e_1, ..., e_k)         mean, max, or learned attention pooling:
          alpha_i = softmax_i(w^T e_i + b),   e_I = sum_i alpha_i e_i

Word vectors come either from a small skip-gram word2vec with negative sampling trained here in
seconds (`train_word2vec`) or from a language model's own input embeddings, averaging the
sub-word tokens of each word (`model_word_vectors`); `word_vectors(...)` picks one of the two.
`ContextualVectors` gives contextual (BERT-style) vectors instead: the model's hidden state of each
word in its sentence, so one word gets different vectors in different instructions.
Padding is always masked: a padded position gets no weight in any pooling.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# ASCII letters as words, digits as numbers, any other letter (e.g. each Chinese character) alone.
_WORD = re.compile(r"[a-z]+|\d+|[^\W\d_a-z]")


def split_words(text: str) -> list[str]:
    """The words of `text`: lower-cased runs of letters, numbers, and single non-Latin characters
    (a Chinese character is one word); punctuation is dropped."""
    return _WORD.findall(text.lower())


# ------------------------------------------------------------------------------------ word vectors


@dataclass
class WordVectors:
    """A vocabulary `words` and their vectors (one row each): `wv["largest"]`, `"largest" in wv`."""

    words: list[str]
    vectors: torch.Tensor

    def __post_init__(self):
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words):
            raise ValueError(f"need one vector row per word: {len(self.words)} words, vectors of shape "
                             f"{tuple(self.vectors.shape)}")
        self.index = {w: i for i, w in enumerate(self.words)}

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> torch.Tensor:
        if word not in self.index:
            raise KeyError(f"{word!r} is not in the vocabulary of {len(self.words)} words")
        return self.vectors[self.index[word]]

    def lookup(self, text: str) -> tuple[list[str], torch.Tensor]:
        """The known words of `text` and their vectors (k, dim); unknown words are skipped."""
        known = [w for w in split_words(text) if w in self.index]
        rows = torch.tensor([self.index[w] for w in known], dtype=torch.long)
        return known, self.vectors[rows]

    def centred(self) -> WordVectors:
        """The same words with the mean vector subtracted. Trained word vectors share a common
        direction (every cosine is high); removing it makes cosine similarity tell words apart."""
        return WordVectors(list(self.words), self.vectors - self.vectors.mean(0))

    def most_similar(self, word: str, n: int = 5) -> list[tuple[str, float]]:
        """The `n` words with the highest cosine similarity to `word` (itself excluded)."""
        sims = F.normalize(self.vectors, dim=1) @ F.normalize(self[word], dim=0)
        sims[self.index[word]] = -2.0
        top = sims.topk(min(n, len(self.words) - 1))
        return [(self.words[i], float(s)) for s, i in zip(top.values, top.indices)]


def sentences_for_word2vec(n_docs: int = 1000, template_repeats: int = 20, seed: int = 0) -> list[list[str]]:
    """The course text as lists of words: the pretraining corpus (`itlib.corpus.make_corpus`) plus
    the suite's *training* instruction templates, each repeated `template_repeats` times (a held-out
    phrasing never contributes, so its unseen words stay unseen)."""
    from itlib.corpus import make_corpus
    from itlib.tasks import SUITE

    sents = [split_words(s) for doc in make_corpus(n_docs=n_docs, seed=seed) for s in re.split(r"(?<=[.?!])\s+", doc)]
    sents += [split_words(t) for task in SUITE for t in task.train_templates()] * template_repeats
    return [s for s in sents if len(s) > 1]


def skipgram_pairs(sentences: Sequence[Sequence[str]], index: dict[str, int], window: int,
                   keep: dict[str, float] | None = None, seed: int = 0) -> torch.Tensor:
    """All (centre, context) word-id pairs at distance 1..`window` inside each sentence, shape (P, 2).
    With `keep`, each occurrence of word w is kept with probability keep[w] (frequent-word subsampling)."""
    rng = random.Random(seed)
    pairs = []
    for sent in sentences:
        ids = [index[w] for w in sent if w in index and (keep is None or rng.random() < keep[w])]
        for i, c in enumerate(ids):
            for j in range(max(0, i - window), min(len(ids), i + window + 1)):
                if j != i:
                    pairs.append((c, ids[j]))
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)


def sgns_loss(centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Skip-gram negative-sampling loss for vectors centre (B, D), context (B, D), negatives (B, K, D):
    -log sigma(u_o . v_c) - sum_k log sigma(-u_k . v_c), averaged over the batch."""
    pos = F.logsigmoid((centre * context).sum(-1))
    neg = F.logsigmoid(-(negatives @ centre.unsqueeze(-1)).squeeze(-1)).sum(-1)
    return -(pos + neg).mean()


@dataclass
class Word2VecResult:
    vectors: WordVectors
    losses: list[float]
    seconds: float


def train_word2vec(sentences: Sequence[Sequence[str]], dim: int = 32, window: int = 3, negatives: int = 5,
                   epochs: int = 3, batch_size: int = 4096, lr: float = 0.02, min_count: int = 1,
                   subsample: float = 1e-3, seed: int = 0, progress: bool = False) -> Word2VecResult:
    """Skip-gram word2vec with negative sampling (Mikolov et al., 2013), in plain torch.

    Each word has an input vector v (the word vector returned) and an output vector u; for every
    (centre, context) pair within `window` words, `negatives` random words are drawn from the
    unigram distribution to the power 3/4, and `sgns_loss` is minimised with Adam. With `subsample`
    each occurrence of a word of frequency f is kept with probability min(1, sqrt(subsample / f)),
    so "the" and "is" stop dominating the pairs (and training gets faster). Its own loop, not
    `itlib.train.fit`: the data are (centre, context, negatives) index pairs, not token sequences."""
    import time

    from itlib.progress import bar as progress_bar

    t0 = time.perf_counter()
    counts = Counter(w for s in sentences for w in s)
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    if len(words) < 2:
        raise ValueError(f"need at least 2 words with count >= {min_count} to train word vectors, found {len(words)}")
    index = {w: i for i, w in enumerate(words)}
    total = sum(counts[w] for w in words)
    keep = None if not subsample else {w: min(1.0, math.sqrt(subsample * total / counts[w])) for w in words}
    pairs = skipgram_pairs(sentences, index, window, keep, seed)
    noise = torch.tensor([counts[w] for w in words], dtype=torch.float) ** 0.75
    g = torch.Generator().manual_seed(seed)
    v_in = nn.Embedding(len(words), dim)
    u_out = nn.Embedding(len(words), dim)
    with torch.no_grad():
        v_in.weight.uniform_(-0.5 / dim, 0.5 / dim, generator=g)
        u_out.weight.zero_()
    opt = torch.optim.Adam([*v_in.parameters(), *u_out.parameters()], lr=lr)
    losses = []
    steps = epochs * math.ceil(len(pairs) / batch_size)
    bar = progress_bar(total=steps, desc="word2vec", disable=not progress)
    for _ in range(epochs):
        order = torch.randperm(len(pairs), generator=g)
        for start in range(0, len(pairs), batch_size):
            batch = pairs[order[start:start + batch_size]]
            neg = torch.multinomial(noise, len(batch) * negatives, replacement=True, generator=g)
            loss = sgns_loss(v_in(batch[:, 0]), u_out(batch[:, 1]), u_out(neg.view(len(batch), negatives)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.update()
    bar.close(loss=losses[-1] if losses else None)
    return Word2VecResult(WordVectors(words, v_in.weight.detach().clone()), losses, time.perf_counter() - t0)


def model_word_vectors(model, tokenizer, words: Iterable[str]) -> WordVectors:
    """A language model's own input embeddings as word vectors: each word is tokenised as it appears
    inside a sentence (after a space) and the embeddings of its sub-word tokens are averaged."""
    words = list(dict.fromkeys(words))
    table = model.get_input_embeddings().weight.detach()
    rows = []
    for w in words:
        ids = tokenizer(" " + w, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError(f"the tokenizer gives no tokens for the word {w!r}")
        rows.append(table[ids].float().mean(0))
    return WordVectors(words, torch.stack(rows))


class ContextualVectors:
    """Contextual (BERT-style) word vectors: a word's vector is the language model's hidden state at
    its position *in this sentence* (its sub-word tokens averaged), so the same word gets different
    vectors in different instructions. It has the interface the pooling functions use (`dim`,
    `lookup(text)`, `in`), so `embed_instruction` and `train_attention_pool` take it like `WordVectors`.

    The text is read as its words (`split_words`, each after a space) behind BOS; `layer` indexes the
    model's `hidden_states` (0 = the input embeddings, -1 = the last layer). `centred(texts)` subtracts
    the mean word vector over `texts`, as `WordVectors.centred` does. Every word is known: there is no
    vocabulary to fall out of. Results are cached per text."""

    def __init__(self, model, tokenizer, layer: int = -1, centre: torch.Tensor | None = None):
        self.model, self.tokenizer, self.layer = model, tokenizer, layer
        self.centre = centre
        self._cache: dict[str, tuple[list[str], torch.Tensor]] = {}

    @property
    def dim(self) -> int:
        return self.model.get_input_embeddings().weight.shape[1]

    def __contains__(self, word: str) -> bool:
        return True

    @torch.no_grad()
    def _raw(self, text: str) -> tuple[list[str], torch.Tensor]:
        if text not in self._cache:
            words = split_words(text)
            pieces = [self.tokenizer(" " + w, add_special_tokens=False)["input_ids"] for w in words]
            ids = [self.tokenizer.bos_token_id] + [i for p in pieces for i in p]
            out = self.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
            h = out.hidden_states[self.layer][0].float()
            rows, start = [], 1
            for p in pieces:
                rows.append(h[start:start + len(p)].mean(0))
                start += len(p)
            self._cache[text] = (words, torch.stack(rows) if rows else torch.zeros(0, self.dim))
        return self._cache[text]

    def lookup(self, text: str) -> tuple[list[str], torch.Tensor]:
        words, vectors = self._raw(text)
        return words, vectors if self.centre is None else vectors - self.centre

    def centred(self, texts: Sequence[str]) -> ContextualVectors:
        """A copy whose vectors have the mean word vector over `texts` subtracted."""
        rows = [self._raw(t)[1] for t in texts]
        new = ContextualVectors(self.model, self.tokenizer, self.layer, torch.cat(rows).mean(0))
        new._cache = self._cache
        return new


def word_vectors(sentences: Sequence[Sequence[str]] | None = None, *, model=None, tokenizer=None,
                 words: Iterable[str] | None = None, **word2vec_kwargs) -> WordVectors:
    """Word vectors phi(w): trained by `train_word2vec` on `sentences` (default: the course corpus
    plus the training templates), or, given `model` and `tokenizer`, that model's input embeddings for
    `words` (default: every word of the suite's instruction templates)."""
    if model is not None or tokenizer is not None:
        if model is None or tokenizer is None:
            raise ValueError("extracting word vectors from a model needs both `model` and `tokenizer`")
        if words is None:
            from itlib.tasks import SUITE

            words = sorted({w for task in SUITE for t in task.all_templates() for w in split_words(t)})
        return model_word_vectors(model, tokenizer, words)
    if sentences is None:
        sentences = sentences_for_word2vec()
    return train_word2vec(sentences, **word2vec_kwargs).vectors


# ------------------------------------------------------------------------------------ pooling


def pad_vectors(rows: Sequence[torch.Tensor], dim: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack variable-length (k_i, D) tensors into (B, L, D) with zeros after each row's end, and a
    boolean mask (B, L) that is True on real positions."""
    if dim is None:
        if not rows:
            raise ValueError("pad_vectors needs at least one row, or `dim`")
        dim = rows[0].shape[-1]
    length = max([len(r) for r in rows] + [1])
    out = torch.zeros(len(rows), length, dim)
    mask = torch.zeros(len(rows), length, dtype=torch.bool)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
        mask[i, :len(r)] = True
    return out, mask


def _mask_of(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)
    if mask.shape != x.shape[:-1]:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not fit vectors of shape {tuple(x.shape)}")
    return mask.bool()


def mean_pool(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """e_I = (1/k) sum_i e_i over the real positions: x (B, L, D), mask (B, L) -> (B, D).
    A row with no real position pools to zeros."""
    m = _mask_of(x, mask).unsqueeze(-1).to(x.dtype)
    return (x * m).sum(-2) / m.sum(-2).clamp(min=1)


def max_pool(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """e_I[d] = max_i e_i[d] over the real positions, dimension by dimension: (B, L, D) -> (B, D).
    A row with no real position pools to zeros."""
    m = _mask_of(x, mask)
    out = x.masked_fill(~m.unsqueeze(-1), float("-inf")).amax(-2)
    return torch.where(m.any(-1, keepdim=True), out, torch.zeros_like(out))


class AttentionPool(nn.Module):
    """Learned attention pooling: alpha_i = softmax_i(w^T e_i + b) over the real positions,
    e_I = sum_i alpha_i e_i.

    With `query=True` the score is a scaled dot product with a learned query vector q instead,
    alpha_i = softmax_i(q^T e_i / sqrt(D)). Both start at zero, i.e. as mean pooling. (The bias b
    is the same for every position, so it cancels in the softmax: only w matters.)
    `forward(x, mask)` returns (e_I (B, D), alpha (B, L)); padded positions get alpha = 0."""

    def __init__(self, dim: int, query: bool = False):
        super().__init__()
        self.dim, self.query = dim, query
        if query:
            self.q = nn.Parameter(torch.zeros(dim))
        else:
            self.score = nn.Linear(dim, 1)
            nn.init.zeros_(self.score.weight)
            nn.init.zeros_(self.score.bias)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """Unnormalised scores, (B, L)."""
        if self.query:
            return x @ self.q / math.sqrt(self.dim)
        return self.score(x).squeeze(-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        m = _mask_of(x, mask)
        s = self.scores(x).masked_fill(~m, float("-inf"))
        alpha = torch.softmax(s, dim=-1).nan_to_num(0.0)  # a row with no real position: all zeros
        return (alpha.unsqueeze(-1) * x).sum(-2), alpha


POOLINGS: dict[str, Callable] = {"mean": mean_pool, "max": max_pool}


@torch.no_grad()
def embed_instruction(texts: str | Sequence[str], wv: WordVectors, pool: str | Callable | nn.Module = "mean",
                      return_weights: bool = False):
    """e_I for each instruction in `texts`: split into words, look up their vectors (unknown words
    skipped), pad, and pool with "mean", "max", an `AttentionPool` or any f(x, mask).

    Returns (N, D) (or (D,) for a single string); with `return_weights=True` also the per-word
    weights and the words, for an attention pool."""
    single = isinstance(texts, str)
    texts = [texts] if single else list(texts)
    looked = [wv.lookup(t) for t in texts]
    x, mask = pad_vectors([v for _, v in looked], dim=wv.dim)
    fn = POOLINGS.get(pool, pool) if isinstance(pool, str) else pool
    if isinstance(pool, str) and pool not in POOLINGS:
        raise ValueError(f"unknown pooling {pool!r}; use one of {', '.join(POOLINGS)} or an AttentionPool")
    out = fn(x, mask)
    weights = None
    if isinstance(out, tuple):
        out, weights = out
    if single:
        out = out[0]
    if return_weights:
        return out, weights, [w for w, _ in looked]
    return out


# ------------------------------------------------------------------------------------ training an attention pool


def soft_nn_loss(e: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Neighbourhood-components loss: for each row, the softmax over cosine similarities to all
    *other* rows should put its mass on rows with the same label. Minimising it trains a pooling
    whose nearest neighbours share the task."""
    z = F.normalize(e, dim=-1)
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(len(e), dtype=torch.bool, device=e.device), float("-inf"))
    same = (labels[:, None] == labels[None, :]) & ~torch.eye(len(e), dtype=torch.bool, device=e.device)
    log_p = torch.log_softmax(sim, dim=-1)
    return -torch.logsumexp(log_p.masked_fill(~same, float("-inf")), dim=-1).mean()


@dataclass
class PoolFit:
    pool: AttentionPool
    losses: list[float]


def train_attention_pool(texts: Sequence[str], labels: Sequence, wv: WordVectors, steps: int = 200,
                         lr: float = 0.05, weight_decay: float = 0.01, temperature: float = 0.1,
                         query: bool = False, seed: int = 0) -> PoolFit:
    """Fit an `AttentionPool` on labelled instructions (e.g. the training templates and their task)
    with `soft_nn_loss`: full batch, Adam, `steps` steps. The word vectors stay fixed."""
    torch.manual_seed(seed)
    names = sorted(set(labels))
    y = torch.tensor([names.index(lab) for lab in labels])
    looked = [wv.lookup(t)[1] for t in texts]
    x, mask = pad_vectors(looked, dim=wv.dim)
    pool = AttentionPool(wv.dim, query=query)
    opt = torch.optim.Adam(pool.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    for _ in range(steps):
        e, _ = pool(x, mask)
        loss = soft_nn_loss(e, y, temperature)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return PoolFit(pool.eval(), losses)


# ------------------------------------------------------------------------------------ measuring


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.normalize(a.float(), dim=-1) @ F.normalize(b.float(), dim=-1).T


def nearest_neighbour(queries: torch.Tensor, keys: torch.Tensor | None = None) -> torch.Tensor:
    """Index of each query's most cosine-similar key; without `keys`, of the most similar *other*
    query (leave one out)."""
    if keys is None:
        sim = _cosine(queries, queries)
        sim.fill_diagonal_(float("-inf"))
    else:
        sim = _cosine(queries, keys)
    return sim.argmax(-1)


def nearest_neighbour_accuracy(queries: torch.Tensor, query_labels: Sequence, keys: torch.Tensor | None = None,
                               key_labels: Sequence | None = None) -> float:
    """The share of queries whose nearest neighbour (cosine similarity) has the same label.

    With `keys`/`key_labels` the neighbour is searched among the keys (e.g. held-out templates as
    queries, training templates as keys); without them among the other queries (leave one out)."""
    if (keys is None) != (key_labels is None):
        raise ValueError("give both `keys` and `key_labels`, or neither")
    if len(queries) != len(query_labels):
        raise ValueError(f"{len(queries)} queries but {len(query_labels)} labels")
    if keys is None:
        keys_l = list(query_labels)
        if len(queries) < 2:
            raise ValueError("leave-one-out needs at least 2 queries")
    else:
        keys_l = list(key_labels)
        if len(keys) != len(keys_l):
            raise ValueError(f"{len(keys)} keys but {len(keys_l)} labels")
    nn_idx = nearest_neighbour(queries, keys).tolist()
    return sum(keys_l[j] == lab for j, lab in zip(nn_idx, query_labels)) / len(query_labels)


def silhouette(x: torch.Tensor, labels: Sequence, metric: str = "cosine") -> float:
    """Mean silhouette s_i = (b_i - a_i) / max(a_i, b_i): a_i the mean distance to the other members
    of i's cluster, b_i the smallest mean distance to another cluster (s_i = 0 for a singleton).
    Same definition as `sklearn.metrics.silhouette_score`; metric "cosine" or "euclidean"."""
    x = x.detach().double()
    if metric == "cosine":
        d = (1 - _cosine(x, x).double()).clamp(min=0)
    elif metric == "euclidean":
        d = torch.cdist(x, x)
    else:
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    d.fill_diagonal_(0.0)
    names = sorted(set(labels))
    if not 2 <= len(names) <= len(x) - 1:
        raise ValueError(f"silhouette needs 2 to n-1 clusters, got {len(names)} for {len(x)} points")
    y = torch.tensor([names.index(lab) for lab in labels])
    onehot = F.one_hot(y, len(names)).double()  # (N, C)
    sizes = onehot.sum(0)
    sums = d @ onehot  # (N, C): total distance from i to each cluster
    own = sizes[y]
    a = sums.gather(1, y[:, None]).squeeze(1) / (own - 1).clamp(min=1)
    mean_to = sums / sizes
    mean_to.scatter_(1, y[:, None], float("inf"))
    b = mean_to.min(1).values
    s = (b - a) / torch.maximum(a, b)
    s = torch.where(own > 1, s.nan_to_num(0.0), torch.zeros_like(s))
    return float(s.mean())


def pca(x: torch.Tensor, k: int = 2) -> torch.Tensor:
    """Project the rows of `x` on their first `k` principal components (centred SVD), (N, k)."""
    xc = x.double() - x.double().mean(0)
    _, _, v = torch.linalg.svd(xc, full_matrices=False)
    return (xc @ v[:k].T).to(x.dtype)


# ------------------------------------------------------------------------------------ using e_I


class InstructionEncoder(nn.Module):
    """phi and Combine as one module: word ids -> e_I. The embedding table starts from `wv`; with
    `trainable=True` the word vectors are tuned by whatever loss the encoder is trained with.
    `pool` is "mean", "max" or "attention" (a fresh `AttentionPool`, trained with the rest)."""

    def __init__(self, wv: WordVectors, pool: str = "mean", trainable: bool = False):
        super().__init__()
        if pool not in ("mean", "max", "attention"):
            raise ValueError(f"pool must be 'mean', 'max' or 'attention', got {pool!r}")
        self.words, self.index, self.dim, self.pool_name = list(wv.words), dict(wv.index), wv.dim, pool
        self.emb = nn.Embedding.from_pretrained(wv.vectors.clone().float(), freeze=not trainable)
        self.attention = AttentionPool(wv.dim) if pool == "attention" else None

    def word_ids(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded ids (B, L) of the known words of each text, and the mask of real positions."""
        rows = [[self.index[w] for w in split_words(t) if w in self.index] for t in texts]
        length = max([len(r) for r in rows] + [1])
        ids = torch.tensor([r + [0] * (length - len(r)) for r in rows], dtype=torch.long)
        mask = torch.tensor([[True] * len(r) + [False] * (length - len(r)) for r in rows], dtype=torch.bool)
        return ids, mask

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.emb(ids)
        if self.attention is not None:
            return self.attention(x, mask)[0]
        return mean_pool(x, mask) if self.pool_name == "mean" else max_pool(x, mask)

    def weights(self, text: str) -> list[tuple[str, float]]:
        """Each known word of `text` with its attention weight (uniform for mean pooling)."""
        ids, mask = self.word_ids([text])
        words = [self.words[i] for i in ids[0][mask[0]].tolist()]
        if self.attention is None:
            return [(w, 1 / len(words)) for w in words] if words else []
        with torch.no_grad():
            _, alpha = self.attention(self.emb(ids), mask)
        return list(zip(words, alpha[0][mask[0]].tolist()))


class ConditionedGRU(nn.Module):
    """A small classifier over a sequence of items that is told the task by e_I:

        e = LayerNorm(e_I)   (or zeros: `use_instruction=False`, the same network without the signal)
        (while training, `word_dropout` hides random words of the instruction first)
        h_t = GRU([emb(x_t); e], h_{t-1}),   logits = MLP([h_T; e])

    `forward(items, lengths, word_ids, word_mask)`: items (B, T) with 0 as padding."""

    def __init__(self, n_items: int, n_classes: int, encoder: InstructionEncoder, hidden: int = 64,
                 emb: int = 32, use_instruction: bool = True, word_dropout: float = 0.0):
        super().__init__()
        self.encoder, self.use_instruction, self.word_dropout = encoder, use_instruction, word_dropout
        d = encoder.dim
        self.norm = nn.LayerNorm(d, elementwise_affine=False)
        self.items = nn.Embedding(n_items + 1, emb, padding_idx=0)
        self.gru = nn.GRU(emb + d, hidden, batch_first=True)
        self.out = nn.Sequential(nn.Linear(hidden + d, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def instruction(self, word_ids: torch.Tensor, word_mask: torch.Tensor) -> torch.Tensor:
        if self.training and self.word_dropout > 0:
            word_mask = drop_words(word_mask, self.word_dropout)
        e = self.norm(self.encoder(word_ids, word_mask))
        return e if self.use_instruction else torch.zeros_like(e)

    def forward(self, items, lengths, word_ids, word_mask) -> torch.Tensor:
        e = self.instruction(word_ids, word_mask)
        x = torch.cat([self.items(items), e[:, None, :].expand(-1, items.shape[1], -1)], dim=-1)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)
        return self.out(torch.cat([h[-1], e], dim=-1))


def drop_words(mask: torch.Tensor, p: float) -> torch.Tensor:
    """Word dropout: hide each real word with probability `p`, always keeping at least one word of a
    non-empty instruction, so a model cannot lean on a single word of the phrasings it trains on."""
    keep = mask & (torch.rand(mask.shape, device=mask.device) >= p)
    empty = ~keep.any(-1) & mask.any(-1)
    if empty.any():  # keep one random real word in rows that lost all of them
        scores = torch.rand(mask.shape, device=mask.device).masked_fill(~mask, -1.0)
        pick = torch.zeros_like(mask).scatter_(-1, scores.argmax(-1, keepdim=True), True)
        keep = keep | (pick & empty.unsqueeze(-1))
    return keep


CHOICE_TASKS = ("max_digit", "min_digit", "first_item", "last_item")


def instruction_choice_data(tasks: Sequence[str] = CHOICE_TASKS, n_train_inputs: int = 600,
                            n_test_inputs: int = 100, seed: int = 0) -> dict[str, list]:
    """Examples where only the instruction says what to do: every digit input appears once per task
    (so without the instruction the answer is ambiguous).

    Splits: train (training templates), test_inputs (training templates, inputs never in train) and
    test_templates (the same new inputs with held-out templates). Answers are one digit."""
    from itlib.tasks import digits, get_task

    rng = random.Random(f"instruction_choice-{seed}")  # a str seed is stable across runs
    taken: set[str] = set()

    def draw(n):
        out = []
        while len(out) < n:
            x = digits(rng, 1 + len(out) % 3)
            if x not in taken:
                taken.add(x)
                out.append(x)
        return out

    test_x, train_x = draw(n_test_inputs), draw(n_train_inputs)

    def make(xs, heldout):
        out = []
        for i, x in enumerate(xs):
            for name in tasks:
                out.append(get_task(name).example(rng, 1 + i % 3, heldout=heldout, input=x))
        return out

    return {"train": make(train_x, False), "test_inputs": make(test_x, False), "test_templates": make(test_x, True)}


def encode_examples(examples, encoder: InstructionEncoder, items: Sequence[str], classes: Sequence[str]):
    """Tensors for `ConditionedGRU`: ((items, lengths, word_ids, word_mask), targets)."""
    ids, lengths = encode_items([e.input for e in examples], items)
    w, m = encoder.word_ids([e.instruction for e in examples])
    targets = torch.tensor([list(classes).index(e.output) for e in examples])
    return (ids, lengths, w, m), targets


def encode_items(inputs: Sequence[str], vocab: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Item ids (1-based, 0 = padding) of space-separated inputs, and their lengths."""
    index = {w: i + 1 for i, w in enumerate(vocab)}
    rows = [[index[w] for w in x.split()] for x in inputs]
    length = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (length - len(r)) for r in rows])
    return ids, torch.tensor([len(r) for r in rows])


def fit_classifier(model: nn.Module, inputs: tuple[torch.Tensor, ...], targets: torch.Tensor, epochs: int = 10,
                   batch_size: int = 128, lr: float = 3e-3, seed: int = 0, progress: bool = False) -> list[float]:
    """Minibatch cross-entropy with Adam; `model(*inputs)` gives logits. Returns the loss per step.
    Not `itlib.train.fit`, which trains causal LMs on masked token sequences: this is a small classifier
    on fixed-size tensors, where a plain loop is the clearest thing to read."""
    from itlib.progress import bar as progress_bar

    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    model.train()
    n = len(targets)
    for _ in progress_bar(range(epochs), desc="epochs", noun="epochs", disable=not progress):
        order = torch.randperm(n, generator=g)
        for start in range(0, n, batch_size):
            b = order[start:start + batch_size]
            loss = F.cross_entropy(model(*(t[b] for t in inputs)), targets[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def classifier_accuracy(model: nn.Module, inputs: tuple[torch.Tensor, ...], targets: torch.Tensor) -> float:
    """Share of rows whose arg-max class is the target (= exact match for one-token answers)."""
    model.eval()
    return float((model(*inputs).argmax(-1) == targets).float().mean())
