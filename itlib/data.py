"""Instruction-tuning data: the `Example` record, and reading / writing it safely.

An example is a triple (I, X, Y): an instruction I, an optional input X and the reference
output Y, plus a few labels saying where it comes from (task, cluster, kind, ...).

Files this module reads (`load_examples`):

- Alpaca style, as a JSON list (``.json``) or one object per line (``.jsonl``)::

      {"instruction": "...", "input": "...", "output": "..."}

  `input` is optional (default ""); `task`, `cluster`, `kind`, `difficulty` and `template`
  are optional; any other key (e.g. `id`, `name`) is ignored. When records carry an `id`,
  ids must be unique.
- Chat style, one object per line (or a JSON list)::

      {"messages": [{"role": "system", "content": "..."},      # optional, first only
                    {"role": "user", "content": "..."},
                    {"role": "assistant", "content": "..."}]}

  Roles must go [system,] user, assistant, user, assistant, ... and end with the assistant.
  The LAST user -> assistant pair becomes instruction -> output (input ""); earlier turns
  and the system message are ignored.

Every bad record raises ONE `DataError` naming the file, the record number (1-based line
for JSONL, counting blank lines; 1-based position for a JSON list) and the field. Nothing
is silently dropped: `load_examples(path, skip_bad=True)` skips bad records but warns once,
listing every skipped record; `load_examples_report` returns the errors instead.

Files this module writes (`save_examples`) are written atomically and never overwrite an
existing file unless asked to.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

__all__ = [
    "KINDS", "ROLES", "DataError", "DataWarning", "Example", "from_dataset", "from_messages", "load_examples",
    "load_examples_report", "save_examples", "to_dataset", "to_messages",
]

KINDS = ("generation", "classification", "labelling")
ROLES = ("system", "user", "assistant")
SUFFIXES = (".json", ".jsonl")
METADATA = ("task", "cluster", "kind", "difficulty", "template")


class DataError(ValueError):
    """One clear message naming the file, the record number (1-based line or list index) and the field.

    `str(err)` reads e.g. ``data.jsonl, record 7, field 'output': must be a non-empty string (got int 3)``.
    The parts are kept as attributes: `message` (the reason alone), `path`, `record`, `field`.
    """

    def __init__(self, message, *, path=None, record=None, field=None):
        self.message, self.path, self.record, self.field = message, path, record, field
        super().__init__(self._render())

    def _render(self) -> str:
        where = [str(self.path)] if self.path is not None else []
        if self.record is not None:
            where.append(f"record {self.record}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def located(self, *, path=None, record=None) -> DataError:
        """The same error with the file and record filled in (where they were unknown)."""
        return DataError(self.message, path=self.path if self.path is not None else path,
                         record=self.record if self.record is not None else record, field=self.field)

    def __reduce__(self):
        return _rebuild_error, (self.message, self.path, self.record, self.field)


def _rebuild_error(message, path, record, field):
    return DataError(message, path=path, record=record, field=field)


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


def _check_text(value, field: str, *, allow_empty: bool = False) -> None:
    """A text field must be a str, without NUL characters, and (unless allowed) not blank."""
    if not isinstance(value, str):
        wanted = "a string" if allow_empty else "a non-empty string"
        raise DataError(f"must be {wanted} (got {_describe(value)})", field=field)
    if not allow_empty and not value.strip():
        raise DataError(f"must not be empty or whitespace-only (got {_describe(value)})", field=field)
    if "\x00" in value:
        raise DataError(f"contains a NUL character (\\x00) at position {value.index(chr(0))}", field=field)


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


# ---------------------------------------------------------------------------------------------
# chat messages


def to_messages(example: Example, system: str | None = None) -> list[dict]:
    """The example as a chat: [system,] user, assistant.

    The user's content is the instruction, then a blank line and the input when there is one."""
    user = f"{example.instruction}\n\n{example.input}" if example.input else example.instruction
    head = [{"role": "system", "content": system}] if system is not None else []
    return [*head, {"role": "user", "content": user}, {"role": "assistant", "content": example.output}]


def _check_message(message, i: int) -> str:
    """Validate messages[i] (an object with a known role and string content); return its role."""
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        raise DataError(f"must be an object with 'role' and 'content' (got {_describe(message)})",
                        field=where)
    for key in ("role", "content"):
        if key not in message:
            raise DataError("is missing", field=f"{where}.{key}")
    role = message["role"]
    if role not in ROLES:
        raise DataError(f"unknown role {_name(role)} (expected system, user or assistant)",
                        field=f"{where}.role")
    _check_text(message["content"], f"{where}.content", allow_empty=role == "system")
    return role


def _check_turn_order(roles: list[str]) -> None:
    """Roles must go [system,] user, assistant, user, assistant, ... and end with assistant."""
    start = 1 if roles[0] == "system" else 0
    for i in range(start, len(roles)):
        expected = "user" if (i - start) % 2 == 0 else "assistant"
        if roles[i] != expected:
            raise DataError(f"expected role '{expected}' here, got '{roles[i]}' (roles must go "
                            "[system,] user, assistant, user, assistant, ...)", field=f"messages[{i}].role")
    if len(roles) == start:
        raise DataError("has only a system message; needs a user message and an assistant reply",
                        field="messages")
    if roles[-1] != "assistant":
        raise DataError(f"the last message must be from the assistant (got '{roles[-1]}')",
                        field=f"messages[{len(roles) - 1}].role")


def _pair_from_messages(messages) -> tuple[str, str]:
    """(last user content, last assistant content) of a validated chat."""
    if not isinstance(messages, list):
        raise DataError(f"must be a list of messages (got {_describe(messages)})", field="messages")
    if not messages:
        raise DataError("is empty; needs a user message and an assistant reply", field="messages")
    roles = [_check_message(message, i) for i, message in enumerate(messages)]
    _check_turn_order(roles)
    return messages[-2]["content"], messages[-1]["content"]


def from_messages(messages, **metadata) -> Example:
    """An Example from a chat: the last user turn is the instruction (input ""), the last
    assistant turn the output; the system message and earlier turns are ignored.

    `metadata` (task, cluster, kind, difficulty, template) is passed on to the Example."""
    instruction, output = _pair_from_messages(messages)
    return Example(instruction=instruction, input="", output=output, **metadata)


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
    """An Example from an Alpaca-style record."""
    for key in ("instruction", "output"):
        if key not in record:
            hint = " (self-instruct 'instances' must be expanded into one record each)" \
                if key == "output" and "instances" in record else ""
            raise DataError(f"is missing{hint}", field=key)
    return Example(instruction=record["instruction"], input=record.get("input", ""),
                   output=record["output"], **_metadata(record))


def _parse_record(record, max_chars: int) -> Example:
    """Validate one record (Alpaca or chat) and turn it into an Example; raises DataError."""
    if not isinstance(record, dict):
        raise DataError(f"must be a JSON object (got {_describe(record)})")
    size = len(json.dumps(record, ensure_ascii=False))
    if size > max_chars:
        raise DataError(f"record is too large ({size:,} characters > max_chars={max_chars:,})",
                        field=_largest_field(record))
    if "messages" in record and "instruction" in record:
        raise DataError("record has both 'messages' and 'instruction'; ambiguous, keep one of them",
                        field="messages")
    if "messages" in record:
        return from_messages(record["messages"], **_metadata(record))
    return _alpaca_example(record)


def _parse_records(numbered, path, max_chars: int) -> tuple[list[Example], list[DataError]]:
    """Parse (record number, record or DataError) pairs; bad records become errors, in order.

    Also checks that `id` values, where records carry one, are unique."""
    examples, errors, first_seen = [], [], {}
    for number, record in numbered:
        try:
            if isinstance(record, DataError):
                raise record
            if isinstance(record, dict) and "id" in record:
                key = json.dumps(record["id"], sort_keys=True)
                if key in first_seen:
                    raise DataError(f"duplicate id {_describe(record['id'])} (first seen in record "
                                    f"{first_seen[key]})", field="id")
                first_seen[key] = number
            examples.append(_parse_record(record, max_chars))
        except DataError as err:
            errors.append(err.located(path=path, record=number))
    return examples, errors


# ---------------------------------------------------------------------------------------------
# files -> records


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, without a UTF-8 byte-order mark; file-level problems raise DataError."""
    if not path.exists():
        raise DataError("file not found", path=path)
    if not path.is_file():
        raise DataError("is not a file", path=path)
    if path.suffix.lower() not in SUFFIXES:
        raise DataError(f"unsupported file extension '{path.suffix}' (expected .json or .jsonl)", path=path)
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.strip():
        raise DataError("file is empty (no records)", path=path)
    return raw


def _decode_error(raw: bytes, err: UnicodeDecodeError) -> str:
    """'not valid UTF-8 ...' naming the offending byte and where it is."""
    line = raw.count(b"\n", 0, err.start) + 1
    column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
    return (f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at line {line}, column {column}); "
            "re-save the file as UTF-8")


def _jsonl_records(raw: bytes):
    """(line number, record or DataError) for each non-blank line; blank lines still count."""
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            yield number, DataError(_decode_error(line, err).replace(" at line 1,", ","))
            continue
        try:
            yield number, json.loads(text)
        except json.JSONDecodeError as err:
            yield number, DataError(f"invalid JSON: {err.msg} (column {err.colno})")


def _json_records(raw: bytes, path: Path):
    """(1-based position, record) for a JSON document: a list of records or a single record."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(_decode_error(raw, err), path=path) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}",
                        path=path) from None
    if isinstance(document, dict):
        document = [document]
    if not isinstance(document, list):
        raise DataError(f"the top level must be a list of records or one record object "
                        f"(got {_describe(document)})", path=path)
    if not document:
        raise DataError("file is empty (the list has no records)", path=path)
    return list(enumerate(document, start=1))


def _json_error(raw: bytes) -> json.JSONDecodeError | None:
    """Why the whole file is not one JSON document (None when it is, or is not UTF-8)."""
    try:
        json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as err:
        return err
    except UnicodeDecodeError:
        return None
    return None


def _numbered_records(raw: bytes, path: Path):
    """Records by number, deciding the layout by extension and content:

    - .json is one JSON document, unless it is really one object per line (JSON Lines);
    - .jsonl is JSON Lines, unless the whole file is one JSON list (e.g. pretty-printed)."""
    if path.suffix.lower() == ".json":
        err = _json_error(raw)
        first_line = raw.lstrip().split(b"\n", 1)[0].strip()
        as_lines = err is not None and err.msg == "Extra data" and first_line.startswith(b"{")
    else:
        as_lines = not (raw.lstrip().startswith(b"[") and _json_error(raw) is None)
    return list(_jsonl_records(raw)) if as_lines else _json_records(raw, path)


def load_examples_report(path, *, max_chars: int = 100_000) -> tuple[list[Example], list[DataError]]:
    """Every good example of a file, and one DataError per bad record (in file order).

    File-level problems (missing, unsupported extension, empty, not JSON at all) still raise."""
    path = Path(path)
    numbered = _numbered_records(_read_bytes(path), path)
    if not numbered:
        raise DataError("file is empty (only blank lines)", path=path)
    return _parse_records(numbered, path, max_chars)


def load_examples(path, *, skip_bad: bool = False, max_chars: int = 100_000) -> list[Example]:
    """The examples of an Alpaca JSON/JSONL or chat JSONL file (see the module docstring).

    A bad record raises one DataError naming the file, the record and the field. With
    `skip_bad=True` the good records are returned and ONE DataWarning lists what was skipped.
    Records longer than `max_chars` characters (as JSON) are bad records."""
    examples, errors = load_examples_report(path, max_chars=max_chars)
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
    return asdict(example)


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


def _write_atomically(text: str, path: Path) -> None:
    """Write to a temporary file in the same folder, then rename it over `path` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with open(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)  # mkstemp makes it private (0600); a data file is normally readable
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def save_examples(examples, path, *, style: str = "alpaca", overwrite: bool = False) -> Path:
    """Write examples to `path` and return it.

    - style="alpaca": all fields (instruction, input, output, task, cluster, kind, difficulty,
      template), as a JSON list for a .json path or one object per line for .jsonl; lossless.
    - style="messages": JSONL of {"messages": [user, assistant]} (see `to_messages`); the input
      is merged into the user turn and the labels are not written.

    The write is atomic; an existing file is only replaced with overwrite=True."""
    path = Path(path)
    examples = list(examples)
    for i, example in enumerate(examples):
        if not isinstance(example, Example):
            raise TypeError(f"examples[{i}] must be an Example (got {type(example).__name__})")
    text = _render(examples, path, style)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    _write_atomically(text, path)
    return path


# ---------------------------------------------------------------------------------------------
# Hugging Face datasets


def _features():
    from datasets import Features, Value

    return Features({f.name: Value("int64") if f.type in (int, "int") else Value("string")
                     for f in fields(Example)})


def to_dataset(examples):
    """A `datasets.Dataset` with one column per Example field (lossless, see `from_dataset`)."""
    from datasets import Dataset

    columns = {f.name: [getattr(example, f.name) for example in examples] for f in fields(Example)}
    return Dataset.from_dict(columns, features=_features())


def from_dataset(ds, *, max_chars: int = 100_000) -> list[Example]:
    """Examples from a `datasets.Dataset` with Alpaca columns or a `messages` column.

    Rows are validated like file records (record number = row index + 1); null cells count as absent."""
    rows = ({key: value for key, value in row.items() if value is not None} for row in ds)
    examples, errors = _parse_records(enumerate(rows, start=1), "dataset", max_chars)
    if errors:
        raise errors[0]
    return examples
