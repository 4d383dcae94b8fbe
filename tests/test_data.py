"""itlib.data: the Example record, lossless round trips, safe writes, and real seed data."""

import json
import os
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itlib.data import (
    CONTROL_TOKENS,
    INVISIBLE,
    KINDS,
    DataError,
    Example,
    from_dataset,
    from_messages,
    from_sharegpt,
    load_examples,
    save_examples,
    to_dataset,
    to_messages,
)
from itlib.selfinstruct import SEED_TASKS_FILE as SEED_TASKS  # shipped in the package

EXAMPLES = [
    Example("Translate to French.", "Good morning", "Bonjour", task="translate", cluster="translation",
            kind="generation", difficulty=2, template=3),
    Example("把这句话翻译成英文。", "你好，世界", "Hello, world", task="zh_en"),
    Example("Is this review positive? 🤔", "Loved it 😍🎉", "yes", kind="classification", difficulty=1,
            template=0),
    Example("Name a prime number.", "", "7"),  # empty input
    Example("Tag each word.", "a  b\tc\n", "DET\nNOUN", kind="labelling", difficulty=3),
    Example("Quote: \"x\" \\ y \u2028 z", "line1\r\nline2", "   padded   "),
]


# --- Example validation -----------------------------------------------------------------------


def test_example_defaults():
    ex = Example("Say hi.", "", "hi")
    labels = (ex.task, ex.cluster, ex.kind, ex.difficulty, ex.template)
    assert labels == ("custom", "custom", "generation", 0, -1)


def test_example_is_frozen():
    ex = Example("Say hi.", "", "hi")
    with pytest.raises(AttributeError):
        ex.output = "bye"


@pytest.mark.parametrize("kwargs, field", [
    ({"instruction": ""}, "instruction"),
    ({"instruction": "  \n\t"}, "instruction"),
    ({"instruction": 3}, "instruction"),
    ({"instruction": None}, "instruction"),
    ({"instruction": ["a"]}, "instruction"),
    ({"output": ""}, "output"),
    ({"output": 3}, "output"),
    ({"input": None}, "input"),
    ({"input": 1.5}, "input"),
    ({"output": "a\x00b"}, "output"),
    ({"task": ""}, "task"),
    ({"cluster": 0}, "cluster"),
    ({"kind": "regression"}, "kind"),
    ({"difficulty": True}, "difficulty"),
    ({"difficulty": 2.0}, "difficulty"),
    ({"difficulty": 4}, "difficulty"),
    ({"difficulty": -1}, "difficulty"),
    ({"template": False}, "template"),
    ({"template": -2}, "template"),
    ({"template": "1"}, "template"),
])
def test_example_rejects_bad_fields(kwargs, field):
    args = {"instruction": "Say hi.", "input": "", "output": "hi", **kwargs}
    with pytest.raises(DataError) as info:
        Example(**args)
    assert info.value.field == field
    assert f"field '{field}'" in str(info.value)


def test_example_error_message_reads_well():
    with pytest.raises(DataError) as info:
        Example("Say hi.", "", 3)
    assert str(info.value) == "field 'output': must be a non-empty string (got int 3)"


def test_example_accepts_all_kinds_and_empty_input():
    for kind in KINDS:
        assert Example("I", "", "Y", kind=kind).kind == kind


def test_data_error_is_a_value_error_and_keeps_its_parts():
    err = DataError("must be a non-empty string (got int 3)", path="data.jsonl", record=7, field="output")
    assert isinstance(err, ValueError)
    assert (err.path, err.record, err.field) == ("data.jsonl", 7, "output")
    assert str(err) == "data.jsonl, record 7, field 'output': must be a non-empty string (got int 3)"


def test_data_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(DataError("bad", path="a.jsonl", record=2, field="x")))
    assert (str(err), err.record, err.field) == ("a.jsonl, record 2, field 'x': bad", 2, "x")


# --- messages ---------------------------------------------------------------------------------


def test_to_messages_joins_instruction_and_input():
    msgs = to_messages(Example("Translate.", "Hello", "Bonjour"))
    assert msgs == [{"role": "user", "content": "Translate.\n\nHello"},
                    {"role": "assistant", "content": "Bonjour"}]
    assert to_messages(Example("Say hi.", "", "hi"))[0]["content"] == "Say hi."


def test_to_messages_system():
    msgs = to_messages(Example("Say hi.", "", "hi"), system="Be brief.")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant"]
    assert msgs[0]["content"] == "Be brief."


def test_from_messages_takes_last_pair_and_keeps_earlier_turns_as_history():
    msgs = [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first"}, {"role": "assistant", "content": "one"},
            {"role": "user", "content": "second"}, {"role": "assistant", "content": "two"}]
    ex = from_messages(msgs)
    assert ex == Example("second", "", "two", history=(("system", "Be brief."), ("user", "first"),
                                                       ("assistant", "one")))
    assert to_messages(ex) == msgs


def test_from_messages_round_trip():
    ex = Example("Say hi.", "", "hi 👋")
    assert from_messages(to_messages(ex)) == ex
    assert from_messages(to_messages(ex, system="sys")) == Example("Say hi.", "", "hi 👋", history=(("system", "sys"),))


def test_from_messages_names_the_bad_message():
    with pytest.raises(DataError) as info:
        from_messages([{"role": "user", "content": "hi"}, {"role": "bot", "content": "yo"}])
    assert info.value.field == "messages[1].role"
    assert "unknown role 'bot'" in str(info.value)


# --- file round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["data.json", "data.jsonl"])
def test_alpaca_round_trip_is_lossless(tmp_path, name):
    path = save_examples(EXAMPLES, tmp_path / name)
    assert path == tmp_path / name
    assert load_examples(path) == EXAMPLES


def test_alpaca_json_is_a_list_and_jsonl_one_object_per_line(tmp_path):
    doc = json.loads(save_examples(EXAMPLES, tmp_path / "a.json").read_text(encoding="utf-8"))
    assert isinstance(doc, list) and len(doc) == len(EXAMPLES)
    assert doc[1]["instruction"] == "把这句话翻译成英文。"  # written as UTF-8, not \u escapes
    lines = save_examples(EXAMPLES, tmp_path / "a.jsonl").read_text(encoding="utf-8").rstrip("\n").split("\n")
    assert len(lines) == len(EXAMPLES)
    assert set(json.loads(lines[0])) == {"instruction", "input", "output", "task", "cluster", "kind",
                                         "difficulty", "template"}


def test_messages_round_trip(tmp_path):
    path = save_examples(EXAMPLES, tmp_path / "chat.jsonl", style="messages")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").rstrip("\n").split("\n")]
    assert all(set(r) == {"messages"} for r in records)
    loaded = load_examples(path)
    assert [to_messages(ex) for ex in loaded] == [to_messages(ex) for ex in EXAMPLES]
    assert loaded[3] == Example("Name a prime number.", "", "7")


def test_messages_style_needs_jsonl(tmp_path):
    with pytest.raises(ValueError, match="jsonl"):
        save_examples(EXAMPLES, tmp_path / "chat.json", style="messages")


def test_save_rejects_unknown_style_and_extension(tmp_path):
    with pytest.raises(ValueError, match="style"):
        save_examples(EXAMPLES, tmp_path / "a.jsonl", style="sharegpt")
    with pytest.raises(ValueError, match=r"\.csv"):
        save_examples(EXAMPLES, tmp_path / "a.csv")
    with pytest.raises(TypeError, match=r"examples\[0\]"):
        save_examples([{"instruction": "x"}], tmp_path / "a.jsonl")
    assert list(tmp_path.iterdir()) == []


def test_dataset_round_trip_is_lossless():
    ds = to_dataset(EXAMPLES)
    assert ds.num_rows == len(EXAMPLES)
    assert ds.column_names == ["instruction", "input", "output", "task", "cluster", "kind", "difficulty",
                               "template"]
    assert from_dataset(ds) == EXAMPLES


def test_empty_dataset_round_trip():
    assert from_dataset(to_dataset([])) == []


def test_from_dataset_reads_messages_column():
    from datasets import Dataset

    ds = Dataset.from_list([{"messages": to_messages(ex)} for ex in EXAMPLES[:2]])
    assert [ex.output for ex in from_dataset(ds)] == ["Bonjour", "Hello, world"]


def test_from_dataset_validates_with_row_numbers():
    from datasets import Dataset

    ds = Dataset.from_dict({"instruction": ["ok", "ok", ""], "output": ["a", "b", "c"]})
    with pytest.raises(DataError) as info:
        from_dataset(ds)
    assert (info.value.record, info.value.field) == (3, "instruction")
    assert "dataset, row 3, column 'instruction'" in str(info.value)


# --- tables: Parquet, CSV, a save_to_disk folder ----------------------------------------------------

CONVERSATION = Example("Now backwards.", "", "9 7 2", task="sort", history=(
    ("system", "Answer briefly."), ("user", "Sort the numbers: 7 2 9"), ("assistant", "2 7 9")))


def test_parquet_round_trip_is_lossless(tmp_path):
    path = tmp_path / "d.parquet"
    to_dataset([*EXAMPLES, CONVERSATION]).to_parquet(str(path))
    assert load_examples(path) == [*EXAMPLES, CONVERSATION]


def test_parquet_with_only_the_alpaca_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"instruction": ["Say hi.", "把这句话翻译成英文。"], "input": ["", "你好"],
                             "output": ["hi", "Hello"]}), path)
    assert load_examples(path) == [Example("Say hi.", "", "hi"), Example("把这句话翻译成英文。", "你好", "Hello")]


def test_parquet_with_a_conversations_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "sg.parquet"
    turns = [{"from": "human", "value": "Say hi."}, {"from": "gpt", "value": "hi"}]
    pq.write_table(pa.table({"conversations": [turns, turns]}), path)
    assert load_examples(path) == [Example("Say hi.", "", "hi")] * 2


def test_csv_round_trip(tmp_path):
    import csv

    path = tmp_path / "d.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["instruction", "input", "output", "task", "cluster", "kind",
                                                    "difficulty", "template"])
        writer.writeheader()
        writer.writerows(_alpaca(ex) for ex in EXAMPLES)
    assert load_examples(path) == EXAMPLES  # quotes, newlines, tabs, emoji, Chinese, padding all kept


def _alpaca(ex):
    return {k: v for k, v in vars(ex).items() if k != "history"}


def test_csv_written_by_datasets_with_a_bom_and_empty_optional_cells(tmp_path):
    path = tmp_path / "d.csv"
    to_dataset(EXAMPLES[:3]).to_csv(str(path), index=False)
    assert load_examples(path) == EXAMPLES[:3]
    path.write_bytes(b"\xef\xbb\xbfinstruction,input,output,difficulty,template\r\nSay hi.,,7,,\r\n")
    assert load_examples(path) == [Example("Say hi.", "", "7")]  # "7" stays text; empty numbers are absent


def test_save_to_disk_folder_round_trip(tmp_path):
    from datasets import DatasetDict

    to_dataset([*EXAMPLES, CONVERSATION]).save_to_disk(str(tmp_path / "ds"))
    assert load_examples(tmp_path / "ds") == [*EXAMPLES, CONVERSATION]
    splits = DatasetDict({"train": to_dataset(EXAMPLES[:2]), "test": to_dataset(EXAMPLES[2:])})
    splits.save_to_disk(str(tmp_path / "dd"))
    assert load_examples(tmp_path / "dd") == EXAMPLES[:2]  # a DatasetDict: its 'train' split


# --- ShareGPT and multi-turn conversations ------------------------------------------------------------

SHAREGPT_MULTI = {"conversations": [
    {"from": "system", "value": "Answer briefly."},
    {"from": "human", "value": "Sort the numbers: 7 2 9"}, {"from": "gpt", "value": "2 7 9"},
    {"from": "human", "value": "Now backwards."}, {"from": "gpt", "value": "9 7 2"}]}


def test_sharegpt_single_turn_json_and_jsonl(tmp_path):
    record = {"conversations": [{"from": "human", "value": "Say hi."}, {"from": "gpt", "value": "hi"}]}
    (tmp_path / "a.json").write_text(json.dumps([record, record]), encoding="utf-8")
    (tmp_path / "a.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert load_examples(tmp_path / "a.json") == [Example("Say hi.", "", "hi")] * 2
    assert load_examples(tmp_path / "a.jsonl") == [Example("Say hi.", "", "hi")]


def test_sharegpt_system_turn_is_kept(tmp_path):
    record = {"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Say hi."},
                                {"from": "gpt", "value": "hi"}], "task": "greet"}
    (tmp_path / "a.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert load_examples(tmp_path / "a.jsonl") == [Example("Say hi.", "", "hi", task="greet",
                                                           history=(("system", "Be brief."),))]


def test_sharegpt_multi_turn_keeps_every_turn(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({**SHAREGPT_MULTI, "task": "sort"}) + "\n", encoding="utf-8")
    (ex,) = load_examples(tmp_path / "a.jsonl")
    assert ex == CONVERSATION
    assert from_sharegpt(SHAREGPT_MULTI["conversations"]) == Example("Now backwards.", "", "9 7 2",
                                                                     history=CONVERSATION.history)
    assert [m["content"] for m in to_messages(ex)] == [t["value"] for t in SHAREGPT_MULTI["conversations"]]


def test_multi_turn_example_trains_on_every_assistant_turn(tmp_path, tokenizer):
    from itlib.formats import render

    (tmp_path / "a.json").write_text(json.dumps([SHAREGPT_MULTI]), encoding="utf-8")
    (ex,) = load_examples(tmp_path / "a.json")
    r = render(ex, tokenizer, "chat")
    trained = tokenizer.decode([t for t, m in zip(r.input_ids, r.loss_mask) if m])
    assert trained == "2 7 9</s>9 7 2</s>"
    assert tokenizer.decode([t for t, m in zip(r.input_ids, r.loss_mask) if not m]) == (
        "<s><|system|>\nAnswer briefly.\n<|user|>\nSort the numbers: 7 2 9\n<|assistant|>\n"
        "<|user|>\nNow backwards.\n<|assistant|>\n")


@pytest.mark.parametrize("name, style", [("a.json", "alpaca"), ("a.jsonl", "alpaca"), ("m.jsonl", "messages")])
def test_conversations_round_trip_through_files_and_datasets(tmp_path, name, style):
    batch = [EXAMPLES[0], CONVERSATION, Example("Say hi.", "", "hi", history=(("system", ""),))]
    loaded = load_examples(save_examples(batch, tmp_path / name, style=style))
    if style == "alpaca":
        assert loaded == batch
    else:
        assert [to_messages(ex) for ex in loaded] == [to_messages(ex) for ex in batch]
    assert from_dataset(to_dataset(batch)) == batch


def test_example_history_is_validated():
    assert Example("a", "", "b", history=[["user", "u"], ["assistant", "v"]]).history == (("user", "u"),
                                                                                          ("assistant", "v"))
    for history, field, words in [
        ((("user", "u"),), "history[0].role", "the last message must be from the assistant"),
        ((("assistant", "v"),), "history[0].role", "expected role 'user' here"),
        ((("bot", "v"),), "history[0].role", "unknown role 'bot'"),
        ((("user", "u"), ("assistant", "")), "history[1].content", "must not be empty"),
        (("user",), "history[0]", "must be a (role, content) pair"),
        ("user", "history", "must be a tuple of (role, content) pairs"),
    ]:
        with pytest.raises(DataError) as info:
            Example("a", "", "b", history=history)
        assert info.value.field == field and words in str(info.value)


# --- what the loader refuses, checked against the shipped tokenizer --------------------------------


def test_control_tokens_are_the_shipped_tokenizers_special_tokens():
    import itlib

    added = json.loads((itlib.BASE_DIR / "tokenizer.json").read_text(encoding="utf-8"))["added_tokens"]
    assert set(CONTROL_TOKENS) == {t["content"] for t in added if t["special"]}
    assert "<unk>" not in CONTROL_TOKENS  # byte-level BPE: no unknown token, "<unk>" is plain text


def test_control_tokens_in_data_would_become_control_ids(tokenizer):
    """Why they are refused: the tokenizer reads them as its control ids, not as text."""
    for token in CONTROL_TOKENS:
        assert tokenizer(f"a{token}b", add_special_tokens=False)["input_ids"].count(
            tokenizer.convert_tokens_to_ids(token)) == 1


def test_a_lone_surrogate_is_refused_by_example_itself():
    with pytest.raises(DataError, match="field 'output': contains a lone surrogate U\\+D800"):
        Example("a", "", "x\ud800")


# --- safe writes ------------------------------------------------------------------------------


def test_save_refuses_to_overwrite_and_keeps_the_old_file(tmp_path):
    path = save_examples(EXAMPLES[:2], tmp_path / "a.jsonl")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_examples(EXAMPLES, path)
    assert path.read_bytes() == before
    save_examples(EXAMPLES, path, overwrite=True)
    assert load_examples(path) == EXAMPLES


def test_atomic_write_leaves_no_temp_files(tmp_path):
    save_examples(EXAMPLES, tmp_path / "a.json")
    save_examples(EXAMPLES, tmp_path / "a.json", overwrite=True)
    save_examples(EXAMPLES, tmp_path / "b.jsonl", style="messages")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.jsonl"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = save_examples(EXAMPLES[:1], tmp_path / "a.jsonl")
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_examples(EXAMPLES, path, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.jsonl"]


def test_save_creates_parent_folders(tmp_path):
    path = save_examples(EXAMPLES, tmp_path / "new" / "dir" / "a.jsonl")
    assert load_examples(path) == EXAMPLES


# --- property test ----------------------------------------------------------------------------

text = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40)
non_blank = text.filter(lambda s: any(unicodedata.category(c) not in INVISIBLE for c in s))
plain = non_blank.filter(lambda s: not any(token in s for token in CONTROL_TOKENS))  # what a file may hold
examples = st.builds(Example, instruction=plain, input=text.filter(lambda s: "<" not in s), output=plain, task=non_blank,
                     cluster=non_blank, kind=st.sampled_from(KINDS), difficulty=st.integers(0, 3),
                     template=st.integers(-1, 10_000))


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(examples, min_size=1, max_size=4))
def test_any_example_round_trips(tmp_path, batch):
    for name in ("p.json", "p.jsonl"):
        assert load_examples(save_examples(batch, tmp_path / name, overwrite=True)) == batch
    loaded = load_examples(save_examples(batch, tmp_path / "m.jsonl", style="messages", overwrite=True))
    assert [to_messages(ex) for ex in loaded] == [to_messages(ex) for ex in batch]
    assert [ex.output for ex in loaded] == [ex.output for ex in batch]
    assert from_dataset(to_dataset(batch)) == batch


# --- real data: the Self-Instruct seed tasks ----------------------------------------------------


def _seed_instances():
    assert SEED_TASKS.exists(), "the Self-Instruct seed tasks ship in itlib/assets/self_instruct"
    lines = SEED_TASKS.read_text(encoding="utf-8").split("\n")
    tasks = [json.loads(line) for line in lines if line.strip()]
    return [(task["instruction"], inst["input"], inst["output"])
            for task in tasks for inst in task["instances"]]


def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_seed_tasks_as_alpaca_jsonl(tmp_path):
    instances = _seed_instances()
    assert len(instances) >= 175  # 175 seed tasks, one instance each
    path = _write_jsonl(tmp_path / "seed_alpaca.jsonl",
                        [{"instruction": i, "input": x, "output": y} for i, x, y in instances])
    loaded = load_examples(path)
    assert len(loaded) == len(instances)
    assert [(ex.instruction, ex.input, ex.output) for ex in loaded] == instances


def test_seed_tasks_as_chat_jsonl(tmp_path):
    instances = _seed_instances()
    records = [{"messages": [{"role": "user", "content": f"{i}\n\n{x}" if x else i},
                             {"role": "assistant", "content": y}]} for i, x, y in instances]
    loaded = load_examples(_write_jsonl(tmp_path / "seed_chat.jsonl", records))
    assert len(loaded) == len(instances)
    assert [(ex.instruction, ex.output) for ex in loaded] == [(r["messages"][0]["content"],
                                                               r["messages"][1]["content"]) for r in records]


def test_seed_tasks_raw_file_fails_clearly():
    """The raw Self-Instruct file has `instances`, not `output`: the error says so."""
    assert SEED_TASKS.exists(), "the Self-Instruct seed tasks ship in itlib/assets/self_instruct"
    with pytest.raises(DataError, match=r"record 1, field 'output': is missing \(self-instruct 'instances'"):
        load_examples(SEED_TASKS)
