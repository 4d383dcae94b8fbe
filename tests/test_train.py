import pytest
import torch

from itlib.data import Example
from itlib.formats import render
from itlib.models import build_model
from itlib.train import collate, fit, length_grouped_batches, lr_factor, masked_nll


def tiny_data(n=64):
    import random

    rng = random.Random(0)
    out = []
    for _ in range(n):
        xs = [str(rng.randint(0, 9)) for _ in range(rng.randint(2, 5))]
        out.append(Example("Reverse the list.", " ".join(xs), " ".join(xs[::-1])))
    return out


def test_masked_nll_equals_transformers_loss(tokenizer):
    model = build_model(tokenizer, size="micro")
    batch = collate([render(ex, tokenizer) for ex in tiny_data(6)], tokenizer.pad_token_id)
    labels = batch["input_ids"].masked_fill(batch["loss_mask"] == 0, -100)
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels)
    ours = masked_nll(out.logits, batch["input_ids"], batch["loss_mask"])
    torch.testing.assert_close(ours, out.loss)


def test_padding_efficiency_over_90_percent(tokenizer):
    from itlib.tasks import make_examples

    rendered = [render(ex, tokenizer) for ex in make_examples(n_per_task=50)]
    lengths = [len(r.input_ids) for r in rendered]
    batches = length_grouped_batches(lengths, 2048, 128, torch.Generator().manual_seed(0))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))  # every example once
    real = sum(lengths)
    slots = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    assert real / slots >= 0.9
    assert all(max(lengths[i] for i in b) * len(b) <= 2048 for b in batches)


def test_lr_schedule_warms_up_then_decays():
    f = [lr_factor(s, 100, 10) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:]))
    assert f[-1] == pytest.approx(0.1, abs=0.01)


def test_two_seeded_cpu_runs_give_identical_losses(tokenizer):
    runs = []
    for _ in range(2):
        model = build_model(tokenizer, size="micro", seed=1)
        runs.append(fit(model, tokenizer, tiny_data(), epochs=2, batch_tokens=256, seed=3, device="cpu",
                        progress=False).losses)
    assert runs[0] == runs[1]
    other = fit(build_model(tokenizer, size="micro", seed=1), tokenizer, tiny_data(), epochs=2, batch_tokens=256,
                seed=4, device="cpu", progress=False).losses
    assert other != runs[0]


def test_training_lowers_the_loss(tokenizer):
    model = build_model(tokenizer, size="micro")
    res = fit(model, tokenizer, tiny_data(128), epochs=4, batch_tokens=512, device="cpu", progress=False)
    assert sum(res.losses[-5:]) / 5 < 0.6 * sum(res.losses[:5]) / 5
    assert res.padding_efficiency > 0.9


def test_resume_gives_the_same_final_weights(tokenizer, tmp_path):
    kw = dict(epochs=2, batch_tokens=256, seed=0, device="cpu", progress=False)
    straight = build_model(tokenizer, size="micro")
    fit(straight, tokenizer, tiny_data(), **kw)

    class Stop(Exception):
        pass

    interrupted = build_model(tokenizer, size="micro")
    calls = {"n": 0}

    def stop_after_5(model):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return torch.zeros(())

    with pytest.raises(KeyboardInterrupt):
        fit(interrupted, tokenizer, tiny_data(), checkpoint_dir=tmp_path, penalty=stop_after_5, **kw)
    assert (tmp_path / "step-5" / "model.safetensors").exists()
    resumed = build_model(tokenizer, size="micro", seed=123)  # different init: everything comes from the checkpoint
    res = fit(resumed, tokenizer, tiny_data(), checkpoint_dir=tmp_path, resume=True, **kw)
    assert res.steps > 5
    for (n, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), n


def test_broken_newest_checkpoint_falls_back_to_the_previous(tokenizer, tmp_path):
    kw = dict(epochs=1, batch_tokens=256, seed=0, device="cpu", progress=False)
    model = build_model(tokenizer, size="micro")
    fit(model, tokenizer, tiny_data(), checkpoint_dir=tmp_path, checkpoint_every=2, **kw)
    ckpts = sorted(tmp_path.glob("step-*"), key=lambda p: int(p.name[5:]))
    assert len(ckpts) == 2
    (ckpts[-1] / "model.safetensors").write_bytes(b"truncated")
    with pytest.warns(UserWarning, match="skipped unreadable checkpoints"):
        res = fit(build_model(tokenizer, size="micro"), tokenizer, tiny_data(), checkpoint_dir=tmp_path,
                  resume=True, **kw)
    assert res.steps == int(ckpts[-1].name[5:])
