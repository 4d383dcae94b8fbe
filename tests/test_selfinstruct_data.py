"""The Self-Instruct seed tasks ship inside the package (with their licence and source note) and load from
there; nothing in notebooks 00-03 reads a path outside the repository. Also: nb01's reworked exercises agree
with the library (per-example loss -> training loss; labels from prompt lengths -> transformers' loss)."""

import re
from pathlib import Path

import pytest
import torch

from itlib import selfinstruct as si
from itlib.data import DataError

ROOT = Path(__file__).resolve().parents[1]


def test_seed_tasks_ship_in_the_package_with_licence_and_source():
    folder = si.SEED_TASKS_FILE.parent
    assert folder.is_relative_to(ROOT / "itlib")
    assert "Apache License" in (folder / "LICENSE").read_text(encoding="utf-8")
    assert "Self-Instruct" in (folder / "SOURCE.md").read_text(encoding="utf-8")
    records = si.load_seed_tasks()
    assert len(records) == 175
    assert all(r["instruction"].strip() and r["instances"] for r in records)


def test_seed_task_examples_expand_every_instance():
    records = si.load_seed_tasks()
    examples = si.seed_task_examples()
    assert len(examples) == sum(len(r["instances"]) for r in records)
    assert {e.kind for e in examples} == {"generation", "classification"}
    assert sum(e.kind == "classification" for e in examples) == sum(
        len(r["instances"]) for r in records if r["is_classification"])


def test_bad_seed_file_names_file_record_and_field(tmp_path):
    bad = tmp_path / "seeds.jsonl"
    bad.write_text('{"instruction": "Say hi.", "instances": [{"input": "", "output": "hi"}], '
                   '"is_classification": false}\n{"instruction": "x", "instances": "oops", '
                   '"is_classification": false}\n', encoding="utf-8")
    with pytest.raises(DataError) as err:
        si.load_seed_tasks(bad)
    assert (err.value.record, err.value.field) == (2, "instances")
    with pytest.raises(DataError, match="not found"):
        si.load_seed_tasks(tmp_path / "missing.jsonl")


@pytest.mark.parametrize("name", ["00_overview", "01_formats", "02_data", "03_interactions"])
def test_exercise_alias_is_ex_and_no_other_ex(name):
    text = (ROOT / "notebooks" / "src" / f"{name}.py").read_text(encoding="utf-8")
    nb = name[:2]
    assert f"from itlib.exercises import nb{nb} as ex\n" in text
    assert not re.search(r"^\s*ex\s*=", text, re.M), "a variable named ex shadows the exercises"
    assert not re.search(rf"\bex{nb}\b", text)


def test_nb01_q2_per_example_losses_weighted_by_tokens_give_the_training_loss():
    from itlib.exercises import nb01
    from itlib.train import masked_nll

    logits, ids, mask = nb01._test_batch()
    per_example = nb01.q2.solution_value()(logits, ids, mask)
    n = mask[:, 1:].sum(1)
    assert per_example.shape == (2,)
    assert torch.allclose((per_example * n).sum() / n.sum(), masked_nll(logits, ids, mask))


def test_nb01_q3_labels_from_prompt_lengths_equal_labels_from_the_loss_mask(tokenizer):
    from itlib.exercises import nb01
    from itlib.formats import render
    from itlib.tasks import make_examples
    from itlib.train import collate

    examples = make_examples(["sort_ascending", "sentiment"], n_per_task=3, seed=0)
    rendered = [render(e, tokenizer, "prefix") for e in examples]
    batch = collate(rendered, tokenizer.pad_token_id)
    lens = torch.tensor([r.prompt_len for r in rendered])
    labels = nb01.q3.solution_value()(batch["input_ids"], batch["attention_mask"], lens)
    assert torch.equal(labels, batch["input_ids"].masked_fill(batch["loss_mask"] == 0, -100))


def test_insertion_layout_puts_the_instruction_inside_the_input(tokenizer):
    from itlib.data import Example
    from itlib.formats import insertion_text, prompt_text, render

    e = Example("Sort the numbers.", "7 2 9 4", "2 4 7 9")
    assert insertion_text(e) == "7 2 [Sort the numbers.] 9 4"
    assert insertion_text(e, at=0) == "[Sort the numbers.] 7 2 9 4"
    assert insertion_text(e, at=9) == "7 2 9 4 [Sort the numbers.]"
    assert prompt_text(Example("Say hi.", "", "hi"), "insertion") == "[Say hi.]\nAnswer:\n"
    r = render(e, tokenizer, "insertion")
    answer = tokenizer(e.output, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert [t for t, m in zip(r.input_ids, r.loss_mask) if m] == answer
