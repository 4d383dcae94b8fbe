"""Reliability: long inputs, Unicode end to end, determinism of metrics, broken or missing checkpoints.
(Bad data files: tests/test_data_bad_records.py; interruption and resume: tests/test_train.py;
atomic writes: tests/test_data.py; offline: the autouse fixture in conftest.py.)"""

import socket

import pytest
import torch
from safetensors.torch import load_file

from itlib.data import Example
from itlib.evaluate import evaluate, generate
from itlib.formats import render
from itlib.models import build_model, load_model, save_model
from itlib.train import CheckpointError, FitResult, fit, load_checkpoint, make_optimizer, save_checkpoint


def reverse_data(n=64, seed=0):
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        xs = [str(rng.randint(0, 9)) for _ in range(rng.randint(2, 5))]
        out.append(Example("Reverse the list.", " ".join(xs), " ".join(xs[::-1])))
    return out


def test_network_is_blocked_inside_tests():
    with pytest.raises(RuntimeError, match="network access attempted"):
        socket.create_connection(("example.org", 80), timeout=1)


def test_training_sequences_longer_than_the_context_are_cut_with_a_warning(tokenizer):
    model = build_model(tokenizer, size="micro", max_len=48)
    data = reverse_data(8) + [Example("Reverse the list.", " ".join("7" * 40), " ".join("7" * 40))]
    with pytest.warns(UserWarning, match=r"1 of 9 training sequences are longer than the model's context of 48"):
        res = fit(model, tokenizer, data, epochs=1, batch_tokens=256, device="cpu", progress=False)
    assert res.steps >= 1 and all(torch.isfinite(torch.tensor(res.losses)))


def test_prompts_longer_than_the_context_keep_their_end_with_a_warning(tokenizer):
    model = build_model(tokenizer, size="micro", max_len=40)
    long = Example("Reverse the list.", " ".join("12345678" * 10), "x")
    with pytest.warns(UserWarning, match=r"1 of 2 prompts are longer than the model's context of 40"):
        answers = generate(model, tokenizer, [reverse_data(1)[0], long], max_new_tokens=8)
    assert len(answers) == 2


def test_unicode_survives_data_tokenizer_model_generation_decode(tokenizer):
    """Chinese, emoji and mixed scripts: a model that memorises them gives them back exactly."""
    pairs = [("红 蓝", "🙂 红蓝"), ("猫 and 狗", "🐱🐶 ok"), ("Ünïcödé", "ёжик 🦔"), ("naïve", "café ☕")]
    data = [Example("Translate to emoji:", x, y) for x, y in pairs] * 16
    for ex in data[:4]:  # lossless rendering: the answer tokens decode to the answer
        r = render(ex, tokenizer)
        answer = [t for t, m in zip(r.input_ids, r.loss_mask) if m][:-1]  # minus EOS
        assert tokenizer.decode(answer) == ex.output
    model = build_model(tokenizer, size="micro")
    fit(model, tokenizer, data, epochs=30, lr=3e-3, batch_tokens=512, device="cpu", progress=False)
    assert generate(model, tokenizer, data[:4]) == [y for _, y in pairs]


def test_same_seed_gives_identical_losses_and_metrics(tokenizer):
    runs = []
    for _ in range(2):
        model = build_model(tokenizer, size="micro", seed=1)
        res = fit(model, tokenizer, reverse_data(), epochs=2, batch_tokens=256, seed=3, device="cpu",
                  progress=False)
        report = evaluate(model, tokenizer, reverse_data(16, seed=9))
        runs.append((res.losses, report["exact_match"], report["predictions"]))
    assert runs[0] == runs[1]


def test_interrupted_fit_leaves_a_loadable_checkpoint(tokenizer, tmp_path):
    def interrupt_at_step_4(model, calls=[0]):  # noqa: B006 - a counter across calls
        calls[0] += 1
        if calls[0] == 4:
            raise KeyboardInterrupt
        return torch.zeros(())

    model = build_model(tokenizer, size="micro")
    with pytest.raises(KeyboardInterrupt):
        fit(model, tokenizer, reverse_data(), epochs=2, batch_tokens=256, device="cpu", progress=False,
            checkpoint_dir=tmp_path, penalty=interrupt_at_step_4)
    assert [p.name for p in tmp_path.iterdir()] == ["step-3"]  # the steps done, no temp folder
    fresh = build_model(tokenizer, size="micro", seed=5)
    fresh.load_state_dict(load_file(tmp_path / "step-3" / "model.safetensors"), strict=False)
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)


def test_missing_checkpoint_file_falls_back_and_all_broken_is_a_clear_error(tokenizer, tmp_path):
    model = build_model(tokenizer, size="micro")
    fit(model, tokenizer, reverse_data(), epochs=1, batch_tokens=256, device="cpu", progress=False,
        checkpoint_dir=tmp_path, checkpoint_every=2)
    newest, older = sorted(tmp_path.glob("step-*"), key=lambda p: -int(p.name[5:]))[:2]
    (newest / "optim.pt").unlink()
    optim = make_optimizer(list(model.parameters()), 1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: 1.0)
    with pytest.warns(UserWarning, match=f"{newest.name}: FileNotFoundError"):
        assert load_checkpoint(tmp_path, model, optim, sched, FitResult()) == int(older.name[5:])
    (older / "model.safetensors").write_bytes(b"\x00" * 10)  # truncated
    with pytest.raises(CheckpointError, match=r"no readable checkpoint in .*step-\d+: .*step-\d+: "):
        load_checkpoint(tmp_path, model, optim, sched, FitResult())


def test_a_failed_checkpoint_write_keeps_the_previous_one(tokenizer, tmp_path, monkeypatch):
    model = build_model(tokenizer, size="micro")
    optim = make_optimizer(list(model.parameters()), 1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: 1.0)
    good = save_checkpoint(tmp_path, model, optim, sched, FitResult(steps=1))

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr("itlib.train.save_file", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(tmp_path, model, optim, sched, FitResult(steps=2))
    assert [p.name for p in tmp_path.glob("step-*")] == [good.name]
    assert load_checkpoint(tmp_path, model, optim, sched, FitResult()) == 1


def test_saved_model_folder_is_never_half_written(tokenizer, tmp_path, monkeypatch):
    model = build_model(tokenizer, size="micro")
    save_model(model, tokenizer, tmp_path / "m")
    with pytest.raises(FileExistsError):
        save_model(model, tokenizer, tmp_path / "m")
    before = sorted(p.name for p in (tmp_path / "m").iterdir())

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(type(tokenizer), "save_pretrained", crash)
    with pytest.raises(OSError, match="disk full"):
        save_model(model, tokenizer, tmp_path / "m", overwrite=True)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == before  # the old folder, untouched
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folder left behind
    assert load_model(tmp_path / "m")[0].num_parameters() == model.num_parameters()
