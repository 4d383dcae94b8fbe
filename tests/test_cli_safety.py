"""Nothing of the user's is ever lost, and no failed run looks like a success (CLI, save_model,
checkpoints, ratings). Every test makes its own files in a temporary folder."""

import json
import os
import signal

import pytest
import torch
from safetensors.torch import load_file

from itlib.cli import main
from itlib.data import Example, save_examples
from itlib.files import MANIFEST, is_itlib_output, strict_json

FAST = ["--base", "none", "--size", "micro", "--epochs", "1", "--device", "cpu"]


@pytest.fixture
def user_file(tmp_path):
    exs = [Example("Reverse the list.", f"{a} {b}", f"{b} {a}") for a in range(8) for b in range(8)]
    return save_examples(exs, tmp_path / "mine.jsonl")


def users_project(folder):
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes")
    (folder / "sub").mkdir()
    (folder / "sub" / "main.py").write_text("print('mine')")
    return folder


def test_overwrite_never_deletes_a_folder_itlib_did_not_write(tmp_path, user_file, capsys):
    project = users_project(tmp_path / "project")
    code = main(["train", "--out", str(project), "--data", str(user_file), "--overwrite", *FAST])
    assert code == 2
    err = capsys.readouterr().err
    assert "not written by itlib" in err and "notes.txt" in err
    assert (project / "notes.txt").read_text() == "my notes" and (project / "sub" / "main.py").exists()


def test_overwrite_replaces_itlibs_own_folder_and_leaves_user_siblings(tmp_path, user_file):
    out = tmp_path / "run"
    sibling = users_project(tmp_path / ".run.old")  # a name the old code used as its fixed backup
    assert main(["train", "--out", str(out), "--data", str(user_file), *FAST]) == 0
    assert is_itlib_output(out) and json.loads((out / MANIFEST).read_text())["state"] == "complete"
    assert not (out / "checkpoints").exists()  # removed once the model is saved
    assert main(["train", "--out", str(out), "--data", str(user_file), *FAST]) == 2  # no --overwrite
    assert main(["train", "--out", str(out), "--data", str(user_file), "--overwrite", *FAST]) == 0
    assert (sibling / "notes.txt").read_text() == "my notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.old", "mine.jsonl", "run"]  # no backup left


def test_save_model_refuses_to_replace_a_foreign_folder(tmp_path):
    from itlib.models import build_model, save_model
    from itlib.pipeline import default_tokenizer

    tok = default_tokenizer()
    model = build_model(tok, size="micro")
    project = users_project(tmp_path / "project")
    with pytest.raises(FileExistsError, match="not written by itlib"):
        save_model(model, tok, project, overwrite=True)
    assert (project / "sub" / "main.py").exists()
    folder = save_model(model, tok, tmp_path / "m", metrics={"exact_match": 0.5})
    (folder / "mine.txt").write_text("added by the user")  # now it is no longer only itlib's
    with pytest.raises(FileExistsError, match="not written by itlib"):
        save_model(model, tok, folder, overwrite=True)


def test_a_diverged_run_fails_and_saves_nothing(tmp_path, user_file, capsys):
    out = tmp_path / "run"
    code = main(["train", "--out", str(out), "--data", str(user_file), "--lr", "1e30", *FAST])
    assert code == 1
    err = capsys.readouterr().err
    assert "diverged at step" in err and "no model was saved" in err
    assert not (out / "model.safetensors").exists() and not (out / "metrics.json").exists()
    manifest = json.loads((out / MANIFEST).read_text())  # strict JSON: json.loads would accept NaN, so check
    assert manifest["state"] == "failed" and "NaN" not in (out / MANIFEST).read_text()


def test_json_itlib_writes_is_strict():
    assert strict_json({"a": 1.5}) == '{"a": 1.5}'
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="non-finite.*loss"):
            strict_json({"loss": bad})


def test_output_problems_are_found_before_training(tmp_path, user_file, monkeypatch, capsys):
    import itlib.pipeline

    monkeypatch.setattr(itlib.pipeline, "tune", lambda *a, **k: pytest.fail("trained before checking --out"))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["train", "--out", str(blocker / "run"), "--data", str(user_file), *FAST]) == 2
    assert main(["train", "--out", str(blocker), "--data", str(user_file), *FAST]) == 2
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--out", ".", "--data", str(user_file), *FAST]) == 2
    assert main(["train", "--out", "..", "--data", str(user_file), *FAST]) == 2
    err = capsys.readouterr().err
    assert "a-file" in err and "current folder or one of its parents" in err and "Traceback" not in err


@pytest.mark.parametrize("flag, value", [("--epochs", "0"), ("--epochs", "-1"), ("--epochs", "inf"),
                                         ("--epochs", "nan"), ("--lr", "0"), ("--lr", "-1"), ("--lr", "nan"),
                                         ("--n-train", "0"), ("--n-train", "1.5"), ("--seed", "-3"),
                                         ("--checkpoint-every", "-1")])
def test_numeric_arguments_have_a_stated_range(flag, value, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--out", "x", flag, value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}:" in err and ("must be" in err or "expected" in err)


def test_fit_refuses_zero_epochs_and_learning_rate():
    from itlib.train import fit

    for kw in ({"epochs": 0}, {"lr": 0.0}, {"epochs": float("inf")}):
        with pytest.raises(ValueError, match="finite number > 0"):
            fit(None, None, [Example("a", "b", "c")], **kw)


@pytest.mark.parametrize("device", ["bogus", "cuda:7"])
def test_an_unavailable_device_is_one_line_naming_what_is_available(device, tmp_path, user_file, capsys):
    assert main(["train", "--out", str(tmp_path / "r"), "--data", str(user_file), *FAST[:-2], "--device", device]) == 2
    err = capsys.readouterr().err
    assert f"--device {device}" in err and "available: auto, cpu" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_eval_of_a_missing_folder_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    assert main(["eval", "--model", "runs/does_not_exist"]) == 2
    err = capsys.readouterr().err
    assert "model folder runs/does_not_exist does not exist" in err and "hub" not in err


def interrupt_during_step(monkeypatch, at_step):
    """Send a real SIGINT to this process in the middle of step `at_step` (after its backward pass)."""
    import itlib.train

    original = itlib.train.check_finite

    def check_then_interrupt(step, loss, grad_norm):
        original(step, loss, grad_norm)
        if step == at_step:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(itlib.train, "check_finite", check_then_interrupt)


def test_ctrl_c_saves_a_checkpoint_and_resume_is_bit_identical(tmp_path, user_file, monkeypatch, capsys):
    straight = tmp_path / "straight"
    assert main(["train", "--out", str(straight), "--data", str(user_file), "--epochs", "2", *FAST[:4],
                 "--device", "cpu"]) == 0
    out = tmp_path / "run"
    args = ["train", "--out", str(out), "--data", str(user_file), "--epochs", "2", *FAST[:4], "--device", "cpu",
            "--checkpoint-every", "0"]
    with monkeypatch.context() as m:
        interrupt_during_step(m, 3)
        assert main(args) == 130
    err = capsys.readouterr().err
    assert "--resume" in err and "Traceback" not in err
    state = json.loads((out / "checkpoints" / "step-3" / "state.json").read_text())
    assert state["steps"] == 3 == len(state["losses"])  # the step it was in finished; step-N holds N updates
    assert main(args + ["--resume"]) == 0
    a, b = load_file(straight / "model.safetensors"), load_file(out / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_with_other_arguments_is_refused(tmp_path, user_file, monkeypatch, capsys):
    out = tmp_path / "run"
    args = ["train", "--out", str(out), "--data", str(user_file), *FAST]
    with monkeypatch.context() as m:
        interrupt_during_step(m, 2)
        assert main(args) == 130
    other = save_examples([Example("Copy.", str(i), str(i)) for i in range(20)], tmp_path / "other.jsonl")
    assert main(["train", "--out", str(out), "--data", str(other), *FAST, "--resume"]) == 2
    assert "other.jsonl" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "new"), "--data", str(user_file), *FAST, "--resume"]) == 2
    assert "no checkpoint to continue from" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()  # a failed --resume creates nothing


def test_fit_checkpoints_hold_as_many_updates_as_their_name_and_know_their_run(tmp_path, monkeypatch):
    from itlib.models import build_model
    from itlib.pipeline import default_tokenizer
    from itlib.train import CheckpointError, fit

    tok = default_tokenizer()
    data = [Example("Reverse the list.", f"{a} {b}", f"{b} {a}") for a in range(6) for b in range(6)]
    kw = {"epochs": 2, "lr": 3e-3, "batch_tokens": 128, "device": "cpu", "progress": False}
    straight = build_model(tok, size="micro", seed=1)
    fit(straight, tok, data, **kw)
    calls = {"n": 0}
    original = torch.optim.AdamW.step

    def step_then_interrupt(self, *a, **k):  # Ctrl-C lands right after the optimizer's update
        out = original(self, *a, **k)
        calls["n"] += 1
        if calls["n"] == 4:
            os.kill(os.getpid(), signal.SIGINT)
        return out

    stale = tmp_path / ".tmp-step-9-999999"  # left by a kill -9 of a process that is gone
    stale.mkdir()
    with monkeypatch.context() as m:
        m.setattr(torch.optim.AdamW, "step", step_then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            fit(build_model(tok, size="micro", seed=1), tok, data, checkpoint_dir=tmp_path, **kw)
    assert not stale.exists()
    assert [p.name for p in tmp_path.glob("step-*")] == ["step-4"]
    resumed = build_model(tok, size="micro", seed=1)
    fit(resumed, tok, data, checkpoint_dir=tmp_path, resume=True, **kw)
    for (name, x), (_, y) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(x, y), name
    with pytest.raises(CheckpointError, match="different run.*data"):
        fit(build_model(tok, size="micro", seed=1), tok, data[:-3], checkpoint_dir=tmp_path, resume=True, **kw)
    with pytest.raises(CheckpointError, match="different run.*epochs"):
        fit(build_model(tok, size="micro", seed=1), tok, data, checkpoint_dir=tmp_path, resume=True,
            **{**kw, "epochs": 3})


def test_ratings_with_a_bad_byte_name_the_line_and_the_widget_keeps_the_raters_place(tmp_path):
    from itlib.rating import Rating, RatingError, RatingItem, RatingWidget, append_rating, load_ratings

    items = [RatingItem(f"i{k}", "Sort.", "3 1", "1 3", "1 3") for k in range(4)]
    path = tmp_path / "ratings.jsonl"
    for item in items[:2]:
        append_rating(path, Rating.of(item, "ana", 4))
    with open(path, "ab") as f:
        f.write(b'{"item_id": "i2", "rater": "ana", "score": 4, "comment": "caf\xe9"}\n')
    with pytest.raises(RatingError, match=r"ratings.jsonl, line 3: not valid UTF-8 \(byte 0xe9"):
        load_ratings(path)
    with pytest.warns(UserWarning, match="line 3"):
        assert len(load_ratings(path, skip_bad=True)) == 2
    widget = RatingWidget(items, path, rater="ana")
    assert widget.index == 2  # where the rater stopped, not item 1
    assert "skipped 1 unreadable line" in widget.status.value and "line 3" in widget.status.value
    widget.save()  # no score chosen
    assert "nothing saved" in widget.status.value
    widget.prev_button.click()
    assert widget.status.value == ""  # the message about item 3 does not stay on item 2
