"""itlib.prompts: template scoring, soft prompts (by hand = peft), and prompt ensembling."""

import copy

import pytest
import torch

from itlib.data import Example
from itlib.evaluate import exact_match, generate
from itlib.formats import FORMATS, render
from itlib.models import build_model
from itlib.prompts import (
    SoftPrompt,
    answer_logprobs,
    collate_slots,
    distinct_answers,
    ensemble_by_probability,
    generate_soft,
    init_prompt,
    instruction_tokens,
    majority_vote,
    render_slot,
    rephrase,
    score_templates,
    soft_prompt_loss,
    soft_prompt_with_peft,
    train_soft_prompt,
)
from itlib.tasks import TASKS, make_examples
from itlib.train import collate, masked_nll


@pytest.fixture(scope="module")
def micro(tokenizer):
    return build_model(tokenizer, size="micro", seed=0).eval()


@pytest.fixture(scope="module")
def base():
    import itlib

    return itlib.load_base()[0]


def few(n=6, tasks=("sort_descending", "sentiment")):
    return make_examples(list(tasks), n_per_task=n // len(tasks), seed=1)


# ---------------------------------------------------------------------------------------------
# soft prompts


def test_hand_soft_prompt_equals_peft_prompt_tuning(tokenizer, micro):
    """The same prompt vectors in front of the input: identical logits, loss and gradient on P."""
    soft = SoftPrompt(copy.deepcopy(micro), n_tokens=5, init="random", seed=3)
    peft_model = soft_prompt_with_peft(copy.deepcopy(micro), soft.prompt)
    items = [render_slot(ex, tokenizer, where="start") for ex in few(4)]
    batch = collate_slots(items, tokenizer.pad_token_id)  # right-padded, rows of different lengths
    assert len({len(r.input_ids) for r in items}) > 1
    ours = soft(batch["input_ids"], batch["attention_mask"], slot=0).logits
    theirs = peft_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert ours.shape == theirs.shape == (4, batch["input_ids"].shape[1] + 5, micro.config.vocab_size)
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(ours[:, 5:][real], theirs[:, 5:][real])
    torch.testing.assert_close(ours[:, :5], theirs[:, :5])

    labels = batch["input_ids"].masked_fill(batch["loss_mask"] == 0, -100)
    peft_loss = peft_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels).loss
    our_loss = soft_prompt_loss(soft, batch)
    torch.testing.assert_close(our_loss, peft_loss)
    our_loss.backward()
    peft_loss.backward()
    torch.testing.assert_close(soft.prompt.grad, peft_model.prompt_encoder["default"].embedding.weight.grad)


def test_embed_equals_the_hand_written_concatenation(tokenizer, micro):
    """The notebook's by-hand lines: [E(head); P; E(tail)] = SoftPrompt.embed, and the same logits."""
    soft = SoftPrompt(micro, n_tokens=3, init="random", seed=2)
    r = render_slot(few(2)[0], tokenizer)
    ids = torch.tensor([r.input_ids])
    E = micro.get_input_embeddings()
    hand = torch.cat([E(ids[:, :r.slot]), soft.prompt[None], E(ids[:, r.slot:])], dim=1)
    torch.testing.assert_close(soft.embed(ids, r.slot), hand)
    with torch.no_grad():
        torch.testing.assert_close(soft(ids, slot=r.slot).logits, micro(inputs_embeds=hand).logits)


@pytest.mark.parametrize("fmt", FORMATS)
def test_instruction_initialised_soft_prompt_is_the_hand_written_prompt(tokenizer, micro, fmt):
    """P = the embeddings of the instruction's own tokens, in the instruction's place: the model sees
    exactly f(X, I), whatever the format."""
    for ex in few(4):
        ids = instruction_tokens(tokenizer, ex.instruction, fmt)
        r = render_slot(ex, tokenizer, fmt)
        full = render(ex, tokenizer, fmt)
        assert r.input_ids[:r.slot] + ids + r.input_ids[r.slot:] == full.input_ids
        assert sum(r.loss_mask) == sum(full.loss_mask)
        soft = SoftPrompt(micro, n_tokens=len(ids), init="text", token_ids=ids)
        with torch.no_grad():
            ours = soft(torch.tensor([r.input_ids]), slot=r.slot).logits
            plain = micro(input_ids=torch.tensor([full.input_ids])).logits
        torch.testing.assert_close(ours, plain, rtol=1e-4, atol=1e-4)


def test_generate_soft_with_the_instruction_equals_plain_generation(tokenizer, base):
    examples = rephrase(few(8, ("max_digit", "first_item")), "Give the biggest digit.")
    ids = instruction_tokens(tokenizer, "Give the biggest digit.")
    soft = SoftPrompt(copy.deepcopy(base), n_tokens=len(ids), init="text", token_ids=ids)
    assert generate_soft(soft, tokenizer, examples) == generate(base, tokenizer, examples)


def test_rows_with_different_slots_equal_one_by_one(tokenizer, micro):
    soft = SoftPrompt(micro, n_tokens=3, init="vocab", seed=1)
    items = [render_slot(ex, tokenizer, "infilling") for ex in few(4)]  # infilling: the slot moves with the input
    assert len({r.slot for r in items}) > 1
    batch = collate_slots(items, tokenizer.pad_token_id)
    with torch.no_grad():
        together = soft(batch["input_ids"], batch["attention_mask"], batch["slot"]).logits
        for row, r in enumerate(items):
            alone = soft(torch.tensor([r.input_ids]), slot=r.slot).logits[0]
            torch.testing.assert_close(together[row, :len(alone)], alone, rtol=1e-4, atol=1e-4)


def test_training_changes_only_the_prompt(tokenizer, micro):
    model = copy.deepcopy(micro)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    soft = SoftPrompt(model, n_tokens=4, init="random", seed=0)
    p0 = soft.prompt.detach().clone()
    assert [n for n, p in soft.named_parameters() if p.requires_grad] == ["prompt"]
    result = train_soft_prompt(soft, tokenizer, few(24), epochs=3, lr=0.1, batch_tokens=256, device="cpu",
                               progress=False)
    assert result.steps >= 3
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the frozen model is bit-identical
    assert not torch.equal(p0, soft.prompt.detach())
    assert result.losses[-1] < result.losses[0]


def test_init_prompt_options(tokenizer, micro):
    E = micro.get_input_embeddings().weight
    rand = init_prompt(E, 64, "random", seed=0)
    assert rand.shape == (64, E.shape[1])
    assert 0.7 < float(rand.std() / E.std()) < 1.3  # the scale of real token embeddings
    vocab = init_prompt(E, 4, "vocab", seed=0)
    assert all(any(torch.equal(v, e) for e in E) for v in vocab)
    text = init_prompt(E, 5, "text", token_ids=[7, 8])  # repeated to fill, as peft's TEXT init
    torch.testing.assert_close(text, E[[7, 8, 7, 8, 7]].detach())
    with pytest.raises(ValueError, match="token_ids"):
        init_prompt(E, 4, "text")
    with pytest.raises(ValueError, match="init must be"):
        init_prompt(E, 4, "zeros")
    with pytest.raises(ValueError, match="where must be"):
        render_slot(few(2)[0], tokenizer, where="middle")


# ---------------------------------------------------------------------------------------------
# ensembling


def test_majority_vote_counts_and_breaks_ties_by_prompt_order():
    preds = [["a", "x", "p", "1 2"],
             ["b", "y", "q", "1  2"],
             ["b", "x", "q", " 1 2 "]]
    assert majority_vote(preds) == ["b", "x", "q", "1 2"]
    tie = [["b", "c"], ["a", "d"], ["a", "c"], ["b", "d"]]  # 2-2 ties: the answer of the earliest prompt wins
    assert majority_vote(tie) == ["b", "c"]
    assert majority_vote(tie[::-1]) == ["b", "d"]
    assert majority_vote([["only"]]) == ["only"]
    with pytest.raises(ValueError, match="one answer per input"):
        majority_vote([["a", "b"], ["a"]])
    assert distinct_answers(preds) == [["a", "b"], ["x", "y"], ["p", "q"], ["1 2"]]


def test_answer_logprobs_equal_the_training_loss(tokenizer, base):
    examples = few(4)
    logp = answer_logprobs(base, tokenizer, examples, [[ex.output] for ex in examples])
    for ex, (lp,) in zip(examples, logp):
        batch = collate([render(ex, tokenizer)], tokenizer.pad_token_id)
        with torch.no_grad():
            nll = masked_nll(base(input_ids=batch["input_ids"]).logits, batch["input_ids"], batch["loss_mask"])
        assert lp == pytest.approx(-float(nll) * sum(batch["loss_mask"][0, 1:].tolist()), rel=1e-4)


def test_ensemble_of_identical_prompts_equals_the_single_prompt(tokenizer, base):
    examples = few(6)
    cands = [["9 5 1", "1 5 9", ex.output] if ex.task == "sort_descending" else ["positive", "negative"]
             for ex in examples]
    single = ensemble_by_probability(base, tokenizer, [examples], cands)
    logp = answer_logprobs(base, tokenizer, examples, cands)
    assert single == [c[max(range(len(c)), key=lambda j: lp[j])] for c, lp in zip(cands, logp)]
    for normalise_over in (True, False):
        assert ensemble_by_probability(base, tokenizer, [examples] * 3, cands,
                                       normalise_over=normalise_over) == single
    preds = generate(base, tokenizer, examples)
    assert majority_vote([preds] * 3) == [" ".join(p.split()) for p in preds]


def test_ensemble_by_probability_averages_over_prompts(tokenizer, base):
    examples = few(4, ("sentiment",))
    prompts = [rephrase(examples, t) for t in TASKS["sentiment"].templates[:3]]
    cands = [["positive", "negative"]] * len(examples)
    probs = torch.stack([torch.tensor(answer_logprobs(base, tokenizer, p, cands)).softmax(-1) for p in prompts])
    expected = [cands[0][int(j)] for j in probs.mean(0).argmax(-1)]
    assert ensemble_by_probability(base, tokenizer, prompts, cands) == expected
    one = [["positive"]] * len(examples)  # a single candidate needs no scoring
    assert ensemble_by_probability(base, tokenizer, prompts, one) == ["positive"] * len(examples)


# ---------------------------------------------------------------------------------------------
# template scoring


def test_score_templates_rows_and_scores(tokenizer, base):
    examples = make_examples(["max_digit", "uppercase"], n_per_task=3, seed=2)
    table = score_templates(base, tokenizer, examples, templates={"max_digit": ["max?"]})
    n_max = len(TASKS["max_digit"].templates) + 1
    n_upper = len(TASKS["uppercase"].all_templates())
    assert len(table) == n_max + n_upper
    mx = table[table.task == "max_digit"]
    assert list(mx.split) == ["train"] * 6 + ["held-out"] * 2 + ["new"]
    assert list(mx.template) == list(range(8)) + [-1]
    assert (table[table.task == "uppercase"].split == "held-out").sum() == 3  # 2 English + 1 Chinese
    row = mx.iloc[-1]
    asked = rephrase(examples[:3], "max?")
    assert row.predictions == generate(base, tokenizer, asked)
    assert row.exact_match == exact_match(row.predictions, [e.output for e in asked])
    english = score_templates(base, tokenizer, examples, english_only=True)
    assert len(english) == 16
    with pytest.raises(ValueError, match="no templates"):
        score_templates(base, tokenizer, [Example("Do it.", "a", "b", task="mine")])
