import json

import pytest

from itlib.cli import main
from itlib.data import Example, save_examples


@pytest.fixture
def user_file(tmp_path):
    exs = [Example("Reverse the list.", f"{a} {b}", f"{b} {a}") for a in range(8) for b in range(8)]
    return save_examples(exs, tmp_path / "mine.jsonl")


def test_train_on_own_data_writes_folder_and_metrics(tmp_path, user_file, capsys):
    out = tmp_path / "run"
    code = main(["train", "--out", str(out), "--data", str(user_file), "--base", "none", "--size", "micro",
                 "--epochs", "1", "--device", "cpu"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"exact_match", "per_task", "train_seconds"} <= set(metrics)
    assert metrics["n_train"] == 58  # 64 records, 10 % held out
    assert (out / "model.safetensors").exists() and (out / "tokenizer.json").exists()
    assert main(["eval", "--model", str(out), "--data", str(user_file)]) == 0
    printed = capsys.readouterr().out
    assert printed.count('"exact_match"') == 2  # once from train, once from eval


def test_refuses_to_overwrite(tmp_path, user_file, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["train", "--out", str(out), "--data", str(user_file), "--base", "none"]) == 2
    assert "not written by itlib" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("args, message", [
    (["train", "--out", "x", "--data", "missing.jsonl"], "missing.jsonl"),
    (["eval", "--model", "./no-such-folder"], "no-such-folder"),
])
def test_bad_paths_exit_2_with_a_clear_message(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_record_names_file_record_and_field(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "a", "output": 3}\n')
    assert main(["train", "--out", str(tmp_path / "o"), "--data", str(bad), "--base", "none"]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl" in err and "record 2" in err and "output" in err


def test_bad_arguments_exit_2():
    with pytest.raises(SystemExit) as e:
        main(["train"])  # --out missing
    assert e.value.code == 2


def test_base_can_be_any_local_hf_folder(tmp_path, user_file, capsys):
    """--base PATH starts from a user's own Hugging Face causal LM folder (here: a GPT-2-style one)."""
    from itlib.models import build_model, save_model
    from itlib.pipeline import default_tokenizer

    tok = default_tokenizer()
    mine = save_model(build_model(tok, arch="gpt2", size="micro", seed=3), tok, tmp_path / "my-lm")
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--data", str(user_file), "--base", str(mine), "--epochs", "1",
                 "--device", "cpu"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["base"] == str(mine)
    assert json.loads((out / "config.json").read_text())["model_type"] == "gpt2"


@pytest.mark.parametrize("base, expected", [("none", 3750), ("default", 1000)])
def test_training_examples_per_task_follow_the_recipe(tmp_path, monkeypatch, base, expected):
    """From scratch trains on more fresh examples (one pass) than tuning the base (2 passes)."""
    from itlib import pipeline

    seen = {}

    def stop(n_train_per_task, seed=0):
        seen["n"] = n_train_per_task
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "suite_data", stop)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run_training(tmp_path / "o", base=base)
    assert seen["n"] == expected
