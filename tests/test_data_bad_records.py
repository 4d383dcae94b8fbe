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
    # --- issue 19: data that used to load and then crash, or train on the wrong thing ---
    "lone surrogate (JSONL)": ("d.jsonl", jsonl(GOOD, '{"instruction": "Say hi.", "output": "h\\ud800i"}'), 2,
                               "output", "contains a lone surrogate U+D800 at position 1"),
    "lone surrogate (JSON list)": ("d.json", '[{"instruction": "x\\udfff", "output": "y"}]', 1, "instruction",
                                   "lone surrogate U+DFFF"),
    "lone surrogate in a chat turn": ("chat.jsonl", ('{"messages": [{"role": "user", "content": "\\ud83d"}, '
                                      '{"role": "assistant", "content": "x"}]}\n'), 1, "messages[0].content",
                                      "lone surrogate"),
    "deep nesting (JSONL)": ("d.jsonl", jsonl(GOOD, '{"x": ' + "[" * 50_000 + "]" * 50_000 + "}"), 2, None,
                             "nested too deeply"),
    "deep nesting (JSON list)": ("d.json", "[" + json.dumps(GOOD) + ', {"x": ' + "[" * 50_000 + "]" * 50_000
                                 + "}]", 2, None, "nested too deeply at line 1"),
    "5001-digit integer (JSONL)": ("d.jsonl", jsonl(GOOD, GOOD, '{"instruction": "x", "output": "y", "id": '
                                                + "7" * 5001 + "}"), 3, "id", "an integer with 5,001 digits"),
    "5001-digit integer (JSON list)": ("d.json", '[{"instruction": "x", "output": "y", "difficulty": -'
                                       + "1" * 5001 + "}]", 1, "difficulty", "5,001 digits"),
    "control token </s> in the output": ("d.jsonl", jsonl({**GOOD, "output": "hi</s>more"}), 1, "output",
                                         "contains the tokenizer's control token '</s>' at position 2"),
    "control token <pad> in the input": ("d.jsonl", jsonl({**GOOD, "input": "a <pad> b"}), 1, "input",
                                         "control token '<pad>'"),
    "control token <s> in the instruction": ("d.json", json.dumps([{**GOOD, "instruction": "<s>Say hi."}]), 1,
                                             "instruction", "control token '<s>'"),
    "control token <|assistant|> in a chat turn": ("chat.jsonl", jsonl(chat(("user", "x <|assistant|> y"),
                                                                            ASSISTANT)), 1,
                                                   "messages[0].content", "control token '<|assistant|>'"),
    "control token in a ShareGPT turn": ("sg.jsonl", jsonl({"conversations": [
        {"from": "human", "value": "hi"}, {"from": "gpt", "value": "ok<|user|>"}]}), 1, "conversations[1].value",
        "control token '<|user|>'"),
    "duplicate key in a record": ("d.jsonl", jsonl(GOOD, '{"instruction": "a", "output": "b", "output": "c"}'), 2,
                                  "output", "key 'output' appears twice in one object"),
    "duplicate key in a JSON list": ("d.json", '[{"instruction": "a", "instruction": "b", "output": "c"}]', 1,
                                     "instruction", "appears twice"),
    "duplicate key in a chat turn": ("chat.jsonl", ('{"messages": [{"role": "user", "content": "a", "content": "b"},'
                                     ' {"role": "assistant", "content": "c"}]}\n'), 1, "messages[0].content",
                                     "key 'content' appears twice"),
    "misspelt optional field": ("d.jsonl", jsonl({"instruction": "Translate.", "inptu": "Hello", "output": "Bonjour"}),
                                1, "inptu", "unknown field; did you mean 'input'?"),
    "misspelt required field": ("d.jsonl", jsonl({"instrution": "Translate.", "output": "Bonjour"}), 1,
                                "instrution", "did you mean 'instruction'?"),
    "capitalised field": ("d.jsonl", jsonl({"Instruction": "Translate.", "output": "Bonjour"}), 1, "Instruction",
                          "did you mean 'instruction'?"),
    "zero-width-only output": ("d.jsonl", jsonl({**GOOD, "output": "\u200b\u200c\u2060"}), 1, "output",
                               "has only invisible characters (U+200B, U+200C, U+2060)"),
    "zero-width-only assistant turn": ("chat.jsonl", jsonl(chat(USER, ("assistant", "\ufeff"))), 1,
                                       "messages[1].content", "only invisible characters"),
    "both messages and output": ("d.jsonl", jsonl({**chat(USER, ASSISTANT), "output": "hi"}), 1, "messages",
                                 "record has both 'messages' and 'output'; ambiguous"),
    "both conversations and messages": ("d.jsonl", jsonl({**chat(USER, ASSISTANT), "conversations": []}), 1,
                                        "messages", "both 'messages' and 'conversations'"),
    # --- ShareGPT ---
    "ShareGPT unknown from": ("sg.jsonl", jsonl({"conversations": [{"from": "human", "value": "hi"},
                                                                  {"from": "bot", "value": "yo"}]}), 1,
                              "conversations[1].from", "unknown 'from' value 'bot' (expected system, human or gpt)"),
    "ShareGPT role key instead of from": ("sg.json", json.dumps([{"conversations": [{"role": "human", "value": "hi"}]}]),
                                          1, "conversations[0].from", "is missing"),
    "ShareGPT missing value": ("sg.jsonl", jsonl({"conversations": [{"from": "human"}]}), 1,
                               "conversations[0].value", "is missing"),
    "ShareGPT ends with human": ("sg.jsonl", jsonl({"conversations": [{"from": "human", "value": "a"},
                                                                     {"from": "gpt", "value": "b"},
                                                                     {"from": "human", "value": "c"}]}), 1,
                                "conversations[2].from", "the last message must be from the assistant (got 'human')"),
    "ShareGPT turns out of order": ("sg.jsonl", jsonl({"conversations": [{"from": "gpt", "value": "a"},
                                                                        {"from": "human", "value": "b"}]}), 1,
                                   "conversations[0].from", "expected 'from' value 'human' here, got 'gpt'"),
    "ShareGPT not a list": ("sg.jsonl", jsonl({"conversations": "hi"}), 1, "conversations",
                            "must be a list of messages"),
    "misspelt conversations": ("sg.jsonl", jsonl({"conversation": [{"from": "human", "value": "a"}]}), 1,
                               "conversation", "did you mean 'conversations'?"),
    # --- tables: CSV (the header is row 1) and Parquet ---
    "CSV empty output cell": ("d.csv", "instruction,input,output\nSay hi.,,hi\nSay bye.,,\n", 3, "output",
                              "must not be empty"),
    "CSV row with too many cells": ("d.csv", "instruction,output\na,b\nc,d,e\n", 3, None,
                                    "has 3 cells but the header has 2 columns"),
    "CSV misspelt column": ("d.csv", "instruction,inptu,output\na,b,c\n", 2, "inptu", "did you mean 'input'?"),
    "CSV difficulty not a number": ("d.csv", "instruction,output,difficulty\na,b,hard\n", 2, "difficulty",
                                    "must be an integer 0..3 (got str 'hard')"),
    "CSV control token": ("d.csv", "instruction,output\na,b</s>\n", 2, "output", "control token '</s>'"),
    "CSV messages column": ("d.csv", 'messages\n"[{""role"": ""user""}]"\n', 2, "messages",
                            "a CSV cell cannot hold a list of messages"),
}

# (file name, content or None for no file, words the message must contain): problems with the whole file
FILE_CASES = {
    "file missing": ("nope.jsonl", None, "file not found"),
    "empty file": ("d.jsonl", "", "file is empty"),
    "empty .json file": ("d.json", "", "file is empty"),
    "only blank lines": ("d.jsonl", "\n  \n\n", "file is empty"),
    "only a BOM": ("d.jsonl", b"\xef\xbb\xbf\n", "file is empty"),
    "empty JSON list": ("d.json", "[]", "the list has no records"),
    "unsupported extension": ("d.txt", "instruction,output\nx,y\n", "unsupported file extension '.txt'"),
    "no extension": ("data", jsonl(GOOD), "unsupported file extension ''"),
    "JSON top level is a string": ("d.json", '"hello"', "top level must be a list of records or one record"),
    "JSON top level is a number": ("d.json", "42", "(got int 42)"),
    "CSV header only": ("d.csv", "instruction,output\n", "file is empty"),
    "CSV empty": ("d.csv", "", "file is empty (no header row)"),
    "CSV repeated column": ("d.csv", "instruction,output,output\na,b,c\n", "column 'output' appears more than once"),
    "CSV not UTF-8": ("d.csv", b"instruction,output\na,b\ncaf\xe9,x\n", "not valid UTF-8 (byte 0xe9 at line 3, column 4)"),
    "not a Parquet file": ("d.parquet", "instruction,output\n", "not a readable Parquet file"),
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
    unit, column = ("row", "column") if name.endswith((".csv", ".parquet")) else ("record", "field")
    assert name in message
    assert f"{unit} {record}" in message and err.record == record
    assert err.field == field
    if field is not None:
        assert f"{column} '{field}'" in message
    assert words in message
    assert message.startswith(f"{path}, {unit} {record}")


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
    assert ex == Example("Say hi.", "", "hi", task="greet", history=(("system", "Be brief."),))


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


# --- bounded reading (issue 19) -------------------------------------------------------------------


def test_an_over_long_jsonl_line_is_refused_and_the_next_line_still_read(tmp_path):
    # max_chars=100 allows lines of 12 * 100 + 4096 bytes; the long line is skipped in chunks, never held whole
    path = _write(tmp_path, "d.jsonl", jsonl(GOOD, {**GOOD, "input": "x" * 20_000}, {**GOOD, "output": "three"}))
    examples, errors = load_examples_report(path, max_chars=100)
    assert [ex.output for ex in examples] == ["hi", "three"]
    assert [(e.record, e.field) for e in errors] == [(2, None)]
    assert "record is too large (a line of more than 5,296 bytes)" in str(errors[0])


def test_a_json_document_over_max_bytes_is_refused_before_reading(tmp_path):
    path = _write(tmp_path, "d.json", json.dumps([GOOD] * 100))
    assert len(load_examples(path)) == 100
    for skip_bad in (False, True):
        with pytest.raises(DataError) as info:
            load_examples(path, max_bytes=1000, skip_bad=skip_bad)
        assert str(info.value).startswith(f"{path}: file is too large to read whole (")
        assert "max_bytes=1,000" in str(info.value) and "JSON Lines (.jsonl" in str(info.value)


def test_jsonl_is_not_limited_by_max_bytes(tmp_path):
    path = _write(tmp_path, "d.jsonl", jsonl(*[GOOD] * 100))
    assert len(load_examples(path, max_bytes=1000)) == 100


def test_skip_bad_skips_each_new_class_of_bad_record(tmp_path):
    lines = [GOOD, '{"instruction": "a", "output": "\\ud800"}', {**GOOD, "output": "x</s>"},
             '{"instruction": "a", "output": "b", "output": "c"}', {"instruction": "a", "inptu": "b", "output": "c"},
             {**GOOD, "output": "\u200b"}, {**chat(USER, ASSISTANT), "output": "hi"},
             '{"instruction": "a", "output": "b", "id": ' + "1" * 5000 + "}", {**GOOD, "output": "last"}]
    path = _write(tmp_path, "d.jsonl", jsonl(*lines))
    with pytest.warns(DataWarning, match=r"skipped 7 bad record\(s\) \(2, 3, 4, 5, 6, 7, 8\), kept 2"):
        assert [ex.output for ex in load_examples(path, skip_bad=True)] == ["hi", "last"]


def test_control_tokens_can_be_another_tokenizers(tmp_path):
    path = _write(tmp_path, "d.jsonl", jsonl({**GOOD, "output": "a <|im_end|> b"}, {**GOOD, "output": "x</s>"}))
    with pytest.raises(DataError, match=r"record 1, field 'output': .*'<\|im_end\|>'"):
        load_examples(path, control_tokens=["<|im_end|>", "<|im_start|>"])
    with pytest.raises(DataError, match="record 2"):  # the shipped tokenizer's by default
        load_examples(path)


def test_unknown_keys_that_look_like_nothing_known_are_still_ignored(tmp_path):
    path = _write(tmp_path, "d.jsonl", jsonl({**GOOD, "id": 1, "source": "web", "text": "x", "category": "qa"}))
    assert load_examples(path) == [Example("Say hi.", "", "hi")]


def test_zero_width_characters_inside_real_text_are_kept(tmp_path):
    path = _write(tmp_path, "d.jsonl", jsonl({**GOOD, "output": "a\u200bb", "input": "\u200b"}))
    assert load_examples(path)[0].output == "a\u200bb"


# --- tables ----------------------------------------------------------------------------------------


def test_parquet_cell_of_the_wrong_type_names_row_and_column(tmp_path):
    from datasets import Dataset

    path = tmp_path / "d.parquet"
    Dataset.from_dict({"instruction": ["a", "b", "c"], "output": [1, 2, 3]}).to_parquet(str(path))
    with pytest.raises(DataError) as info:
        load_examples(path)
    assert str(info.value) == f"{path}, row 1, column 'output': must be a non-empty string (got int 1)"


def test_parquet_null_cell_counts_as_absent(tmp_path):
    from datasets import Dataset

    path = tmp_path / "d.parquet"
    Dataset.from_list([{"instruction": "a", "input": None, "output": "b"},
                       {"instruction": "c", "input": "x", "output": None}]).to_parquet(str(path))
    examples, errors = load_examples_report(path)
    assert examples == [Example("a", "", "b")]
    assert [str(e) for e in errors] == [f"{path}, row 2, column 'output': is missing"]


def test_folder_that_is_not_a_saved_dataset(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="is not a file, nor a folder written by datasets' save_to_disk"):
        load_examples(tmp_path / "runs")


def test_saved_dataset_dict_without_a_train_split(tmp_path):
    from datasets import Dataset, DatasetDict

    ds = Dataset.from_list([GOOD])
    DatasetDict({"a": ds, "b": ds}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(DataError, match="holds the splits a, b and no 'train' split"):
        load_examples(tmp_path / "dd")


def test_csv_row_numbers_count_blank_rows_like_a_spreadsheet(tmp_path):
    path = _write(tmp_path, "d.csv", 'instruction,output\na,b\n\n"multi\nline",\n')
    with pytest.raises(DataError) as info:
        load_examples(path)
    assert str(info.value).startswith(f"{path}, row 4, column 'output': must not be empty")
