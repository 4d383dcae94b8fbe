"""itlib.embeddings: pooling with padding, attention weights, nearest-neighbour accuracy, silhouette
and PCA against scikit-learn, word2vec, model word vectors, and the instruction-conditioned model."""

import math

import pytest
import torch

from itlib import embeddings as E


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: one thread is fastest, and on a busy machine extra threads only wait."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def padded_batch(seed=0, dim=5, lengths=(3, 1, 4), pad_value=100.0):
    """Random rows of different lengths, padded with a large value so unmasked padding would show."""
    g = torch.Generator().manual_seed(seed)
    rows = [torch.randn(n, dim, generator=g) for n in lengths]
    x, mask = E.pad_vectors(rows)
    x = x.masked_fill(~mask.unsqueeze(-1), pad_value)
    return rows, x, mask


def test_split_words():
    assert E.split_words("Sort these numbers, lowest first!") == ["sort", "these", "numbers", "lowest", "first"]
    assert E.split_words("把每个单词改成大写。") == list("把每个单词改成大写")
    assert E.split_words("9 wraps to 0 (NUM, COL)") == ["9", "wraps", "to", "0", "num", "col"]


def test_pad_vectors_shapes_and_mask():
    rows, x, mask = padded_batch()
    assert x.shape == (3, 4, 5) and mask.tolist() == [[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]]
    for i, r in enumerate(rows):
        assert torch.equal(x[i, :len(r)], r)


def test_mean_pool_with_padding_equals_torch_mean_of_unpadded_rows():
    rows, x, mask = padded_batch()
    pooled = E.mean_pool(x, mask)
    for i, r in enumerate(rows):
        assert torch.allclose(pooled[i], torch.mean(r, dim=0), atol=1e-6)
        assert torch.allclose(pooled[i], E.mean_pool(r[None])[0], atol=1e-6)


def test_max_pool_with_padding_equals_max_of_unpadded_rows():
    rows, x, mask = padded_batch(pad_value=1e4)
    pooled = E.max_pool(x, mask)
    for i, r in enumerate(rows):
        assert torch.equal(pooled[i], r.max(dim=0).values)


def test_empty_rows_pool_to_zeros_without_nan():
    x = torch.randn(2, 3, 4)
    mask = torch.tensor([[True, False, False], [False, False, False]])
    for pooled in (E.mean_pool(x, mask), E.max_pool(x, mask), E.AttentionPool(4)(x, mask)[0]):
        assert not torch.isnan(pooled).any()
        assert torch.equal(pooled[1], torch.zeros(4))
        assert torch.allclose(pooled[0], x[0, 0])


@pytest.mark.parametrize("query", [False, True])
def test_attention_weights_sum_to_one_and_padding_gets_zero(query):
    rows, x, mask = padded_batch(pad_value=50.0)
    pool = E.AttentionPool(5, query=query)
    with torch.no_grad():
        for p in pool.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    pooled, alpha = pool(x, mask)
    assert torch.allclose(alpha.sum(-1), torch.ones(3))
    assert torch.equal(alpha[~mask], torch.zeros(int((~mask).sum())))
    for i, r in enumerate(rows):  # padded equals unpadded
        alone, a = pool(r[None])
        assert torch.allclose(pooled[i], alone[0], atol=1e-6)
        assert torch.allclose(alpha[i, :len(r)], a[0], atol=1e-6)


def test_attention_pool_by_hand_and_bias_cancels():
    rows, x, mask = padded_batch()
    pool = E.AttentionPool(5)
    with torch.no_grad():
        pool.score.weight.copy_(torch.tensor([[0.5, -1.0, 2.0, 0.0, 1.0]]))
        pool.score.bias.fill_(3.0)
    pooled, alpha = pool(x, mask)
    w = pool.score.weight[0].detach()
    for i, r in enumerate(rows):
        a = torch.softmax(r @ w + 123.0, dim=0)  # any bias gives the same weights
        assert torch.allclose(alpha[i, :len(r)], a, atol=1e-6)
        assert torch.allclose(pooled[i], (a[:, None] * r).sum(0), atol=1e-6)


def test_attention_pool_starts_as_mean_pool():
    _, x, mask = padded_batch()
    for query in (False, True):
        assert torch.allclose(E.AttentionPool(5, query=query)(x, mask)[0], E.mean_pool(x, mask), atol=1e-6)


def test_nearest_neighbour_accuracy_constructed_case():
    # two clusters by direction; the last point of "a" points toward "b" and is scaled far away
    pts = torch.tensor([[1.0, 0.1], [1.0, -0.1], [10.0, 0.5], [0.1, 1.0], [-0.1, 1.0], [0.8, 1.0]])
    labels = ["a", "a", "a", "b", "b", "a"]
    # leave one out, cosine: rows 0-4 find their own kind; row 5 (0.8, 1.0) is nearest to (0.1, 1.0) -> "b"
    assert E.nearest_neighbour(pts).tolist() == [2, 2, 0, 4, 3, 3]
    assert E.nearest_neighbour_accuracy(pts, labels) == pytest.approx(5 / 6)
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert E.nearest_neighbour_accuracy(pts[:5], labels[:5], keys, ["a", "b"]) == 1.0
    assert E.nearest_neighbour_accuracy(pts[:5], labels[:5], keys, ["b", "a"]) == 0.0
    with pytest.raises(ValueError, match="both"):
        E.nearest_neighbour_accuracy(pts, labels, keys)


def test_nearest_neighbour_accuracy_matches_sklearn_knn():
    from sklearn.neighbors import KNeighborsClassifier

    g = torch.Generator().manual_seed(0)
    keys, queries = torch.randn(40, 6, generator=g), torch.randn(25, 6, generator=g)
    key_labels = torch.randint(0, 4, (40,), generator=g).tolist()
    query_labels = torch.randint(0, 4, (25,), generator=g).tolist()
    knn = KNeighborsClassifier(n_neighbors=1, metric="cosine").fit(keys.numpy(), key_labels)
    expected = (knn.predict(queries.numpy()) == query_labels).mean()
    assert E.nearest_neighbour_accuracy(queries, query_labels, keys, key_labels) == pytest.approx(expected)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_silhouette_equals_sklearn(metric):
    from sklearn.metrics import silhouette_score

    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 4, generator=g) + torch.arange(30)[:, None] % 3
    labels = [i % 3 for i in range(29)] + [7]  # a singleton cluster too
    assert E.silhouette(x, labels, metric) == pytest.approx(
        silhouette_score(x.numpy(), labels, metric=metric), abs=1e-6)


def test_pca_equals_sklearn_up_to_sign():
    from sklearn.decomposition import PCA

    x = torch.randn(50, 7, generator=torch.Generator().manual_seed(0)) * torch.arange(1, 8)
    mine = E.pca(x, 2)
    ref = torch.tensor(PCA(2).fit_transform(x.numpy()), dtype=mine.dtype)
    for k in range(2):
        sign = torch.sign((mine[:, k] * ref[:, k]).sum())
        assert torch.allclose(mine[:, k] * sign, ref[:, k], atol=1e-4)


def test_sgns_loss_equals_the_formula():
    g = torch.Generator().manual_seed(0)
    c, o, n = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g), torch.randn(4, 2, 3, generator=g)
    by_hand = 0.0
    for b in range(4):
        by_hand -= math.log(torch.sigmoid(o[b] @ c[b]))
        by_hand -= sum(math.log(torch.sigmoid(-(n[b, k] @ c[b]))) for k in range(2))
    assert E.sgns_loss(c, o, n).item() == pytest.approx(by_hand / 4, rel=1e-5)


def test_skipgram_pairs_window():
    pairs = E.skipgram_pairs([["a", "b", "c"]], {"a": 0, "b": 1, "c": 2}, window=1)
    assert sorted(map(tuple, pairs.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]


def test_word2vec_learns_two_topics_and_is_deterministic():
    import random

    rng = random.Random(0)
    animals, digits = ["cat", "dog", "owl", "fox"], ["one", "two", "six", "ten"]
    sents = [[rng.choice(animals) for _ in range(5)] for _ in range(300)]
    sents += [[rng.choice(digits) for _ in range(5)] for _ in range(300)]
    res = E.train_word2vec(sents, dim=8, window=2, epochs=5, batch_size=512, subsample=0, seed=0)
    wv = res.vectors.centred()
    assert res.losses[-1] < res.losses[0]
    for w in animals + digits:
        topic = animals if w in animals else digits
        assert wv.most_similar(w, 1)[0][0] in topic
    again = E.train_word2vec(sents, dim=8, window=2, epochs=5, batch_size=512, subsample=0, seed=0)
    subsampled = E.train_word2vec(sents, dim=8, window=2, epochs=1, batch_size=512, subsample=1e-3, seed=0)
    assert len(subsampled.losses) < len(res.losses) / 5  # fewer pairs: frequent words are dropped
    assert torch.equal(res.vectors.vectors, again.vectors.vectors)


def test_model_word_vectors_average_the_subword_embeddings():
    import itlib

    model, tok = itlib.load_base()
    wv = E.word_vectors(model=model, tokenizer=tok, words=["successor", "largest"])
    table = model.get_input_embeddings().weight
    ids = tok(" successor", add_special_tokens=False)["input_ids"]
    assert torch.allclose(wv["successor"], table[ids].mean(0))
    with pytest.raises(ValueError, match="both"):
        E.word_vectors(model=model)


def test_contextual_vectors_layer0_are_the_static_embeddings_and_later_layers_see_context():
    import itlib

    model, tok = itlib.load_base()
    static = E.word_vectors(model=model, tokenizer=tok, words=["sort", "numbers", "largest", "smallest"])
    layer0 = E.ContextualVectors(model, tok, layer=0)
    words, x = layer0.lookup("Sort numbers, largest!")
    assert words == ["sort", "numbers", "largest"]
    assert torch.allclose(x, torch.stack([static[w] for w in words]), atol=1e-6)   # no context at layer 0
    last = E.ContextualVectors(model, tok, layer=-1)
    (_, a), (_, b) = last.lookup("sort largest numbers"), last.lookup("sort smallest numbers")
    assert torch.allclose(a[0], b[0], atol=1e-5)            # causal: 'sort' sees nothing that differs
    assert not torch.allclose(a[2], b[2], atol=1e-3)        # 'numbers' sees 'largest' / 'smallest'
    texts = ["sort largest numbers", "sort smallest numbers"]
    centred = last.centred(texts)
    assert torch.allclose(torch.cat([centred.lookup(t)[1] for t in texts]).mean(0), torch.zeros(last.dim), atol=1e-5)
    e = E.embed_instruction(texts, centred, "mean")          # the pooling functions take it like WordVectors
    assert e.shape == (2, last.dim)
    fit = E.train_attention_pool(texts * 2, ["a", "b", "a", "b"], centred, steps=3)
    assert len(fit.losses) == 3


def test_embed_instruction_skips_unknown_words_and_matches_mean():
    wv = E.WordVectors(["sort", "the", "numbers"], torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]))
    e = E.embed_instruction("Sort the shiny numbers.", wv, "mean")
    assert e.shape == (2,) and torch.allclose(e, torch.tensor([1.0, 1.0]))
    both = E.embed_instruction(["Sort the numbers", "shiny"], wv, "max")
    assert torch.equal(both, torch.tensor([[2.0, 2.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="unknown pooling"):
        E.embed_instruction("sort", wv, "median")
    with pytest.raises(KeyError, match="shiny"):
        wv["shiny"]


def test_soft_nn_loss_and_training_an_attention_pool():
    # the word "signal" tells the label; the filler words are shared, so mean pooling mixes them up
    g = torch.Generator().manual_seed(0)
    words = ["up", "down", "the", "a", "of", "list"]
    wv = E.WordVectors(words, torch.randn(6, 8, generator=g))
    texts = [f"{w} the a of list" for w in ("up", "down") for _ in range(5)]
    texts = [t if i % 2 else t.replace("the a", "a the of") for i, t in enumerate(texts)]
    labels = ["up"] * 5 + ["down"] * 5
    y = torch.tensor([0] * 5 + [1] * 5)
    mean_e = E.embed_instruction(texts, wv, "mean")
    assert E.soft_nn_loss(mean_e, y) < E.soft_nn_loss(mean_e, y[torch.tensor([0, 5, 1, 6, 2, 7, 3, 8, 4, 9])])
    fit = E.train_attention_pool(texts, labels, wv, steps=100)
    assert fit.losses[-1] < fit.losses[0]
    _, alpha, known = E.embed_instruction(texts[:1], wv, fit.pool, return_weights=True)
    assert known[0][int(alpha[0].argmax())] == "up"  # the pool learned to look at the word that matters


def test_instruction_choice_data_needs_the_instruction():
    from itlib.tasks import get_task

    data = E.instruction_choice_data(n_train_inputs=60, n_test_inputs=12, seed=0)
    assert len(data["train"]) == 4 * 60 and len(data["test_inputs"]) == len(data["test_templates"]) == 48
    train_inputs = {e.input for e in data["train"]}
    assert not train_inputs & {e.input for e in data["test_inputs"]}
    assert [e.input for e in data["test_inputs"]] == [e.input for e in data["test_templates"]]
    for e in data["test_templates"]:
        assert e.instruction in get_task(e.task).heldout_templates()
    for e in data["train"] + data["test_inputs"]:
        assert e.instruction in get_task(e.task).train_templates()
        assert len(e.output) == 1 and e.output == get_task(e.task).solve(e.input)
    assert E.instruction_choice_data(n_train_inputs=60, n_test_inputs=12, seed=0) == data


def test_conditioned_gru_without_instruction_ignores_it():
    from itlib.tasks import DIGITS

    wv = E.WordVectors(["largest", "smallest", "number"], torch.randn(3, 6, generator=torch.Generator().manual_seed(0)))
    data = E.instruction_choice_data(n_train_inputs=3, n_test_inputs=1, seed=0)["test_inputs"]
    for pool in ("mean", "max", "attention"):
        enc = E.InstructionEncoder(wv, pool, trainable=True)
        (items, lengths, _, _), y = E.encode_examples(data, enc, DIGITS, DIGITS)
        ids_a, m_a = enc.word_ids(["What is the largest number?"] * len(y))
        ids_b, m_b = enc.word_ids(["What is the smallest number?"] * len(y))
        blind = E.ConditionedGRU(10, 10, enc, use_instruction=False)
        assert torch.equal(blind(items, lengths, ids_a, m_a), blind(items, lengths, ids_b, m_b))
        told = E.ConditionedGRU(10, 10, enc)
        assert not torch.allclose(told(items, lengths, ids_a, m_a), told(items, lengths, ids_b, m_b))
    assert torch.allclose(E.InstructionEncoder(wv, "mean")(*enc.word_ids(["largest number x"])),
                          E.embed_instruction(["largest number x"], wv, "mean"))


def test_fit_classifier_learns_a_separable_problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=g)
    y = (x[:, 0] > x[:, 1]).long()
    model = torch.nn.Linear(2, 2)
    losses = E.fit_classifier(model, (x,), y, epochs=20, batch_size=32, lr=0.05, seed=0)
    assert losses[-1] < 0.5 * losses[0]
    assert E.classifier_accuracy(model, (x,), y) > 0.95


def test_conditioned_gru_training_reduces_the_loss():
    from itlib.tasks import DIGITS

    wv = E.WordVectors(["largest", "smallest", "first", "last"], torch.eye(4))
    data = E.instruction_choice_data(n_train_inputs=60, n_test_inputs=3, seed=0)
    enc = E.InstructionEncoder(wv, "attention", trainable=True)
    model = E.ConditionedGRU(10, 10, enc, hidden=16, emb=8)
    X, y = E.encode_examples(data["train"], enc, DIGITS, DIGITS)
    before = enc.emb.weight.clone()
    losses = E.fit_classifier(model, X, y, epochs=4, batch_size=32, lr=1e-2, seed=0)
    assert sum(losses[-3:]) < sum(losses[:3])
    assert not torch.equal(before, enc.emb.weight)  # trainable word vectors were tuned
