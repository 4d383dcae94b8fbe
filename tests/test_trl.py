"""itlib.sft: TRL's SFTTrainer builds exactly `formats.render`'s token ids and loss masks (prefix with
completion_only_loss, chat with assistant_only_loss), and the loss it minimises is `train.masked_nll`."""

import copy

import pytest
import torch

import itlib
from itlib.data import Example
from itlib.formats import render
from itlib.pipeline import suite_data
from itlib.sft import TRL_OPTION, compare_masks, make_trainer, to_trl_records, trl_masks
from itlib.train import collate, masked_nll

pytest.importorskip("trl")


@pytest.fixture(scope="module")
def base():
    return itlib.load_base()


@pytest.fixture(scope="module")
def examples():
    return suite_data(n_train_per_task=3, n_test_per_task=1, seed=0)["train"][:40]


@pytest.mark.parametrize("fmt", ["prefix", "chat"])
def test_trl_masks_equal_render(base, examples, fmt):
    model, tok = copy.deepcopy(base[0]), copy.deepcopy(base[1])
    report = compare_masks(model, tok, examples, fmt)
    assert report["option"] == TRL_OPTION[fmt]
    assert (report["n"], report["same_ids"], report["same_mask"], report["same"]) == (40, 40, 40, 40), \
        report["first_difference"]
    assert report["first_difference"] is None


@pytest.mark.parametrize("fmt", ["prefix", "chat"])
def test_a_mask_shifted_by_one_token_fails_the_comparison(base, examples, fmt):
    model, tok = copy.deepcopy(base[0]), copy.deepcopy(base[1])
    report = compare_masks(model, tok, examples, fmt, shift=1)
    assert report["same_ids"] == 40 and report["same_mask"] == 0 and report["same"] == 0
    diff = report["first_difference"]
    assert diff["index"] == 0 and diff["trl_mask"] != diff["itlib_mask"]


def test_trl_loss_is_the_masked_nll(base, examples, tmp_path):
    """The labels TRL writes (-100 outside the answer), shifted inside the model, give the same number as
    masked_nll with render's loss mask."""
    model, tok = copy.deepcopy(base[0]), copy.deepcopy(base[1])
    trainer = make_trainer(model, tok, examples[:8], "prefix", str(tmp_path))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(8)])
    ours = collate([render(ex, tok, "prefix") for ex in examples[:8]], tok.pad_token_id)
    assert torch.equal(batch["input_ids"][batch["attention_mask"] == 1], ours["input_ids"][ours["attention_mask"] == 1])
    model.eval()
    with torch.no_grad():
        hf_loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
        logits = model(input_ids=ours["input_ids"], attention_mask=ours["attention_mask"]).logits
    assert hf_loss.item() == pytest.approx(masked_nll(logits, ours["input_ids"], ours["loss_mask"]).item(), rel=1e-5)


def test_records_and_their_errors(base):
    _, tok = base
    ex = Example("Reverse the list.", "4 1 8", "8 1 4")
    (pc,) = to_trl_records([ex], "prefix", tok)
    assert pc == {"prompt": tok.bos_token + "Instruction: Reverse the list.\nInput: 4 1 8\nAnswer:\n",
                  "completion": "8 1 4"}
    (chat,) = to_trl_records([ex], "chat", tok)
    assert [m["role"] for m in chat["messages"]] == ["user", "assistant"]
    with pytest.raises(ValueError, match="covers prefix, chat"):
        to_trl_records([ex], "seq2seq", tok)
    talk = Example("And now sort it.", "", "1 4 8", history=(("user", "Reverse 4 1 8."), ("assistant", "8 1 4")))
    with pytest.raises(ValueError, match="example 0 is a conversation"):
        to_trl_records([talk], "prefix", tok)


def test_a_conversation_trains_on_every_assistant_turn(base, tmp_path):
    model, tok = copy.deepcopy(base[0]), copy.deepcopy(base[1])
    talk = Example("And now sort it.", "", "1 4 8", history=(("user", "Reverse 4 1 8."), ("assistant", "8 1 4")))
    trainer = make_trainer(model, tok, [talk], "chat", str(tmp_path))
    ((ids, mask),) = trl_masks(trainer)
    ours = render(talk, tok, "chat")
    assert ids == ours.input_ids and mask == ours.loss_mask
    assert sum(mask) == len(tok("8 1 4", add_special_tokens=False)["input_ids"]) + len(
        tok("1 4 8", add_special_tokens=False)["input_ids"]) + 2  # both replies and their EOS


def test_compare_with_trl_runs_both_trainers_offline():
    """A tiny side-by-side run (the notebook's is bigger): same steps on both sides, no network (conftest)."""
    from itlib.sft import compare_with_trl

    out = compare_with_trl(n_train_per_task=4, n_test_per_task=3, epochs=1, batch_size=16, threads=1)
    assert (out["fmt"], out["n_train"], out["n_test"]) == ("prefix", 64, 48)
    assert [run["trainer"] for run in out["runs"]] == ["itlib.train.fit", "trl.SFTTrainer"]
    assert [run["steps"] for run in out["runs"]] == [4, 4]
    for run in out["runs"]:
        assert run["seconds"] > 0 and run["final_loss"] == run["final_loss"]  # not NaN
        assert 0 <= run["exact_match"] <= 1 and len(run["correct"]) == 48
