"""Instruction-tuning data: the `Example` record, and reading / writing it safely.

An example is a triple (I, X, Y): an instruction I, an optional input X and the reference
output Y, plus a few labels saying where it comes from (task, cluster, kind, ...) and, for a
conversation, the turns before the last exchange (`history`).

Files this module reads (`load_examples`):

- Alpaca style, as a JSON list (``.json``) or one object per line (``.jsonl``)::

      {"instruction": "...", "input": "...", "output": "..."}

  `input` is optional (default ""); `task`, `cluster`, `kind`, `difficulty` and `template`
  are optional; any other key (e.g. `id`, `name`) is ignored, unless it looks like a misspelt
  field (`inptu`, `Output`). When records carry an `id`, ids must be unique. (`history`, the
  earlier turns as chat messages, is what `save_examples` writes for a conversation.)
- Chat style, one object per line (or a JSON list)::

      {"messages": [{"role": "system", "content": "..."},      # optional, first only
                    {"role": "user", "content": "..."},
                    {"role": "assistant", "content": "..."}]}

- ShareGPT style, one object per line (or a JSON list)::

      {"conversations": [{"from": "system", "value": "..."},   # optional, first only
                         {"from": "human", "value": "..."},
                         {"from": "gpt", "value": "..."}]}

  Turns must go [system,] user, assistant, user, assistant, ... and end with the assistant.
  The LAST user -> assistant pair becomes instruction -> output (input ""); the system message
  and the earlier turns become `history`, which the chat format renders and trains on (the loss
  covers every assistant turn, as a chat template's assistant mask does).
- Tables: a Parquet file (``.parquet``), a UTF-8 CSV file with a header row (``.csv``), or a
  folder written by `datasets.Dataset.save_to_disk` (its 'train' split if it holds several),
  with the Alpaca columns (Parquet and folders may instead hold a `messages` or `conversations`
  column). Null cells count as absent; errors name the row and the column.

Every bad record raises ONE `DataError` naming the file, the record number (1-based line
for JSONL, counting blank lines; 1-based position for a JSON list; the row for a table, where
a CSV's header is row 1) and the field. Refused, besides wrong types and empty texts: text that
is not encodable (a lone surrogate such as ``\\ud800``), text that is only invisible characters,
the tokenizer's control tokens (`CONTROL_TOKENS`, e.g. ``</s>``) inside the data, a key that
appears twice in one object, a misspelt field, a record mixing layouts (`messages` and
`output`), integers longer than Python reads, nesting deeper than any record needs. JSONL and
CSV are read line by line (a line longer than the record limit is refused without reading it
whole); a JSON document is read whole, so it is limited to `max_bytes`.

Nothing is silently dropped: `load_examples(path, skip_bad=True)` skips bad records but warns
once, listing every skipped record; `load_examples_report` returns the errors instead.

Files this module writes (`save_examples`) are written atomically and never overwrite an
existing file unless asked to.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import functools
import json
import os
import re
import sys
import threading
import unicodedata
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import NamedTuple

from itlib.files import write_atomically

__all__ = [
    "CONTROL_TOKENS", "KINDS", "ROLES", "DataError", "DataWarning", "Example", "from_dataset",
    "from_messages", "from_sharegpt", "load_examples", "load_examples_report", "save_examples", "to_dataset", "to_messages",
]

KINDS = ("generation", "classification", "labelling")
ROLES = ("system", "user", "assistant")
SUFFIXES = (".json", ".jsonl")
METADATA = ("task", "cluster", "kind", "difficulty", "template")
ALPACA_FIELDS = ("instruction", "input", "output", "history")
KNOWN_FIELDS = (*ALPACA_FIELDS, *METADATA, "messages", "conversations")
# The shipped tokenizer's special tokens (itlib/assets/base/tokenizer.json). Inside user data they
# would be encoded as real control ids (an end of text, a role switch) and trained on, so they are
# refused. `<unk>` is not among them: a byte-level BPE has no unknown token, so it is plain text.
CONTROL_TOKENS = ("<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>", "<|fim_prefix|>",
                  "<|fim_suffix|>", "<|fim_middle|>", "<sep>")
MAX_BYTES = 512 * 1024 ** 2  # a JSON document (read whole) may be at most this large
MAX_DEPTH = 100  # nesting levels named in the 'nested too deeply' message; no record needs more than 5
INVISIBLE = ("Cc", "Cf", "Zs", "Zl", "Zp")  # Unicode categories of characters that show nothing
_TOO_DEEP = f"nested too deeply{{}} (more than {MAX_DEPTH} levels of [ ] and {{{{ }}}}); no record needs that"


class DataError(ValueError):
    """One clear message naming the file, the record number (1-based line or list index) and the field.

    `str(err)` reads e.g. ``data.jsonl, record 7, field 'output': must be a non-empty string (got int 3)``;
    for a table (CSV, Parquet, a saved dataset) ``data.csv, row 7, column 'output': ...``.
    The parts are kept as attributes: `message` (the reason alone), `path`, `record`, `field`, and
    `unit` ("record" or "row").
    """

    def __init__(self, message, *, path=None, record=None, field=None, unit="record"):
        self.message, self.path, self.record, self.field, self.unit = message, path, record, field, unit
        super().__init__(self._render())

    def _render(self) -> str:
        where = [str(self.path)] if self.path is not None else []
        if self.record is not None:
            where.append(f"{self.unit} {self.record}")
        if self.field is not None:
            where.append(f"{'column' if self.unit == 'row' else 'field'} '{self.field}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def located(self, *, path=None, record=None, unit=None) -> DataError:
        """The same error with the file and record (and what a record is called) filled in where unknown."""
        known = self.record is not None
        return DataError(self.message, path=self.path if self.path is not None else path,
                         record=self.record if known else record, field=self.field,
                         unit=self.unit if known or unit is None else unit)

    def __reduce__(self):
        return _rebuild_error, (self.message, self.path, self.record, self.field, self.unit)


def _rebuild_error(message, path, record, field, unit="record"):
    return DataError(message, path=path, record=record, field=field, unit=unit)


class DataWarning(UserWarning):
    """Warned (once per file) when `load_examples(..., skip_bad=True)` skipped bad records."""


def _describe(value) -> str:
    """A short description of a bad value for messages: 'int 3', 'null', "str ''"."""
    if value is None:
        return "null"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def _name(value) -> str:
    """A value as it reads in a message: 'bot' for a string, else its description (int 3, null)."""
    return repr(value) if isinstance(value, str) else _describe(value)


def _or(names) -> str:
    """'a, b or c'."""
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _check_encodable(value: str, field: str) -> None:
    """Refuse a lone surrogate (e.g. from a JSON escape \\ud800): not text, no tokenizer encodes it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise DataError(f"contains a lone surrogate U+{ord(value[err.start]):04X} at position {err.start}, "
                        "which is not a character and cannot be encoded (a broken \\u escape in the JSON?)",
                        field=field) from None


def _only_invisible(text: str) -> bool:
    """Whether every character is whitespace, a control or a format character (e.g. U+200B)."""
    return all(unicodedata.category(c) in INVISIBLE for c in text)


def _check_text(value, field: str, *, allow_empty: bool = False) -> None:
    """A text field must be a str, encodable, without NUL characters, and (unless allowed) show something."""
    if not isinstance(value, str):
        wanted = "a string" if allow_empty else "a non-empty string"
        raise DataError(f"must be {wanted} (got {_describe(value)})", field=field)
    if not allow_empty and not value.strip():
        raise DataError(f"must not be empty or whitespace-only (got {_describe(value)})", field=field)
    if "\x00" in value:
        raise DataError(f"contains a NUL character (\\x00) at position {value.index(chr(0))}", field=field)
    if not value.isascii():
        _check_encodable(value, field)
    if not allow_empty and not value.strip().isprintable() and _only_invisible(value):
        shown = ", ".join(f"U+{ord(c):04X}" for c in list(dict.fromkeys(value))[:4])
        raise DataError(f"has only invisible characters ({shown}); there is nothing to learn or to match",
                        field=field)


def _check_int(value, field: str, low: int, high: int | None) -> None:
    """An int field must be a real int (bool is rejected) within [low, high]."""
    bounds = f"{low}..{high}" if high is not None else f">= {low}"
    if type(value) is not int or value < low or (high is not None and value > high):
        raise DataError(f"must be an integer {bounds} (got {_describe(value)})", field=field)


@dataclass(frozen=True)
class Example:
    """One instruction-tuning example: the instruction I, the input X, the reference output Y,
    plus where it comes from.

    - `task`, `cluster`: names of the task and of the task cluster it belongs to
    - `kind`: one of KINDS (generation, classification, labelling)
    - `difficulty`: 0 = unknown, else 1..3
    - `template`: index of the instruction template in its task, -1 = unknown
    - `history`: for a conversation, the turns before the last user -> assistant exchange, as
      (role, content) pairs going [system,] user, assistant, ..., assistant (a list is turned
      into a tuple). The chat format renders them and trains on every assistant turn; () for
      a single exchange.

    Invalid values raise `DataError` naming the field.
    """

    instruction: str
    input: str
    output: str
    task: str = "custom"
    cluster: str = "custom"
    kind: str = "generation"
    difficulty: int = 0
    template: int = -1
    history: tuple = ()

    def __post_init__(self):
        _check_text(self.instruction, "instruction")
        _check_text(self.input, "input", allow_empty=True)
        _check_text(self.output, "output")
        _check_text(self.task, "task")
        _check_text(self.cluster, "cluster")
        if self.kind not in KINDS:
            raise DataError(f"unknown kind {_name(self.kind)} (expected one of {', '.join(KINDS)})",
                            field="kind")
        _check_int(self.difficulty, "difficulty", 0, 3)
        _check_int(self.template, "template", -1, None)
        if self.history:
            object.__setattr__(self, "history", _checked_history(self.history))


# ---------------------------------------------------------------------------------------------
# conversations: chat messages and ShareGPT


class _Layout(NamedTuple):
    """How one conversation layout spells its turns: the list's key, the role and text keys,
    what a role is called in messages, and the accepted role values -> system / user / assistant."""

    name: str
    role_key: str
    content_key: str
    role_label: str
    roles: dict


MESSAGES = _Layout("messages", "role", "content", "role", {role: role for role in ROLES})
SHAREGPT = _Layout("conversations", "from", "value", "'from' value",
                   {"system": "system", "human": "user", "gpt": "assistant"})
HISTORY = _Layout("history", "role", "content", "role", {role: role for role in ROLES})


def _check_message(message, i: int, layout: _Layout) -> str:
    """Validate turn i (an object with a known role and string content); return its role."""
    where = f"{layout.name}[{i}]"
    if not isinstance(message, dict):
        raise DataError(f"must be an object with '{layout.role_key}' and '{layout.content_key}' "
                        f"(got {_describe(message)})", field=where)
    for key in (layout.role_key, layout.content_key):
        if key not in message:
            raise DataError("is missing", field=f"{where}.{key}")
    raw = message[layout.role_key]
    role = layout.roles.get(raw) if isinstance(raw, str) else None
    if role is None:
        raise DataError(f"unknown {layout.role_label} {_name(raw)} (expected {_or(layout.roles)})",
                        field=f"{where}.{layout.role_key}")
    _check_text(message[layout.content_key], f"{where}.{layout.content_key}", allow_empty=role == "system")
    return role


def _check_turn_order(roles: list[str], layout: _Layout, *, reply: bool = True) -> None:
    """Roles must go [system,] user, assistant, user, assistant, ... and end with the assistant;
    with `reply`, at least one user -> assistant exchange is needed."""
    shown = {role: raw for raw, role in layout.roles.items()}
    start = 1 if roles and roles[0] == "system" else 0
    for i in range(start, len(roles)):
        expected = "user" if (i - start) % 2 == 0 else "assistant"
        if roles[i] != expected:
            order = f"[{shown['system']},] {shown['user']}, {shown['assistant']}, {shown['user']}, ..."
            raise DataError(f"expected {layout.role_label} '{shown[expected]}' here, got '{shown[roles[i]]}' "
                            f"(turns must go {order})", field=f"{layout.name}[{i}].{layout.role_key}")
    if reply and len(roles) == start:
        raise DataError("has only a system message; needs a user message and an assistant reply",
                        field=layout.name)
    if (len(roles) - start) % 2:
        raise DataError(f"the last message must be from the assistant (got '{shown[roles[-1]]}')",
                        field=f"{layout.name}[{len(roles) - 1}].{layout.role_key}")


def _turns(value, layout: _Layout, *, reply: bool = True) -> list[tuple[str, str]]:
    """The validated (role, content) turns of a conversation list (roles as system/user/assistant)."""
    if not isinstance(value, list):
        raise DataError(f"must be a list of messages (got {_describe(value)})", field=layout.name)
    if not value and reply:
        raise DataError("is empty; needs a user message and an assistant reply", field=layout.name)
    roles = [_check_message(message, i, layout) for i, message in enumerate(value)]
    _check_turn_order(roles, layout, reply=reply)
    return [(role, message[layout.content_key]) for role, message in zip(roles, value)]


def _checked_history(history) -> tuple:
    """Example.history as a validated tuple of (role, content) pairs."""
    if not isinstance(history, (tuple, list)):
        raise DataError(f"must be a tuple of (role, content) pairs (got {_describe(history)})",
                        field="history")
    for i, turn in enumerate(history):
        if not (isinstance(turn, (tuple, list)) and len(turn) == 2):
            raise DataError(f"must be a (role, content) pair (got {_describe(turn)})", field=f"history[{i}]")
    turns = _turns([{"role": role, "content": content} for role, content in history], HISTORY, reply=False)
    return tuple(turns)


def _conversation(turns: list[tuple[str, str]], metadata: dict) -> Example:
    """An Example from validated turns: the last exchange is instruction -> output, the rest history."""
    (_, instruction), (_, output) = turns[-2:]
    return Example(instruction=instruction, input="", output=output, history=tuple(turns[:-2]), **metadata)


def to_messages(example: Example, system: str | None = None) -> list[dict]:
    """The example as a chat: its history ([system,] earlier turns), then user, assistant.

    The user's content is the instruction, then a blank line and the input when there is one.
    `system` is put first when the example has no system turn of its own."""
    turns = list(example.history)
    if system is not None and not (turns and turns[0][0] == "system"):
        turns.insert(0, ("system", system))
    user = f"{example.instruction}\n\n{example.input}" if example.input else example.instruction
    return [*({"role": role, "content": content} for role, content in turns),
            {"role": "user", "content": user}, {"role": "assistant", "content": example.output}]


def from_messages(messages, **metadata) -> Example:
    """An Example from a chat (a list of {"role", "content"}): the last user turn is the
    instruction (input ""), the last assistant turn the output, and the system message and
    earlier turns are its `history`.

    `metadata` (task, cluster, kind, difficulty, template) is passed on to the Example."""
    return _conversation(_turns(messages, MESSAGES), metadata)


def from_sharegpt(conversations, **metadata) -> Example:
    """An Example from a ShareGPT conversation (a list of {"from": "system"|"human"|"gpt", "value"}),
    read as `from_messages` reads a chat."""
    return _conversation(_turns(conversations, SHAREGPT), metadata)


# ---------------------------------------------------------------------------------------------
# one record -> one Example


def _largest_field(record: dict) -> str | None:
    """The key whose value takes the most characters (to point at in 'too large' messages)."""
    sizes = {key: len(json.dumps(value, ensure_ascii=False)) for key, value in record.items()}
    return max(sizes, key=sizes.get) if sizes else None


def _metadata(record: dict) -> dict:
    """The optional labels present in a record (a null value means 'use the default')."""
    return {key: record[key] for key in METADATA if record.get(key) is not None}


def _alpaca_example(record: dict) -> Example:
    """An Example from an Alpaca-style record (with an optional `history` of chat messages)."""
    for key in ("instruction", "output"):
        if key not in record:
            hint = " (self-instruct 'instances' must be expanded into one record each)" \
                if key == "output" and "instances" in record else ""
            raise DataError(f"is missing{hint}", field=key)
    history = _turns(record["history"], HISTORY, reply=False) if "history" in record else ()
    return Example(instruction=record["instruction"], input=record.get("input", ""),
                   output=record["output"], history=tuple(history), **_metadata(record))


@functools.lru_cache(maxsize=1024)
def _close_field(key: str) -> str | None:
    """The known field an unknown key is probably a misspelling of ('inptu' -> 'input'), else None."""
    close = difflib.get_close_matches(key.lower(), KNOWN_FIELDS, n=1, cutoff=0.8)
    return close[0] if close else None


def _check_keys(record: dict) -> None:
    """Refuse a misspelt field (an unknown key close to a known one that the record lacks) and a
    record that mixes layouts (e.g. both `messages` and `output`)."""
    for key in record:
        close = _close_field(key) if isinstance(key, str) and key not in KNOWN_FIELDS else None
        if close is not None and close not in record:
            raise DataError(f"unknown field; did you mean '{close}'? (as written, '{close}' is missing "
                            "and this value would be ignored)", field=key)
    layouts = [key for key in ("messages", "conversations") if key in record]
    layouts += [key for key in ALPACA_FIELDS if key in record][:1]
    if len(layouts) > 1:
        raise DataError(f"record has both '{layouts[0]}' and '{layouts[1]}'; ambiguous, keep one of them",
                        field=layouts[0])


def _record_texts(record: dict):
    """(field, text) for every text of a validated record that the model reads or is trained on."""
    for field in ("instruction", "input", "output"):
        if field in record:
            yield field, record[field]
    for layout in (MESSAGES, SHAREGPT, HISTORY):
        for i, turn in enumerate(record.get(layout.name) or ()):
            yield f"{layout.name}[{i}].{layout.content_key}", turn[layout.content_key]


def _check_control_tokens(record: dict, tokens) -> None:
    """Refuse the tokenizer's control tokens (e.g. '</s>') inside the texts of a validated record."""
    for field, text in _record_texts(record):
        for token in tokens:
            if token and token in text:
                raise DataError(f"contains the tokenizer's control token {token!r} at position "
                                f"{text.index(token)}; itlib refuses control tokens in data (they would be "
                                "read as a real end of text or role switch and trained on): remove or rewrite it",
                                field=field)


def _parse_record(record, max_chars: int, control_tokens=CONTROL_TOKENS) -> Example:
    """Validate one record (Alpaca, chat or ShareGPT) and turn it into an Example; raises DataError."""
    if not isinstance(record, dict):
        raise DataError(f"must be a JSON object (got {_describe(record)})")
    size = len(json.dumps(record, ensure_ascii=False))
    if size > max_chars:
        raise DataError(f"record is too large ({size:,} characters > max_chars={max_chars:,})",
                        field=_largest_field(record))
    _check_keys(record)
    if "messages" in record:
        example = from_messages(record["messages"], **_metadata(record))
    elif "conversations" in record:
        example = from_sharegpt(record["conversations"], **_metadata(record))
    else:
        example = _alpaca_example(record)
    _check_control_tokens(record, control_tokens)
    return example


def _check_id(record, number: int, first_seen: dict) -> None:
    """Where records carry an `id`, it must not repeat one seen before (first_seen: id -> record number)."""
    if isinstance(record, dict) and "id" in record:
        key = json.dumps(record["id"], sort_keys=True)
        if key in first_seen:
            raise DataError(f"duplicate id {_describe(record['id'])} (first seen in record "
                            f"{first_seen[key]})", field="id")
        first_seen[key] = number


def _parse_records(numbered, path, max_chars: int, control_tokens=CONTROL_TOKENS,
                   unit: str = "record") -> tuple[list[Example], list[DataError]]:
    """Parse (record number, record or DataError) pairs; bad records become errors, in order.

    Also checks that `id` values, where records carry one, are unique. A problem with the whole
    file, raised while `numbered` is read, propagates."""
    examples, errors, first_seen = [], [], {}
    for number, record in numbered:
        try:
            if isinstance(record, DataError):
                raise record
            _check_id(record, number, first_seen)
            examples.append(_parse_record(record, max_chars, control_tokens))
        except DataError as err:
            errors.append(err.located(path=path, record=number, unit=unit))
        except RecursionError:
            errors.append(DataError(_TOO_DEEP.format(""), path=path, record=number, unit=unit))
    return examples, errors


# ---------------------------------------------------------------------------------------------
# JSON text -> records, keeping what json.loads would hide (duplicate keys) or crash on (huge ints)


class _Duplicated(dict):
    """A JSON object in which a key appeared more than once; `duplicate` names the first such key."""

    def __init__(self, pairs):
        super().__init__(pairs)
        seen = set()
        self.duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))


class _LongNumber(str):
    """An integer literal with more digits than Python converts (kept as its text)."""


_MARKS = threading.local()  # how many duplicate keys / over-long integers the current parse marked


def _pairs(items: list) -> dict:
    """object_pairs_hook: a dict, or a `_Duplicated` one (marked) when a key repeats."""
    if len({key for key, _ in items}) == len(items):
        return dict(items)
    _MARKS.count += 1
    return _Duplicated(items)


def _number(digits: str):
    """parse_int: the int, or a marked `_LongNumber` when Python refuses to convert that many digits."""
    try:
        return int(digits)
    except ValueError:
        _MARKS.count += 1
        return _LongNumber(digits)


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_int=_number)


def _loads(text: str):
    """json.loads that marks duplicate keys and over-long integers instead of hiding or crashing on
    them: (value, True when anything was marked). RecursionError passes through."""
    _MARKS.count = 0
    value = _DECODER.decode(text)
    return value, _MARKS.count > 0


def _join(where, key) -> str:
    """A field path: 'messages', 'messages[1]', 'messages[1].content'."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return key if where is None else f"{where}.{key}"


def _marked(value, where=None) -> DataError | None:
    """The error for the first duplicated key or over-long integer inside a parsed value, else None."""
    if isinstance(value, _LongNumber):
        limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
        return DataError(f"an integer with {len(value.lstrip('-')):,} digits, more than the {limit:,} "
                         "that Python reads; no field needs such a number", field=where)
    if isinstance(value, _Duplicated):
        return DataError(f"key '{value.duplicate}' appears twice in one object; JSON would silently keep "
                         "only the last value, so remove one", field=_join(where, value.duplicate))
    children = value.items() if isinstance(value, dict) else ()
    children = enumerate(value) if isinstance(value, list) else children
    for key, child in children:
        found = _marked(child, _join(where, key))
        if found is not None:
            return found
    return None


def _checked(record, marked: bool):
    """The record, or the DataError for what `_loads` marked in it."""
    found = _marked(record) if marked else None
    return record if found is None else found


def _too_deep(text: str, path: Path) -> DataError:
    """'nested too deeply' for a JSON document, naming the record and line where nesting passes MAX_DEPTH."""
    depth, record, is_list = 0, 1, text.lstrip().startswith("[")
    for match in re.finditer(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]', text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
        elif token in ("]", "}"):
            depth -= 1
        elif token == "," and depth == 1 and is_list:
            record += 1
        if depth > MAX_DEPTH:
            line = text.count("\n", 0, match.start()) + 1
            return DataError(_TOO_DEEP.format(f" at line {line}"), path=path, record=record)
    return DataError(_TOO_DEEP.format(""), path=path)


# ---------------------------------------------------------------------------------------------
# files -> records


@contextlib.contextmanager
def _open_data(path: Path):
    """The file opened for reading bytes, positioned after a UTF-8 byte-order mark if there is one."""
    with open(path, "rb") as handle:
        if handle.read(3) != b"\xef\xbb\xbf":
            handle.seek(0)
        yield handle


def _line_limit(max_chars: int) -> int:
    """The most bytes one line may take: a record of max_chars characters, all written as \\u escapes."""
    return 12 * max_chars + 4096


def _read_lines(handle, limit: int):
    """(line number, bytes) for each line, or (line number, None) for a line longer than `limit`
    bytes, which is skipped without being held in memory whole."""
    number = 0
    while line := handle.readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = handle.readline(limit + 1)
            yield number, None
        else:
            yield number, line


def _decode_error(raw: bytes, err: UnicodeDecodeError) -> str:
    """'not valid UTF-8 ...' naming the offending byte and where it is."""
    line = raw.count(b"\n", 0, err.start) + 1
    column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
    return (f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at line {line}, column {column}); "
            "re-save the file as UTF-8")


def _line_record(line: bytes):
    """One JSON Lines line (line ending dropped) as a record, or the DataError saying why it is not one."""
    line = line.rstrip(b"\r\n")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        return DataError(_decode_error(line, err).replace(" at line 1,", ","))
    try:
        record, marked = _loads(text)
    except json.JSONDecodeError as err:
        return DataError(f"invalid JSON: {err.msg} (column {err.colno})")
    except RecursionError:
        return DataError(_TOO_DEEP.format(""))
    return _checked(record, marked)


def _jsonl_records(handle, limit: int):
    """(line number, record or DataError) for each non-blank line; blank lines still count."""
    for number, line in _read_lines(handle, limit):
        if line is None:
            yield number, DataError(f"record is too large (a line of more than {limit:,} bytes)")
        elif line.strip():
            yield number, _line_record(line)


def _json_document(handle, path: Path, max_bytes: int) -> list:
    """(1-based position, record or DataError) for a JSON document: a list of records or one record.

    The document is read whole, so a file over `max_bytes` is refused before reading."""
    size = os.fstat(handle.fileno()).st_size - handle.tell()
    if size > max_bytes:
        raise DataError(f"file is too large to read whole ({size:,} bytes > max_bytes={max_bytes:,}); a JSON "
                        "document is read at once, JSON Lines (.jsonl, one record per line) one line at a "
                        "time: convert it, or pass a larger max_bytes", path=path)
    raw = handle.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(_decode_error(raw, err), path=path) from None
    try:
        document, marked = _loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}",
                        path=path) from None
    except RecursionError:
        raise _too_deep(text, path) from None
    if isinstance(document, dict):
        document = [document]
    if not isinstance(document, list):
        raise DataError(f"the top level must be a list of records or one record object "
                        f"(got {_describe(document)})", path=path)
    if not document:
        raise DataError("file is empty (the list has no records)", path=path)
    return [(number, _checked(record, marked)) for number, record in enumerate(document, start=1)]


def _first_byte(handle) -> bytes:
    """The first byte that is not whitespace (b"" for a blank file); the handle is put back."""
    start, chunk = handle.tell(), b" "
    while chunk and not chunk.strip():
        chunk = handle.read(1 << 16)
    handle.seek(start)
    return chunk.strip()[:1]


def _is_json_lines(handle, limit: int) -> bool:
    """Whether a .json file is really JSON Lines: its first non-blank line is a complete JSON value
    and something follows it. The handle is put back."""
    start, lines = handle.tell(), []
    for _, line in _read_lines(handle, limit):
        if line is None or line.strip():
            lines.append(line)
        if len(lines) == 2:
            break
    handle.seek(start)
    return len(lines) == 2 and lines[0] is not None and _parses(lines[0])


def _parses(line: bytes) -> bool:
    """Whether one line is a complete JSON value on its own."""
    try:
        json.loads(line)
        return True
    except (ValueError, RecursionError):
        return False


def _json_file_records(path: Path, max_chars: int, max_bytes: int):
    """(number, record or DataError) of a .json / .jsonl file, deciding the layout by extension and content:

    - .json is one JSON document, unless it is really one object per line (JSON Lines);
    - .jsonl is JSON Lines, unless the whole file is one JSON list (e.g. pretty-printed).
    JSON Lines are read one line at a time; a document is read whole (at most max_bytes)."""
    limit = _line_limit(max_chars)
    with _open_data(path) as handle:
        start, first = handle.tell(), _first_byte(handle)
        if not first:
            raise DataError("file is empty (no records)", path=path)
        if path.suffix.lower() == ".json":
            lines = first == b"{" and _is_json_lines(handle, limit)
            yield from _jsonl_records(handle, limit) if lines else _json_document(handle, path, max_bytes)
            return
        document = None
        if first == b"[":
            try:
                document = _json_document(handle, path, max_bytes)
            except DataError:
                handle.seek(start)
        yield from document if document is not None else _jsonl_records(handle, limit)


def _text_lines(path: Path, limit: int):
    """The lines of a UTF-8 text file as str (byte-order mark removed); a line over `limit` bytes
    or bytes that are not UTF-8 raise DataError naming the line."""
    with _open_data(path) as handle:
        for number, line in _read_lines(handle, limit):
            if line is None:
                raise DataError(f"line {number} is longer than {limit:,} bytes", path=path)
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError as err:
                message = _decode_error(line, err).replace(" at line 1,", f" at line {number},")
                raise DataError(message, path=path) from None


def _check_columns(names, path: Path) -> None:
    """A table's column names must be unique (else one column would silently hide another)."""
    repeated = sorted({name for name in names if list(names).count(name) > 1})
    if repeated:
        raise DataError(f"column {repeated[0]!r} appears more than once in the header", path=path)


def _csv_record(header: list[str], row: list[str]):
    """One CSV row as a record (cells are text; an empty difficulty / template cell is absent,
    a whole number there becomes an int), or the DataError saying why it is not one."""
    if len(row) != len(header):
        return DataError(f"has {len(row)} cells but the header has {len(header)} columns")
    record = dict(zip(header, row))
    for key in ("history", "messages", "conversations"):
        if key in record:
            return DataError("a CSV cell cannot hold a list of messages; use JSONL, JSON or Parquet for "
                             "conversations", field=key)
    for key in ("difficulty", "template"):
        cell = record.get(key)
        if cell is not None and not cell.strip():
            del record[key]
        elif cell is not None and re.fullmatch(r"-?\d{1,9}", cell.strip()):
            record[key] = int(cell)
    return record


def _csv_table(path: Path, limit: int):
    """(row number, cells) for each row of a CSV file, the header being row 1 (as a spreadsheet
    numbers rows; a blank row still counts). A malformed row raises DataError naming it."""
    rows = csv.reader(_text_lines(path, limit))
    number = 0
    while True:
        number += 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as err:
            raise DataError(f"not valid CSV: {err}", path=path, record=number, unit="row") from None
        yield number, row


def _csv_rows(path: Path, max_chars: int):
    """(row number, record or DataError) for each non-blank row of a CSV file with a header row."""
    table = _csv_table(path, _line_limit(max_chars))
    _, header = next(table, (1, None))
    if header is None:
        raise DataError("file is empty (no header row)", path=path)
    _check_columns(header, path)
    for number, row in table:
        if row:
            yield number, _csv_record(header, row)


def _drop_nulls(row: dict) -> dict:
    """A table row as a record: null cells count as absent."""
    return {key: value for key, value in row.items() if value is not None}


def _parquet_rows(path: Path):
    """(row number, record) for each row of a Parquet file, read a batch of rows at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
        _check_columns(table.schema_arrow.names, path)
        number = 0
        for batch in table.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                number += 1
                yield number, _drop_nulls(row)
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"not a readable Parquet file ({type(err).__name__}: {err})", path=path) from None


def _one_split(dataset_dict, path: Path):
    """The split to read from a saved DatasetDict: 'train', or the only split there is."""
    if "train" in dataset_dict:
        return dataset_dict["train"]
    if len(dataset_dict) == 1:
        return next(iter(dataset_dict.values()))
    raise DataError(f"holds the splits {', '.join(dataset_dict)} and no 'train' split; save the split to "
                    "train on by itself (ds[name].save_to_disk(...))", path=path)


def _folder_rows(path: Path):
    """(row number, record) for each row of a folder written by `Dataset.save_to_disk`."""
    if not ((path / "state.json").is_file() or (path / "dataset_dict.json").is_file()):
        raise DataError("is not a file, nor a folder written by datasets' save_to_disk (it has no state.json "
                        "or dataset_dict.json)", path=path)
    from datasets import DatasetDict, load_from_disk

    try:
        dataset = load_from_disk(str(path))
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"could not read the saved dataset ({type(err).__name__}: {err})",
                        path=path) from None
    if isinstance(dataset, DatasetDict):
        dataset = _one_split(dataset, path)
    for number, row in enumerate(dataset, start=1):
        yield number, _drop_nulls(row)


def _records(path: Path, max_chars: int, max_bytes: int):
    """(the file's (number, record or DataError) pairs, what a number counts: "record" or "row")."""
    if not path.exists():
        raise DataError("file not found", path=path)
    if path.is_dir():
        return _folder_rows(path), "row"
    if not path.is_file():
        raise DataError("is not a file", path=path)
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        return _json_file_records(path, max_chars, max_bytes), "record"
    if suffix == ".parquet":
        return _parquet_rows(path), "row"
    if suffix == ".csv":
        return _csv_rows(path, max_chars), "row"
    raise DataError(f"unsupported file extension '{path.suffix}' (expected .json, .jsonl, .parquet, .csv "
                    "or a folder written by Dataset.save_to_disk)", path=path)


def load_examples_report(path, *, max_chars: int = 100_000, max_bytes: int = MAX_BYTES,
                         control_tokens=CONTROL_TOKENS) -> tuple[list[Example], list[DataError]]:
    """Every good example of a file, and one DataError per bad record (in file order).

    File-level problems (missing, unsupported extension, empty, not JSON at all, too large to
    read whole) still raise."""
    path = Path(path)
    numbered, unit = _records(path, max_chars, max_bytes)
    examples, errors = _parse_records(numbered, path, max_chars, control_tokens, unit)
    if not examples and not errors:
        raise DataError("file is empty (no records)", path=path)
    return examples, errors


def load_examples(path, *, skip_bad: bool = False, max_chars: int = 100_000, max_bytes: int = MAX_BYTES,
                  control_tokens=CONTROL_TOKENS) -> list[Example]:
    """The examples of an Alpaca, chat or ShareGPT JSON/JSONL file, a Parquet or CSV file, or a
    `save_to_disk` folder (see the module docstring).

    A bad record raises one DataError naming the file, the record and the field. With
    `skip_bad=True` the good records are returned and ONE DataWarning lists what was skipped.
    Records longer than `max_chars` characters (as JSON) are bad records; a JSON document
    larger than `max_bytes` is refused. Texts containing one of `control_tokens` (the shipped
    tokenizer's by default; pass your own tokenizer's `all_special_tokens`) are bad records."""
    examples, errors = load_examples_report(path, max_chars=max_chars, max_bytes=max_bytes,
                                            control_tokens=control_tokens)
    if errors and not skip_bad:
        raise errors[0]
    if errors:
        numbers = ", ".join(str(err.record) for err in errors)
        details = "\n".join(f"  {err}" for err in errors)
        warnings.warn(f"{path}: skipped {len(errors)} bad record(s) ({numbers}), kept {len(examples)}:\n"
                      f"{details}", DataWarning, stacklevel=2)
    return examples


# ---------------------------------------------------------------------------------------------
# Examples -> files


def _alpaca_record(example: Example) -> dict:
    """All fields; `history` (as chat messages) only when the example has one."""
    record = asdict(example)
    history = record.pop("history")
    if history:
        record["history"] = [{"role": role, "content": content} for role, content in history]
    return record


def _messages_record(example: Example) -> dict:
    return {"messages": to_messages(example)}


def _render(examples: list[Example], path: Path, style: str) -> str:
    """The file's text for a style and extension."""
    if style not in ("alpaca", "messages"):
        raise ValueError(f"unknown style {style!r} (expected 'alpaca' or 'messages')")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES or (style == "messages" and suffix != ".jsonl"):
        wanted = ".jsonl" if style == "messages" else ".json or .jsonl"
        raise ValueError(f"{path}: style {style!r} needs a {wanted} file name")
    to_record = _alpaca_record if style == "alpaca" else _messages_record
    records = [to_record(example) for example in examples]
    if suffix == ".json":
        return json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def save_examples(examples, path, *, style: str = "alpaca", overwrite: bool = False) -> Path:
    """Write examples to `path` and return it.

    - style="alpaca": all fields (instruction, input, output, task, cluster, kind, difficulty,
      template, and `history` for a conversation), as a JSON list for a .json path or one object
      per line for .jsonl; lossless.
    - style="messages": JSONL of {"messages": [..history, user, assistant]} (see `to_messages`); the
      input is merged into the user turn and the labels are not written.

    The write is atomic; an existing file is only replaced with overwrite=True."""
    path = Path(path)
    examples = list(examples)
    for i, example in enumerate(examples):
        if not isinstance(example, Example):
            raise TypeError(f"examples[{i}] must be an Example (got {type(example).__name__})")
    text = _render(examples, path, style)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    write_atomically(path, text)
    return path


# ---------------------------------------------------------------------------------------------
# Hugging Face datasets

_MESSAGE_FEATURE = {"role": "string", "content": "string"}


def _features(with_history: bool):
    """One column per Example field (`history` only when asked: a list of role / content messages)."""
    from datasets import Features, Value

    columns = {f.name: Value("int64") if f.type in (int, "int") else Value("string")
               for f in fields(Example) if f.name != "history"}
    if with_history:
        columns["history"] = [{key: Value(kind) for key, kind in _MESSAGE_FEATURE.items()}]
    return Features(columns)


def to_dataset(examples):
    """A `datasets.Dataset` with one column per Example field (lossless, see `from_dataset`);
    a `history` column (chat messages) is added only when an example is a conversation."""
    from datasets import Dataset

    examples = list(examples)
    with_history = any(example.history for example in examples)
    columns = {f.name: [getattr(example, f.name) for example in examples]
               for f in fields(Example) if f.name != "history"}
    if with_history:
        columns["history"] = [_alpaca_record(example).get("history", []) for example in examples]
    return Dataset.from_dict(columns, features=_features(with_history))


def from_dataset(ds, *, max_chars: int = 100_000, control_tokens=CONTROL_TOKENS) -> list[Example]:
    """Examples from a `datasets.Dataset` with Alpaca columns, a `messages` or a `conversations` column.

    Rows are validated like file records (row number = row index + 1); null cells count as absent."""
    rows = (_drop_nulls(row) for row in ds)
    examples, errors = _parse_records(enumerate(rows, start=1), "dataset", max_chars, control_tokens, "row")
    if errors:
        raise errors[0]
    return examples
