"""Fine-tuning strategies: hand LoRA == peft LoRA, freezing freezes, BitFit counts, NEFTune's noise
scale, distillation == torch's KL, FGM's step size, Reptile's interpolation."""

import copy

import pytest
import torch
import torch.nn.functional as F

from itlib import strategies as S
from itlib.models import build_model
from itlib.tasks import make_examples
from itlib.train import collate, fit, masked_nll


@pytest.fixture(scope="module")
def tok():
    from itlib.pipeline import default_tokenizer

    return default_tokenizer()


@pytest.fixture(scope="module")
def micro(tok):
    return build_model(tok, "llama", "micro", seed=0).eval()


@pytest.fixture(scope="module")
def data(tok):
    return make_examples(["max_digit", "reverse"], n_per_task=32, seed=0)


def batch_of(tok, examples):
    from itlib.formats import render

    return collate([render(e, tok) for e in examples], tok.pad_token_id)


def logits(model, batch):
    with torch.no_grad():
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def randomise_b(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, S.LoRALinear):
            with torch.no_grad():
                m.lora_B.copy_(torch.randn(m.lora_B.shape, generator=g) * 0.05)


# ------------------------------------------------------------------------------------------------ LoRA


def test_hand_lora_equals_peft_lora_for_the_same_weights(micro, tok, data):
    targets = ("q_proj", "v_proj", "down_proj")
    hand = S.add_lora(copy.deepcopy(micro), r=4, alpha=8, targets=targets)
    randomise_b(hand)  # B = 0 would make both equal to the base trivially
    peft_model = S.lora_with_peft(copy.deepcopy(micro), r=4, alpha=8, targets=targets)
    batch = batch_of(tok, data[:8])
    assert not torch.allclose(logits(hand, batch), logits(peft_model, batch), atol=1e-4)  # different A, B
    S.load_lora_weights(peft_model, S.lora_weights(hand))
    assert set(S.lora_weights(hand)) == set(S.lora_weights(peft_model))
    assert torch.allclose(logits(hand, batch), logits(peft_model, batch), atol=1e-5)
    assert not torch.allclose(logits(hand, batch), logits(micro, batch), atol=1e-3)  # the adapter does act
    assert S.trainable(hand)[0] == S.trainable(peft_model)[0] == 2 * 4 * (64 + 64) * 2 + 2 * 4 * (192 + 64)


def test_lora_starts_as_the_base_and_merges_exactly(micro, tok, data):
    model = S.add_lora(copy.deepcopy(micro), r=4, alpha=8)
    batch = batch_of(tok, data[:8])
    assert torch.allclose(logits(model, batch), logits(micro, batch), atol=1e-6)  # B = 0 at the start
    randomise_b(model)
    before = logits(model, batch)
    S.merge_lora(model)
    assert not any(isinstance(m, S.LoRALinear) for m in model.modules())
    assert S.trainable(model)[1] == S.trainable(micro)[1]
    assert torch.allclose(logits(model, batch), before, atol=1e-5)


def test_lora_trains_only_a_and_b(micro, tok, data):
    model = S.add_lora(copy.deepcopy(micro), r=2, alpha=4, targets=("q_proj",))
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    fit(model, tok, data, epochs=1, lr=1e-2, batch_tokens=512, progress=False)
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    assert any(m.lora_B.abs().sum() > 0 for m in model.modules() if isinstance(m, S.LoRALinear))


# -------------------------------------------------------------------------------------------- freezing


def test_freezing_leaves_frozen_parameters_unchanged(micro, tok, data):
    model = S.freeze_except(copy.deepcopy(micro), top_layers=1)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    fit(model, tok, data, epochs=1, lr=1e-2, batch_tokens=512, progress=False)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.startswith("model.layers.1.") or n == "model.norm.weight" for n in changed)
    assert "model.embed_tokens.weight" not in changed and "model.layers.0.mlp.up_proj.weight" not in changed
    n_train, n_all = S.trainable(model)
    top = sum(p.numel() for p in model.model.layers[1].parameters()) + 64
    assert n_train == top and n_all == S.trainable(micro)[1]


def test_freeze_except_by_name_keeps_the_norm_gains(micro):
    model = S.freeze_except(copy.deepcopy(micro), names=["norm"])
    assert S.trainable(model)[0] == 64 * (2 * 2 + 1)  # two norms per block, two blocks, the final norm
    with pytest.raises(ValueError, match="top_layers"):
        S.freeze_except(copy.deepcopy(micro), top_layers=3)


def test_bias_only_adds_zero_biases_and_trains_only_them(micro, tok, data):
    model = S.bias_only(copy.deepcopy(micro))
    per_block = 4 * 64 + 2 * 192 + 64  # q k v o, gate up, down
    assert S.trainable(model)[0] == 2 * per_block + len(tok)  # + the output layer's bias
    assert S.trainable(S.bias_only(copy.deepcopy(micro), include_head=False))[0] == 2 * per_block
    batch = batch_of(tok, data[:8])
    assert torch.allclose(logits(model, batch), logits(micro, batch), atol=1e-6)  # zero biases change nothing
    weights = {n: p.detach().clone() for n, p in model.named_parameters() if not n.endswith(".bias")}
    fit(model, tok, data, epochs=1, lr=1e-2, batch_tokens=512, progress=False)
    assert all(torch.equal(p, weights[n]) for n, p in model.named_parameters() if n in weights)
    assert model.model.layers[0].self_attn.q_proj.bias.abs().sum() > 0


# ---------------------------------------------------------------------------------- noise, adversaries


def test_neftune_noise_scale():
    torch.manual_seed(0)
    embeds = torch.zeros(2, 50, 64)
    mask = torch.ones(2, 50, dtype=torch.long)
    mask[1, 25:] = 0  # second row: 25 real tokens
    noise = S.neftune_noise(embeds, mask, alpha=5.0)
    s0, s1 = 5 / (50 * 64) ** 0.5, 5 / (25 * 64) ** 0.5
    assert noise[0].abs().max() <= s0 and noise[0].abs().max() > 0.95 * s0
    assert noise[1, :25].abs().max() <= s1 and noise[1, :25].abs().max() > 0.95 * s1
    assert torch.equal(noise[1, 25:], torch.zeros(25, 64))  # none on padding
    assert abs(noise[0].std().item() - s0 / 3 ** 0.5) < 0.05 * s0  # uniform on [-s, s]: std = s / sqrt(3)


def test_neftune_loss_is_the_plain_loss_at_alpha_zero_and_noisier_above(micro, tok, data):
    batch = batch_of(tok, data[:16])
    plain = masked_nll(logits(micro, batch), batch["input_ids"], batch["loss_mask"])
    with torch.no_grad():
        assert torch.allclose(S.neftune_loss(0.0)(micro, batch), plain, atol=1e-5)
        torch.manual_seed(0)
        assert not torch.allclose(S.neftune_loss(50.0)(micro, batch), plain, atol=1e-4)


def test_fgm_step_has_size_epsilon_and_raises_the_loss(micro, tok, data):
    g = torch.randn(3, 7, 64)
    r = S.fgm_perturbation(g, 0.5)
    assert torch.allclose(r.flatten(1).norm(dim=1), torch.full((3,), 0.5))
    model = copy.deepcopy(micro)
    batch = batch_of(tok, data[:16])
    plain = masked_nll(logits(model, batch), batch["input_ids"], batch["loss_mask"]).item()
    mixed = S.fgm_loss(2.0)(model, batch).item()  # mean of clean and perturbed: above the clean loss
    assert mixed > plain
    before = copy.deepcopy(model.state_dict())
    fit(model, tok, data, epochs=1, lr=1e-2, batch_tokens=512, progress=False, loss_fn=S.fgm_loss(1.0))
    assert not torch.equal(before["model.layers.0.mlp.up_proj.weight"], model.model.layers[0].mlp.up_proj.weight)


# --------------------------------------------------------------------------------------- distillation


def test_distillation_loss_equals_torch_kl():
    torch.manual_seed(0)
    s, t = torch.randn(2, 6, 11), torch.randn(2, 6, 11)
    mask = torch.tensor([[0, 0, 1, 1, 1, 0], [0, 1, 1, 1, 1, 1]])
    T = 2.0
    kl = F.kl_div(F.log_softmax(s[:, :-1] / T, -1), F.log_softmax(t[:, :-1] / T, -1), log_target=True,
                  reduction="none").sum(-1)
    m = mask[:, 1:].float()
    reference = T * T * (kl * m).sum() / m.sum()
    assert torch.allclose(S.kd_divergence(s, t, mask, T), reference, atol=1e-6)
    assert S.kd_divergence(t, t, mask, T).abs() < 1e-6


def test_distill_loss_is_zero_for_the_teacher_itself(micro, tok, data):
    batch = batch_of(tok, data[:8])
    teacher = copy.deepcopy(micro)
    loss_fn = S.distill_loss(teacher, temperature=2.0)
    assert loss_fn(copy.deepcopy(micro), batch).abs() < 1e-5
    hard = S.distill_loss(teacher, temperature=2.0, hard_weight=1.0)(copy.deepcopy(micro), batch)
    assert torch.allclose(hard, masked_nll(logits(micro, batch), batch["input_ids"], batch["loss_mask"]), atol=1e-5)
    before = copy.deepcopy(teacher.state_dict())
    student = S.keep_layers(micro, [0])
    fit(student, tok, data[:16], epochs=1, lr=1e-2, batch_tokens=512, progress=False, loss_fn=loss_fn)
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before.items())  # the teacher is not trained
    assert teacher.model.embed_tokens.weight.grad is None


def test_keep_layers_makes_a_working_student(micro, tok, data):
    from itlib.evaluate import generate

    student = S.keep_layers(micro, [1])
    assert len(S.decoder_layers(student)) == 1 and student.config.num_hidden_layers == 1
    assert len(S.decoder_layers(micro)) == 2  # the original is untouched
    assert torch.equal(student.model.layers[0].mlp.up_proj.weight, micro.model.layers[1].mlp.up_proj.weight)
    assert len(generate(student, tok, data[:4], max_new_tokens=4)) == 4


# -------------------------------------------------------------------------------------------- Reptile


def flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_reptile_step_interpolates_towards_the_task_solution(micro, tok, data):
    task = [e for e in data if e.task == "max_digit"][:32]
    theta = flat(micro)
    phi_model = copy.deepcopy(micro)
    fit(phi_model, tok, task, epochs=1.0, lr=2e-3, warmup=0.0, batch_tokens=10**9, max_batch=8, seed=3,
        progress=False)
    phi = flat(phi_model)
    half = copy.deepcopy(micro)
    S.reptile_step(half, tok, task, epsilon=0.5, inner_batch=8, inner_lr=2e-3, seed=3)
    assert torch.allclose(flat(half), theta + 0.5 * (phi - theta), atol=1e-6)
    assert (flat(half) - phi).norm() < (theta - phi).norm()  # moved towards the task solution
    full = copy.deepcopy(micro)
    S.reptile_step(full, tok, task, epsilon=1.0, inner_batch=8, inner_lr=2e-3, seed=3)
    assert torch.allclose(flat(full), phi, atol=1e-6)  # epsilon = 1 is plain fine-tuning


def test_reptile_visits_every_task_and_lowers_their_loss(micro, tok, data):
    from itlib.formats import render

    model = copy.deepcopy(micro)
    batch = collate([render(e, tok) for e in data], tok.pad_token_id)
    before = masked_nll(logits(model, batch), batch["input_ids"], batch["loss_mask"])
    result = S.reptile(model, tok, data, meta_steps=6, inner_steps=2, inner_batch=8, inner_lr=5e-3, meta_lr=1.0,
                       progress=False)
    after = masked_nll(logits(model, batch), batch["input_ids"], batch["loss_mask"])
    assert sorted(set(result.tasks)) == ["max_digit", "reverse"] and len(result.losses) == 6
    assert result.tasks[:2] != [result.tasks[0]] * 2  # the first round visits each task once
    assert after < before - 0.5


# ------------------------------------------------------------------------------------ new-token rows


def test_unseen_tokens_and_training_only_their_embedding_rows(micro, tok, data):
    docs = ["Leo has 3 red cats and a dog.", "Mia likes the blue owl."]
    new = S.unseen_token_ids(tok, data, docs)
    seen_in_docs = set(tok(docs, add_special_tokens=False)["input_ids"][0])
    assert new and not set(new) & seen_in_docs
    assert tok.convert_tokens_to_ids("Instruction") in new  # the template is new to prose
    model = S.train_embedding_rows(S.freeze_all(copy.deepcopy(micro)), new)
    assert S.trainable(model)[0] == len(new) * 64
    before = model.model.embed_tokens.weight.detach().clone()
    fit(model, tok, data, epochs=1, lr=1e-2, batch_tokens=512, progress=False)
    after = model.model.embed_tokens.weight.detach()
    changed = (after != before).any(dim=1).nonzero().flatten().tolist()
    assert changed and set(changed) <= set(new)
    S.freeze_all(model)  # freezing again removes the row hook
    assert S.trainable(model)[0] == 0 and not hasattr(model.model.embed_tokens.weight, "_itlib_row_hook")
