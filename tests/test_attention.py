"""Instruction attention alpha_i = softmax_i(h_i^T W e_I), c = sum_i alpha_i h_i, and the selection task."""

import pytest
import torch

from itlib.attention import (
    SELECT_TASKS,
    InstructionAttention,
    SelectExample,
    Selector,
    SelectVocab,
    encode_batch,
    instruction_attention,
    item_positions,
    kind_mass,
    make_example,
    make_select_data,
    position_mass,
    predict,
    reference_attention,
    selector_accuracy,
    train_selector,
    words_of,
)


def random_inputs(seed=0, B=3, n=6, d_h=5, d_e=4):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(B, n, d_h, generator=g)
    e = torch.randn(B, d_e, generator=g)
    W = torch.randn(d_h, d_e, generator=g)
    mask = torch.ones(B, n, dtype=torch.long)
    if B == 3:
        mask[1, 4:] = 0
        mask[2, 1:] = 0  # a single real token
    return h, e, W, mask


def test_weights_sum_to_one_and_padding_gets_zero():
    h, e, W, mask = random_inputs()
    out = instruction_attention(h, e, W, mask)
    assert torch.allclose(out.weights.sum(-1), torch.ones(3), atol=1e-6)
    assert (out.weights[mask == 0] == 0).all()
    assert torch.isneginf(out.scores[mask == 0]).all()
    assert torch.allclose(out.weights[2, 0], torch.tensor(1.0))  # one real token takes all the weight


def test_equals_the_loop_reference():
    for seed in range(3):
        h, e, W, mask = random_inputs(seed)
        fast, slow = instruction_attention(h, e, W, mask), reference_attention(h, e, W, mask)
        assert torch.allclose(fast.context, slow.context, atol=1e-5)
        assert torch.allclose(fast.weights, slow.weights, atol=1e-6)
        real = mask.bool()
        assert torch.allclose(fast.scores[real], slow.scores[real], atol=1e-5)


def test_raw_scores_are_the_bilinear_form():
    h, e, W, _ = random_inputs(1)
    out = instruction_attention(h, e, W)
    b, i = 1, 2
    assert torch.allclose(out.scores[b, i], h[b, i] @ W @ e[b], atol=1e-5)
    assert torch.allclose(out.weights, torch.softmax(out.scores, -1))
    assert torch.allclose(out.context, (out.weights.unsqueeze(-1) * h).sum(1), atol=1e-6)


def test_padding_does_not_change_the_result():
    h, e, W, _ = random_inputs(2, B=1, n=4)
    padded = torch.cat([h, torch.randn(1, 3, h.shape[-1]) * 100], dim=1)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0, 0]])
    a, b = instruction_attention(h, e, W), instruction_attention(padded, e, W, mask)
    assert torch.allclose(a.context, b.context, atol=1e-6)
    assert torch.allclose(a.weights, b.weights[:, :4], atol=1e-7)


def test_module_matches_the_function_and_gets_gradients():
    h, e, _, mask = random_inputs(3)
    module = InstructionAttention(5, 4, seed=0)
    out = module(h, e, mask)
    ref = instruction_attention(h, e, module.W.detach(), mask)
    assert torch.allclose(out.context, ref.context)
    out.context.sum().backward()
    assert module.W.grad is not None and module.W.grad.abs().sum() > 0


def test_shape_errors_are_clear():
    h, e, W, mask = random_inputs()
    with pytest.raises(ValueError, match="W must have shape"):
        instruction_attention(h, e, W.T)
    with pytest.raises(ValueError, match="mask must have shape"):
        instruction_attention(h, e, W, mask[:, :3])
    with pytest.raises(ValueError, match="at least one real"):
        instruction_attention(h, e, W, torch.zeros_like(mask))


def test_tasks_solve_and_mark_relevant_tokens():
    items = ("red", "7", "cat", "2", "blue", "9", "dog")
    first_digit = make_example("first_digit", items)
    assert first_digit.answer == "7" and first_digit.relevant == (1, 3, 5) and first_digit.answer_positions == (1,)
    assert make_example("last_digit", items).answer == "9"
    assert make_example("largest_digit", items).answer == "9"
    last_colour = make_example("last_colour", items)
    assert last_colour.answer == "blue" and last_colour.relevant == (0, 4)
    assert make_example("first_animal", items).answer == "cat"
    assert make_example("last_animal", items).answer == "dog"


def test_data_is_deterministic_and_covers_every_task():
    a, b = make_select_data(70, seed=3), make_select_data(70, seed=3)
    assert a == b and a != make_select_data(70, seed=4)
    assert {ex.task for ex in a} == set(SELECT_TASKS)
    for ex in a:
        assert 5 <= len(ex.items) <= 8
        assert SELECT_TASKS[ex.task].solve(ex.items) == ex.answer
        assert ex.instruction in SELECT_TASKS[ex.task].phrasings


def test_vocab_and_batches():
    vocab = SelectVocab()
    assert words_of("What is the FIRST digit?") == ["what", "is", "the", "first", "digit"]
    assert vocab.encode_instruction("what is the zebra")[-1] == SelectVocab.UNK
    with pytest.raises(ValueError, match="unknown input item"):
        vocab.encode_items(["7", "purple"])
    data = make_select_data(10, seed=0)
    batch = encode_batch(data, vocab)
    assert batch["items"].shape == batch["item_mask"].shape
    assert batch["item_mask"].sum(1).tolist() == [len(ex.items) for ex in data]
    assert [vocab.items[i] for i in batch["target"]] == [ex.answer for ex in data]


@pytest.mark.parametrize("encoder", ["position", "gru"])
def test_selector_forward_is_consistent(encoder):
    vocab = SelectVocab()
    model = Selector(vocab, d=16, encoder=encoder)
    data = make_select_data(8, seed=0)
    batch = encode_batch(data, vocab)
    out = model(batch["items"], batch["item_mask"], batch["words"], batch["word_mask"])
    assert out.logits.shape == (8, len(vocab.items))
    ref = reference_attention(out.h.detach(), out.e.detach(), model.attention.W.detach(), batch["item_mask"])
    assert torch.allclose(out.weights, ref.weights, atol=1e-5)
    assert torch.allclose(out.context, ref.context, atol=1e-5)
    # e_I is the mean of the instruction's word embeddings
    ids = vocab.encode_instruction(data[0].instruction)
    assert torch.allclose(out.e[0], model.word_emb.weight[ids].mean(0), atol=1e-6)


def test_training_is_seeded():
    vocab = SelectVocab()
    data = make_select_data(256, seed=0)
    losses = [train_selector(Selector(vocab, d=16, seed=0), data, epochs=1, batch_size=64, progress=False).losses
              for _ in range(2)]
    assert losses[0] == losses[1] and len(losses[0]) == 4


def test_training_learns_to_move_attention_with_the_instruction():
    vocab = SelectVocab()
    tasks = ["first_digit", "last_colour"]
    model = Selector(vocab, d=32, seed=0)
    result = train_selector(model, make_select_data(800, seed=0, tasks=tasks), epochs=15, batch_size=64,
                            progress=False)
    assert result.losses[-1] < 0.6 * result.losses[0]
    test = make_select_data(100, seed=1, tasks=tasks)
    assert selector_accuracy(model, test) > 0.35  # chance is about 0.1
    # the instruction moves the attention: digits for the digit question, colours for the colour one
    pred = predict(model, test)
    digit_q = [kind_mass(w, ex.items, "digit") for ex, w in zip(test, pred["weights"]) if ex.task == "first_digit"]
    colour_q = [kind_mass(w, ex.items, "digit") for ex, w in zip(test, pred["weights"]) if ex.task == "last_colour"]
    assert sum(digit_q) / len(digit_q) > sum(colour_q) / len(colour_q) + 0.2


def test_mass_helpers():
    w = torch.tensor([0.1, 0.2, 0.3, 0.4])
    items = ("7", "red", "3", "cat")
    assert kind_mass(w, items, "digit") == pytest.approx(0.4)
    assert kind_mass(w, items, "colour") == pytest.approx(0.2)
    assert position_mass(w, (1, 3)) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="kind must be"):
        kind_mass(w, items, "number")


def test_mean_pool_baseline_ignores_the_instruction_when_reading():
    vocab = SelectVocab()
    model = Selector(vocab, d=16, pool="mean")
    ex = SelectExample("what is the first digit", ("7", "red", "cat", "2", "blue"), "7", "first_digit")
    w = predict(model, [ex])["weights"][0]
    assert torch.allclose(w, torch.full((5,), 0.2))


def test_item_positions_in_the_prompt(tokenizer):
    from itlib.data import Example
    from itlib.formats import prompt_ids

    ex = Example("What is the first item?", "3 red cat 8 blue", "3")
    ids = prompt_ids(ex, tokenizer)
    positions = item_positions(tokenizer, ex)
    assert len(positions) == 5 and all(positions)
    for item, pos in zip(ex.input.split(), positions):
        assert tokenizer.decode([ids[p] for p in pos]).strip() == item
    assert positions[-1][-1] < len(ids) - 1  # "Answer:" follows the input
