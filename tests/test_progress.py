"""itlib.progress: a live tqdm bar for learners; headless, no bar and one summary line."""

import re

import pytest
from tqdm.std import tqdm as std_tqdm

from itlib import progress


@pytest.fixture
def live(monkeypatch):
    monkeypatch.delenv("ITLIB_HEADLESS", raising=False)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)


@pytest.fixture
def headless(monkeypatch):
    monkeypatch.setenv("ITLIB_HEADLESS", "1")


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("yes", True), ("", False),
                                             ("0", False), ("false", False), ("off", False)])
def test_headless_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("ITLIB_HEADLESS", value)
    assert progress.headless() is expected


def test_headless_when_unset(monkeypatch):
    monkeypatch.delenv("ITLIB_HEADLESS", raising=False)
    assert progress.headless() is False


def test_live_is_a_real_tqdm_bar(live, capsys):
    b = progress.bar(total=3, desc="fit", file=None)
    assert isinstance(b.tqdm, std_tqdm) and not b.tqdm.disable
    for _ in range(3):
        b.update(1)
    b.set_postfix(loss="0.500")
    assert b.tqdm.n == 3 and b.n == 3
    b.close()
    out = capsys.readouterr()
    assert "fit: 3/3 steps" not in out.out, "a live run draws the bar and prints no summary line"
    assert "fit" in out.err and "3/3" in out.err, "the bar itself (on stderr outside a notebook)"


def test_live_disabled_by_caller_is_silent(live, capsys):
    b = progress.bar(range(4), desc="fit", disable=True)
    assert list(b) == [0, 1, 2, 3]
    assert capsys.readouterr() == ("", "")


def test_headless_disables_the_bar_and_prints_one_summary(headless, capsys):
    b = progress.bar(total=5, desc="fit", leave=False, mininterval=0.5)
    assert b.tqdm.disable, "headless: no tqdm bar (a widget's saved text form would stay at 0%|)"
    for i in range(5):
        b.update(1)
        b.set_postfix(loss=f"{1 / (i + 1):.3f}", refresh=False)
    b.close(loss=0.12345)
    b.close()  # a second close prints nothing more
    out = capsys.readouterr()
    assert out.err == ""
    lines = out.out.splitlines()
    assert len(lines) == 1
    assert re.fullmatch(r"fit: 5/5 steps in \d+\.\d s, final loss 0\.123", lines[0]), lines[0]


def test_headless_summary_uses_the_last_postfix_loss_and_resumed_count(headless, capsys):
    b = progress.bar(total=10, initial=6, desc="fit")
    for _ in range(4):
        b.update(1)
    b.set_postfix(loss="0.042")
    b.close()
    assert re.fullmatch(r"fit: 10/10 steps in \d+\.\d s, final loss 0\.042\n", capsys.readouterr().out)


def test_headless_iteration_counts_items(headless, capsys):
    items = list(progress.bar(["a", "b", "c"], desc="fisher", noun="examples"))
    assert items == ["a", "b", "c"]
    assert re.fullmatch(r"fisher: 3/3 examples in \d+\.\d s\n", capsys.readouterr().out)


def test_headless_caller_disabled_or_no_summary_prints_nothing(headless, capsys):
    list(progress.bar(range(3), desc="fit", disable=True))
    list(progress.bar(range(3), desc="generate", summary=False))
    with progress.bar(total=2, desc="ctx", disable=True) as b:
        b.update(2)
    assert capsys.readouterr() == ("", "")


def test_headless_env_adds_the_switches():
    env = progress.headless_env({"PATH": "/bin", "ITLIB_HEADLESS": "0"})
    assert env["PATH"] == "/bin"
    assert env["ITLIB_HEADLESS"] == "1" and env["TQDM_DISABLE"] == "1"
    assert env["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1"


def test_fit_prints_its_summary_when_headless(headless, capsys, tokenizer):
    from itlib.data import Example
    from itlib.models import build_model
    from itlib.train import fit

    data = [Example("Reverse the list.", f"{a} {b}", f"{b} {a}") for a in range(4) for b in range(4)]
    res = fit(build_model(tokenizer, size="micro"), tokenizer, data, epochs=1, batch_tokens=128, device="cpu",
              progress=True)
    assert res.steps > 1
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(rf"fit: {res.steps}/{res.steps} steps in \d+\.\d s, final loss {res.losses[-1]:.3f}",
                        line), line
