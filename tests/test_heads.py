"""itlib.heads: the classification head, the tagger and the verbaliser equal their references
(transformers' *ForSequenceClassification / *ForTokenClassification, cross_entropy, masked_nll,
scikit-learn), one tag per input item, and a training loop that learns."""

import copy

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import precision_recall_fscore_support
from transformers import LlamaForSequenceClassification, LlamaForTokenClassification

from itlib.data import Example
from itlib.evaluate import tag_prf
from itlib.formats import FORMATS, prompt_ids, render
from itlib.heads import (
    Encoded,
    SequenceClassifier,
    TokenTagger,
    _batch,
    encode_classification,
    encode_tagging,
    item_positions,
    label_logprobs,
    last_token_index,
    majority_baseline,
    predict_labels,
    predict_tags,
    train_head,
    verbalise,
)
from itlib.models import build_model
from itlib.tasks import make_examples
from itlib.train import masked_nll

LABELS = ["positive", "negative", "yes", "no"]
TAGS = ["NUM", "COL", "ANI", "E", "O"]


@pytest.fixture(scope="module")
def backbone(tokenizer):
    return build_model(tokenizer, size="micro", seed=0).eval()


def classify_examples(n=6):
    return make_examples(["sentiment", "contains_animal"], n_per_task=n, seed=1)


def label_examples(n=6):
    return make_examples(["word_type", "digit_parity"], n_per_task=n, seed=1)


def test_last_token_index_for_right_and_left_padding():
    right = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    left = right.flip(1)
    assert last_token_index(right).tolist() == [2, 4, 0]
    assert last_token_index(left).tolist() == [4, 4, 4]


def test_classifier_equals_transformers_sequence_classification(tokenizer, backbone):
    torch.manual_seed(0)
    ours = SequenceClassifier(copy.deepcopy(backbone), len(LABELS), LABELS).eval()
    with torch.no_grad():
        ours.head.bias.zero_()  # transformers' score layer has no bias
    config = copy.deepcopy(backbone.config)
    config.num_labels = len(LABELS)
    ref = LlamaForSequenceClassification(config).eval()
    ref.model.load_state_dict(backbone.model.state_dict())
    ref.score.weight.data.copy_(ours.head.weight.data)

    batch = _batch(encode_classification(classify_examples(), tokenizer, LABELS), tokenizer.pad_token_id, "cpu")
    out = ref(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
    logits = ours.batch_logits(batch)
    torch.testing.assert_close(logits, out.logits)
    # the loss train_head minimises = cross_entropy = transformers' loss = -log softmax by hand
    loss = F.cross_entropy(logits, batch["labels"])
    by_hand = -(logits.log_softmax(-1).gather(1, batch["labels"][:, None])).mean()
    torch.testing.assert_close(loss, out.loss)
    torch.testing.assert_close(loss, by_hand)


def test_tagger_equals_transformers_token_classification(tokenizer, backbone):
    torch.manual_seed(0)
    ours = TokenTagger(copy.deepcopy(backbone), len(TAGS), TAGS).eval()
    config = copy.deepcopy(backbone.config)
    config.num_labels = len(TAGS)
    ref = LlamaForTokenClassification(config).eval()
    ref.model.load_state_dict(backbone.model.state_dict())
    ref.score.load_state_dict(ours.head.state_dict())

    data = encode_tagging(label_examples(), tokenizer, TAGS)
    batch = _batch(data, tokenizer.pad_token_id, "cpu")
    token_labels = torch.full_like(batch["input_ids"], -100)
    token_labels[batch["loss_mask"].bool()] = batch["labels"]  # row-major order = the order of `labels`
    out = ref(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=token_labels)
    logits = ours(batch["input_ids"], batch["attention_mask"])
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(logits[real], out.logits[real])
    torch.testing.assert_close(F.cross_entropy(ours.batch_logits(batch), batch["labels"]), out.loss)


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_read_position_per_input_item(tokenizer, fmt):
    examples = label_examples(4) + [Example("Tag each word.", "cow 红 elephant 7", "ANI COL ANI NUM")]
    for ex in examples:
        ids = prompt_ids(ex, tokenizer, fmt)
        positions = item_positions(ex, tokenizer, fmt)
        items = ex.input.split()
        assert len(positions) == len(items) and positions == sorted(positions)
        for k, (p, item) in enumerate(zip(positions, items)):
            start = positions[k - 1] + 1 if k else None
            if start is None:  # the first item's tokens start somewhere after the instruction text
                start = next(s for s in range(p, -1, -1) if tokenizer.decode(ids[s: p + 1]).strip() == item)
            # the tokens between the previous read position and this one spell exactly this item,
            # and the read position is its LAST token
            assert tokenizer.decode(ids[start: p + 1]).strip() == item, (fmt, ex.input, item)


def test_encode_tagging_and_classification(tokenizer):
    data = encode_tagging(label_examples(3), tokenizer, TAGS)
    for d, ex in zip(data, label_examples(3)):
        assert sum(d.read) == len(d.labels) == len(ex.input.split())
        assert [TAGS[k] for k in d.labels] == ex.output.split()
        assert len(d.read) == len(d.input_ids)
    with pytest.raises(ValueError, match="2 tags for 3 input items"):
        encode_tagging([Example("Tag.", "1 2 3", "O E")], tokenizer, TAGS)
    with pytest.raises(ValueError, match="not one of"):
        encode_tagging([Example("Tag.", "1 2", "O X")], tokenizer, TAGS)
    (c,) = encode_classification([Example("Is it?", "a b", "yes")], tokenizer, LABELS)
    assert c.read[-1] == 1 and sum(c.read) == 1 and c.labels == [2]


def test_label_logprobs_equal_masked_nll_by_hand(tokenizer, backbone):
    ex = classify_examples(1)[0]
    labels = ["positive", "not sure at all"]  # the second has several tokens
    scores = label_logprobs(backbone, tokenizer, [ex], labels)[0]
    for label in labels:
        r = render(Example(ex.instruction, ex.input, label), tokenizer)  # answer + EOS carry the mask
        ids = torch.tensor([r.input_ids[:-1]])  # drop the EOS: score the label words only
        mask = torch.tensor([r.loss_mask[:-1]])
        with torch.no_grad():
            nll = masked_nll(backbone(input_ids=ids).logits, ids, mask)
        assert scores[label] == pytest.approx(-nll.item() * mask.sum().item(), rel=1e-4)
    assert verbalise(backbone, tokenizer, [ex], labels) == [max(scores, key=scores.get)]
    with_eos = label_logprobs(backbone, tokenizer, [ex], labels, eos=True)[0]
    assert all(with_eos[k] < scores[k] for k in labels)  # one more token, one more log-prob < 0


def test_verbalise_uses_each_tasks_own_labels(tokenizer, backbone):
    examples = classify_examples(3)
    preds = verbalise(backbone, tokenizer, examples)
    for ex, p in zip(examples, preds):
        assert p in ({"positive", "negative"} if ex.task == "sentiment" else {"yes", "no"})
    # a batch of many gives the same answers as one at a time (padding does not change scores)
    assert preds == [verbalise(backbone, tokenizer, [ex])[0] for ex in examples]


def test_tag_prf_of_the_tagger_equals_sklearn(tokenizer, backbone):
    torch.manual_seed(1)
    tagger = TokenTagger(copy.deepcopy(backbone), len(TAGS), TAGS)  # untrained: mixed right and wrong tags
    examples = label_examples(10)
    preds = predict_tags(tagger, tokenizer, examples)
    refs = [ex.output for ex in examples]
    assert [len(p.split()) for p in preds] == [len(r.split()) for r in refs]  # one tag per item
    y_pred = [t for p in preds for t in p.split()]
    y_true = [t for r in refs for t in r.split()]
    for average in ("micro", "macro"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
        ours = tag_prf(preds, refs, average=average)
        assert ours == pytest.approx({"precision": p, "recall": r, "f1": f})


def test_predictions_do_not_depend_on_batching(tokenizer, backbone):
    torch.manual_seed(2)
    clf = SequenceClassifier(copy.deepcopy(backbone), len(LABELS), LABELS)
    tagger = TokenTagger(copy.deepcopy(backbone), len(TAGS), TAGS)
    cls, lab = classify_examples(4), label_examples(4)
    assert predict_labels(clf, tokenizer, cls, batch_size=3) == predict_labels(clf, tokenizer, cls, batch_size=64)
    assert predict_tags(tagger, tokenizer, lab, batch_size=3) == predict_tags(tagger, tokenizer, lab, batch_size=64)


def test_train_head_learns_and_is_seeded(tokenizer, backbone):
    # the instruction alone decides the tag of a digit: NUM under word_type, E/O under parity
    examples = make_examples(["word_type", "digit_parity"], n_per_task=30, seed=0, difficulties=(1,))
    data = encode_tagging(examples, tokenizer, TAGS)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        tagger = TokenTagger(copy.deepcopy(backbone), len(TAGS), TAGS)
        runs.append(train_head(tagger, tokenizer, data, epochs=4, lr=3e-3, batch_tokens=512, seed=3,
                               device="cpu", progress=False))
    assert runs[0].losses == runs[1].losses
    losses = runs[0].losses
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5
    with pytest.raises(ValueError, match="no training examples"):
        train_head(tagger, tokenizer, [], progress=False)


def test_gpt2_backbone_works_too(tokenizer):
    gpt2 = build_model(tokenizer, arch="gpt2", size="micro")
    clf = SequenceClassifier(gpt2, 2, ["yes", "no"])
    ex = make_examples(["contains_animal"], n_per_task=3)
    assert all(p in ("yes", "no") for p in predict_labels(clf, tokenizer, ex))
    assert len(verbalise(gpt2, tokenizer, ex)) == 3


def test_majority_baseline():
    train = [Example("t", "1 2", "O E", task="p", kind="labelling"), Example("t", "3", "O", task="p", kind="labelling"),
             Example("c", "x", "yes", task="c", kind="classification"),
             Example("c", "y", "yes", task="c", kind="classification"),
             Example("c", "z", "no", task="c", kind="classification")]
    test = [Example("t", "4 5 6", "E O E", task="p", kind="labelling"),
            Example("c", "w", "no", task="c", kind="classification")]
    assert majority_baseline(train, test) == ["O O O", "yes"]


def test_encoded_as_rendered():
    e = Encoded([1, 5, 6], [0, 0, 1], [2])
    r = e.as_rendered()
    assert r.input_ids == [1, 5, 6] and r.loss_mask == [0, 0, 1]
