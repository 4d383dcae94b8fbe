"""itlib.data: every kind of bad input fails with ONE clear message naming the file, the record and
the field; skip_bad=True skips exactly the bad records and says which."""

import json
import warnings

import pytest

from itlib.data import DataError, DataWarning, Example, load_examples, load_examples_report


def jsonl(*records) -> str:
    """JSON Lines text; a str record is written as the raw line."""
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)


GOOD = {"instruction": "Say hi.", "input": "", "output": "hi"}


def chat(*pairs) -> dict:
    return {"messages": [{"role": role, "content": content} for role, content in pairs]}


USER, ASSISTANT = ("user", "Say hi."), ("assistant", "hi")

# (file name, content, record number or None, field or None, words the message must contain)
RECORD_CASES = {
    "invalid JSON line": ("d.jsonl", jsonl(GOOD, '{"instruction": "x", "output": }'), 2, None,
                          "invalid JSON: Expecting value"),
    "truncated JSON line": ("d.jsonl", jsonl(GOOD, GOOD, '{"instruction": "x'), 3, None,
                            "invalid JSON: Unterminated string"),
    "not UTF-8 (latin-1) line": ("d.jsonl", jsonl(GOOD).encode() + '{"instruction": "café", "output": "x"}\n'
                                 .encode("latin-1"), 2, None, "not valid UTF-8 (byte 0xe9"),
    "record is a list": ("d.jsonl", jsonl(GOOD, ["Say hi.", "hi"]), 2, None,
                         "must be a JSON object (got list"),
    "record is a number": ("d.json", json.dumps([GOOD, 42]), 2, None, "must be a JSON object (got int 42)"),
    "record is null": ("d.json", json.dumps([GOOD, GOOD, None]), 3, None, "must be a JSON object (got null)"),
    "missing instruction": ("d.jsonl", jsonl(GOOD, {"input": "", "output": "hi"}), 2, "instruction",
                            "is missing"),
    "missing output": ("d.jsonl", jsonl({"instruction": "Say hi."}), 1, "output", "is missing"),
    "instruction is an int": ("d.jsonl", jsonl({**GOOD, "instruction": 3}), 1, "instruction",
                              "must be a non-empty string (got int 3)"),
    "instruction is a list": ("d.json", json.dumps([GOOD, {**GOOD, "instruction": ["a"]}]), 2, "instruction",
                              "must be a non-empty string (got list"),
    "instruction is null": ("d.jsonl", jsonl({**GOOD, "instruction": None}), 1, "instruction", "(got null)"),
    "output is a number": ("d.jsonl", jsonl(GOOD, GOOD, {**GOOD, "output": 3.5}), 3, "output",
                           "must be a non-empty string (got float 3.5)"),
    "output is a dict": ("d.jsonl", jsonl({**GOOD, "output": {"text": "hi"}}), 1, "output", "(got dict"),
    "input is a number": ("d.jsonl", jsonl({**GOOD, "input": 7}), 1, "input", "must be a string (got int 7)"),
    "input is null": ("d.jsonl", jsonl({**GOOD, "input": None}), 1, "input", "(got null)"),
    "whitespace-only instruction": ("d.jsonl", jsonl({**GOOD, "instruction": " \t\n"}), 1, "instruction",
                                    "must not be empty or whitespace-only"),
    "empty instruction": ("d.jsonl", jsonl({**GOOD, "instruction": ""}), 1, "instruction",
                          "must not be empty"),
    "empty output": ("d.jsonl", jsonl(GOOD, {**GOOD, "output": ""}), 2, "output", "must not be empty"),
    "NUL character in text": ("d.jsonl", jsonl({**GOOD, "output": "h\u0000i"}), 1, "output",
                              "contains a NUL character"),
    "raw NUL byte in a line": ("d.jsonl", jsonl(GOOD).encode() + b'{"instruction": "a\x00", "output": "x"}\n',
                               2, None, "invalid JSON: Invalid control character"),
    "huge record": ("d.jsonl", jsonl(GOOD, {**GOOD, "input": "x" * 200_000}), 2, "input",
                    "record is too large (200,"),
    "invalid kind": ("d.jsonl", jsonl({**GOOD, "kind": "regression"}), 1, "kind",
                     "unknown kind 'regression' (expected one of generation, classification, labelling)"),
    "difficulty is a string": ("d.jsonl", jsonl({**GOOD, "difficulty": "hard"}), 1, "difficulty",
                               "must be an integer 0..3 (got str 'hard')"),
    "difficulty is a bool": ("d.jsonl", jsonl({**GOOD, "difficulty": True}), 1, "difficulty",
                             "(got bool True)"),
    "difficulty is a float": ("d.jsonl", jsonl({**GOOD, "difficulty": 2.0}), 1, "difficulty",
                              "(got float 2.0)"),
    "template is a bool": ("d.jsonl", jsonl({**GOOD, "template": False}), 1, "template", "(got bool False)"),
    "empty task": ("d.jsonl", jsonl({**GOOD, "task": ""}), 1, "task", "must not be empty"),
    "duplicate id": ("d.jsonl", jsonl({**GOOD, "id": "a"}, {**GOOD, "id": "b"}, {**GOOD, "id": "a"}), 3, "id",
                     "duplicate id str 'a' (first seen in record 1)"),
    "both messages and instruction": ("d.jsonl", jsonl({**chat(USER, ASSISTANT), **GOOD}), 1, "messages",
                                      "ambiguous"),
    "messages not a list": ("chat.jsonl", jsonl({"messages": "hi"}), 1, "messages",
                            "must be a list of messages (got str 'hi')"),
    "messages empty": ("chat.jsonl", jsonl({"messages": []}), 1, "messages", "is empty"),
    "message not an object": ("chat.jsonl", jsonl({"messages": [["user", "hi"]]}), 1, "messages[0]",
                              "must be an object with 'role' and 'content'"),
    "message missing role": ("chat.jsonl", jsonl({"messages": [{"content": "hi"}]}), 1, "messages[0].role",
                             "is missing"),
    "message missing content": ("chat.jsonl", jsonl(chat(USER, ASSISTANT), {"messages": [{"role": "user"}]}),
                                2, "messages[0].content", "is missing"),
    "unknown role": ("train.jsonl",
                     jsonl(chat(USER, ASSISTANT), chat(USER, ASSISTANT), chat(USER, ("bot", "x"))),
                     3, "messages[1].role", "unknown role 'bot' (expected system, user or assistant)"),
    "role not a string": ("chat.jsonl", jsonl({"messages": [{"role": 1, "content": "x"}]}), 1,
                          "messages[0].role", "unknown role int 1"),
    "content not a string": ("chat.jsonl", jsonl({"messages": [{"role": "user", "content": ["x"]}]}), 1,
                             "messages[0].content", "must be a non-empty string (got list"),
    "empty user content": ("chat.jsonl", jsonl(chat(("user", " "), ASSISTANT)), 1, "messages[0].content",
                           "must not be empty"),
    "roles out of order": ("chat.jsonl", jsonl(chat(ASSISTANT, USER)), 1, "messages[0].role",
                           "expected role 'user' here, got 'assistant'"),
    "roles do not alternate": ("chat.jsonl", jsonl(chat(USER, USER, ASSISTANT)), 1, "messages[1].role",
                               "expected role 'assistant' here, got 'user'"),
    "system not first": ("chat.jsonl", jsonl(chat(USER, ("system", "be brief"), ASSISTANT)), 1,
                         "messages[1].role", "got 'system'"),
    "last message not assistant": ("chat.jsonl", jsonl(chat(USER, ASSISTANT, USER)), 1, "messages[2].role",
                                   "the last message must be from the assistant"),
    "only a system message": ("chat.jsonl", jsonl(chat(("system", "be brief"))), 1, "messages",
                              "has only a system message"),
    "self-instruct instances not expanded": ("d.jsonl", jsonl({"instruction": "x", "instances": []}), 1,
                                             "output", "'instances' must be expanded"),
}

# (file name, content or None for no file, words the message must contain): problems with the whole file
FILE_CASES = {
    "file missing": ("nope.jsonl", None, "file not found"),
    "empty file": ("d.jsonl", "", "file is empty"),
    "empty .json file": ("d.json", "", "file is empty"),
    "only blank lines": ("d.jsonl", "\n  \n\n", "file is empty"),
    "only a BOM": ("d.jsonl", b"\xef\xbb\xbf\n", "file is empty"),
    "empty JSON list": ("d.json", "[]", "the list has no records"),
    "unsupported extension": ("d.csv", "instruction,output\nx,y\n", "unsupported file extension '.csv'"),
    "no extension": ("data", jsonl(GOOD), "unsupported file extension ''"),
    "JSON top level is a string": ("d.json", '"hello"', "top level must be a list of records or one record"),
    "JSON top level is a number": ("d.json", "42", "(got int 42)"),
    "invalid JSON document": ("d.json", '[\n{"instruction": "x",\n "output": "y"\n},\n]',
                              "invalid JSON at line 5"),
    "not UTF-8 in a JSON document": ("d.json", b'[\n{"instruction": "x",\n "output": "caf'
                                     + b'\xe9"}]', "not valid UTF-8 (byte 0xe9 at line 3"),
}


def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("name, content, record, field, words", RECORD_CASES.values(),
                         ids=RECORD_CASES.keys())
def test_bad_record_names_file_record_and_field(tmp_path, name, content, record, field, words):
    path = _write(tmp_path, name, content)
    with pytest.raises(DataError) as info:
        load_examples(path)
    err, message = info.value, str(info.value)
    assert name in message
    assert f"record {record}" in message and err.record == record
    assert err.field == field
    if field is not None:
        assert f"field '{field}'" in message
    assert words in message
    assert message.startswith(f"{path}, record {record}")


@pytest.mark.parametrize("name, content, words", FILE_CASES.values(), ids=FILE_CASES.keys())
def test_bad_file_names_the_file(tmp_path, name, content, words):
    path = tmp_path / name if content is None else _write(tmp_path, name, content)
    for skip_bad in (False, True):  # a broken file is never "skipped"
        with pytest.raises(DataError) as info:
            load_examples(path, skip_bad=skip_bad)
        assert str(info.value).startswith(f"{path}: ")
        assert words in str(info.value)
        assert info.value.path == path


def test_directory_is_not_a_file(tmp_path):
    (tmp_path / "d.jsonl").mkdir()
    with pytest.raises(DataError, match="is not a file"):
        load_examples(tmp_path / "d.jsonl")


def test_the_exact_message_reads_well(tmp_path):
    path = _write(tmp_path, "train.jsonl", jsonl(chat(USER, ASSISTANT), chat(USER, ASSISTANT),
                                                 chat(USER, ("bot", "x"))))
    with pytest.raises(DataError) as info:
        load_examples(path)
    assert str(info.value) == (f"{path}, record 3, field 'messages[1].role': unknown role 'bot' "
                               "(expected system, user or assistant)")


def test_max_chars_is_adjustable(tmp_path):
    path = _write(tmp_path, "d.jsonl", jsonl({**GOOD, "output": "y" * 500}))
    assert len(load_examples(path)) == 1
    with pytest.raises(DataError, match="record 1, field 'output': record is too large"):
        load_examples(path, max_chars=100)


# --- accepted oddities ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["d.json", "d.jsonl"])
def test_bom_is_accepted(tmp_path, name):
    text = json.dumps([GOOD]) if name.endswith(".json") else jsonl(GOOD)
    path = _write(tmp_path, name, b"\xef\xbb\xbf" + text.encode())
    assert load_examples(path) == [Example("Say hi.", "", "hi")]


def test_blank_lines_are_skipped_but_counted(tmp_path):
    path = _write(tmp_path, "d.jsonl", "\n" + jsonl(GOOD) + "\n   \n" + jsonl({"instruction": "x"}))
    with pytest.raises(DataError) as info:
        load_examples(path)
    assert info.value.record == 5  # line 5: the blank lines 1, 3 and 4 count


def test_crlf_line_endings_are_accepted(tmp_path):
    path = _write(tmp_path, "d.jsonl", jsonl(GOOD, GOOD).replace("\n", "\r\n"))
    assert len(load_examples(path)) == 2


def test_input_is_optional_and_extra_keys_are_ignored(tmp_path):
    path = _write(tmp_path, "d.jsonl", jsonl({"id": 1, "name": "hi", "instruction": "Say hi.",
                                              "output": "hi"},
                                             {"id": 2, "instruction": "x", "output": "y", "kind": "labelling",
                                              "difficulty": 2, "template": 4, "task": "t", "cluster": "c"}))
    first, second = load_examples(path)
    assert first == Example("Say hi.", "", "hi")
    assert second == Example("x", "", "y", task="t", cluster="c", kind="labelling", difficulty=2, template=4)


def test_single_object_json_and_json_lines_named_json(tmp_path):
    assert len(load_examples(_write(tmp_path, "one.json", json.dumps(GOOD)))) == 1
    assert len(load_examples(_write(tmp_path, "lines.json", jsonl(GOOD, GOOD, GOOD)))) == 3
    assert len(load_examples(_write(tmp_path, "list.jsonl", json.dumps([GOOD, GOOD], indent=2)))) == 2
    with pytest.raises(DataError, match=r"lines\.jsonl, record 1: must be a JSON object"):  # a list per line
        load_examples(_write(tmp_path, "lines.jsonl", jsonl(["x", "y"], GOOD)))


def test_chat_with_system_and_metadata(tmp_path):
    record = {**chat(("system", "Be brief."), USER, ASSISTANT), "task": "greet", "kind": "generation"}
    (ex,) = load_examples(_write(tmp_path, "chat.jsonl", jsonl(record)))
    assert ex == Example("Say hi.", "", "hi", task="greet")


# --- one bad record among good ones -----------------------------------------------------------


def _mixed(tmp_path):
    """Lines: 1 good, 2 bad (missing output), 3 blank, 4 good, 5 invalid JSON, 6 good, 7 unknown role."""
    text = (jsonl(GOOD, {"instruction": "x"}) + "\n" + jsonl({**GOOD, "output": "two"}, "{oops",
                                                             chat(USER, ("assistant", "three")),
                                                             chat(("robot", "x"), ASSISTANT)))
    return _write(tmp_path, "mixed.jsonl", text)


def test_one_bad_record_fails_the_whole_file(tmp_path):
    with pytest.raises(DataError) as info:
        load_examples(_mixed(tmp_path))
    assert (info.value.record, info.value.field) == (2, "output")


def test_skip_bad_returns_the_good_and_warns_once_with_exact_records(tmp_path):
    path = _mixed(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        examples = load_examples(path, skip_bad=True)
    assert [ex.output for ex in examples] == ["hi", "two", "three"]
    assert len(caught) == 1 and caught[0].category is DataWarning
    message = str(caught[0].message)
    assert "skipped 3 bad record(s) (2, 5, 7), kept 3" in message
    assert f"{path}, record 2, field 'output': is missing" in message
    assert f"{path}, record 5: invalid JSON" in message
    assert f"{path}, record 7, field 'messages[0].role': unknown role 'robot'" in message
    for good in ("record 1,", "record 3", "record 4", "record 6"):
        assert good not in message


def test_skip_bad_does_not_warn_when_all_good(tmp_path):
    path = _write(tmp_path, "d.jsonl", jsonl(GOOD, GOOD))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_examples(path, skip_bad=True)) == 2


def test_skip_bad_with_duplicate_ids_keeps_the_first(tmp_path):
    path = _write(tmp_path, "d.jsonl", jsonl({**GOOD, "id": 7}, {**GOOD, "id": 7, "output": "second"}))
    with pytest.warns(DataWarning, match=r"\(2\)"):
        assert [ex.output for ex in load_examples(path, skip_bad=True)] == ["hi"]


def test_report_lists_every_error_in_order(tmp_path):
    examples, errors = load_examples_report(_mixed(tmp_path))
    assert len(examples) == 3
    assert [(e.record, e.field) for e in errors] == [(2, "output"), (5, None), (7, "messages[0].role")]
    assert all(isinstance(e, DataError) for e in errors)
