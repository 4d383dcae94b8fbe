"""Human rating: a JSONL store that only ever grows, a rating widget, and two simulated raters.

A rating is one JSON object per line:

    {"item_id": "q07", "rater": "ana", "score": 4, "comment": "right items, wrong case",
     "instruction": ..., "input": ..., "answer": ..., "reference": ..., "task": ..., "time": ...}

`append_rating` adds one complete line with a single append-mode write followed by flush + fsync,
so earlier ratings are never rewritten or truncated; a torn last line (a crash in the middle of a
write by some other program) is left alone, reported by `load_ratings` with its line number, and
the next rating starts on a line of its own. Rating an item again appends a new line; `latest`
keeps each rater's last score per item.

`RatingWidget(items, path, rater)` shows an instruction, the model's answer and the reference, and
records a score 1-5 and a free comment. It works headlessly: set `widget.score.value` and
`widget.comment.value`, then `widget.save_button.click()` (or `widget.save()`).

`simulate_raters` makes the small rating set shipped in `itlib/assets/ratings/` (rater_a.jsonl,
rater_b.jsonl): two *simulated* raters scoring the same 40 answers, deterministically from a seed
(`python -m itlib.rating` rewrites them).
"""

from __future__ import annotations

import html
import json
import os
import random
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from itlib.widgets import StaticHTMLBox, ipywidgets_module

SCALE = (1, 2, 3, 4, 5)
SCALE_MEANING = {1: "unusable", 2: "mostly wrong", 3: "partly right", 4: "right, small flaw", 5: "exactly right"}
RATINGS_DIR = Path(__file__).parent / "assets" / "ratings"
ITEM_FIELDS = ("instruction", "input", "answer", "reference", "task")


class RatingError(ValueError):
    """A bad rating line or record; `path` and `line` say where."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path, self.line = path, line
        where = f"{path}, line {line}: " if path is not None and line is not None else ""
        super().__init__(where + message)


@dataclass(frozen=True)
class RatingItem:
    """What a rater sees: the instruction and input, the model's answer and the reference."""

    item_id: str
    instruction: str
    input: str
    answer: str
    reference: str
    task: str = ""


@dataclass(frozen=True)
class Rating:
    item_id: str
    rater: str
    score: int
    comment: str = ""
    instruction: str = ""
    input: str = ""
    answer: str = ""
    reference: str = ""
    task: str = ""
    time: str | None = field(default=None, compare=False)

    def __post_init__(self):
        check_rating(asdict(self))

    @classmethod
    def of(cls, item: RatingItem, rater: str, score: int, comment: str = "", time: str | None = None) -> Rating:
        return cls(item.item_id, rater, score, comment, item.instruction, item.input, item.answer, item.reference,
                   item.task, time)

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["time"] is None:
            del d["time"]
        return d


def check_rating(record) -> None:
    """Raise `RatingError` saying which field of a rating record is missing or wrong."""
    if not isinstance(record, dict):
        raise RatingError(f"a rating is a JSON object, got {type(record).__name__}")
    for key in ("item_id", "rater", "score"):
        if key not in record:
            raise RatingError(f"missing field {key!r}")
    for key in ("item_id", "rater"):
        if not isinstance(record[key], str) or not record[key].strip():
            raise RatingError(f"{key!r} must be a non-empty string, got {record[key]!r}")
    score = record["score"]
    if isinstance(score, bool) or not isinstance(score, int) or score not in SCALE:
        raise RatingError(f"'score' must be an integer from {SCALE[0]} to {SCALE[-1]}, got {score!r}")
    for key in ("comment", *ITEM_FIELDS):
        if not isinstance(record.get(key, ""), str):
            raise RatingError(f"{key!r} must be a string, got {record[key]!r}")
    if record.get("time") is not None and not isinstance(record["time"], str):
        raise RatingError(f"'time' must be a string, got {record['time']!r}")
    unknown = set(record) - set(Rating.__dataclass_fields__)
    if unknown:
        raise RatingError(f"unknown field(s) {sorted(unknown)}")


# ------------------------------------------------------------------------------------- the store


def append_rating(path: str | Path, rating: Rating) -> Path:
    """Append `rating` as one complete JSON line: one append-mode write, then flush + fsync.
    Earlier lines are never rewritten; the file and its folder are created when missing."""
    if not isinstance(rating, Rating):
        raise TypeError(f"append_rating takes a Rating, got {type(rating).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(rating.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    try:
        if os.fstat(fd).st_size and _last_byte(path) != b"\n":
            data = b"\n" + data  # a torn line before us stays as it is (and is reported on load)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


def _parse_line(raw: bytes, path: Path, number: int) -> Rating:
    """One JSONL line -> a checked `Rating`; RatingError naming file and line otherwise."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RatingError(f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at byte {err.start + 1} of the line)",
                          path, number) from None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise RatingError(f"not valid JSON ({err.msg} at column {err.colno}): {line.strip()[:60]!r}",
                          path, number) from None
    try:
        check_rating(record)
        return Rating(**record)
    except RatingError as err:
        raise RatingError(str(err), path, number) from None


def load_ratings_report(path: str | Path) -> tuple[list[Rating], list[RatingError]]:
    """(every valid rating in file order, one RatingError per bad line): what `load_ratings` reads,
    without deciding what to do about the bad lines."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no ratings file at {path}")
    ratings, errors = [], []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                ratings.append(_parse_line(raw, path, number))
            except RatingError as err:
                errors.append(err)
    return ratings, errors


def load_ratings(path: str | Path, skip_bad: bool = False) -> list[Rating]:
    """All ratings in a JSONL file, in file order (blank lines are ignored). A line that is not a
    valid rating (bad UTF-8, bad JSON, a bad field) raises `RatingError` naming the file and line, or
    with `skip_bad=True` is skipped with a warning listing every bad line."""
    ratings, errors = load_ratings_report(path)
    if errors and not skip_bad:
        raise errors[0]
    if errors:
        warnings.warn(f"skipped {len(errors)} bad line(s) in {path}: " + "; ".join(str(e) for e in errors),
                      stacklevel=2)
    return ratings


def latest(ratings: Iterable[Rating]) -> dict[tuple[str, str], Rating]:
    """Each (rater, item_id)'s last rating: re-rating an item appends, the newest line counts."""
    return {(r.rater, r.item_id): r for r in ratings}


def paired_scores(ratings_a: Iterable[Rating], ratings_b: Iterable[Rating]) -> tuple[list[str], list[int], list[int]]:
    """(item ids, scores of A, scores of B) for the items both raters rated (each one's latest score),
    in A's order."""
    a = {item: r.score for (_, item), r in latest(ratings_a).items()}
    b = {item: r.score for (_, item), r in latest(ratings_b).items()}
    items = [i for i in a if i in b]
    return items, [a[i] for i in items], [b[i] for i in items]


# ------------------------------------------------------------------------------------- the widget


class RatingWidget(StaticHTMLBox):
    """Rate answers one by one: the item (instruction, input, answer, reference), a score 1-5
    (`score`, ToggleButtons), a free `comment` (Textarea), and `save_button`, `prev_button`,
    `next_button`. Saving appends to `path` and moves on to the next item. `index` is the current
    item; `status.value` says what happened last; `saved` lists the ratings saved by this widget."""

    def __init__(self, items: Sequence[RatingItem], path: str | Path, rater: str):
        w = ipywidgets_module()
        super().__init__()
        if not items:
            raise ValueError("RatingWidget needs at least one item to rate")
        if not isinstance(rater, str) or not rater.strip():
            raise ValueError(f"rater must be a non-empty name, got {rater!r}")
        self.items, self.path, self.rater = list(items), Path(path), rater
        self.saved: list[Rating] = []
        self.view = w.HTML()
        self.score = w.ToggleButtons(options=[(f"{s}", s) for s in SCALE], value=None, description="score",
                                     tooltips=[SCALE_MEANING[s] for s in SCALE],
                                     style={"button_width": "48px"})
        self.comment = w.Textarea(placeholder="why this score? (optional)", description="comment",
                                  layout=w.Layout(width="95%", height="60px"))
        self.save_button = w.Button(description="save rating", button_style="primary", icon="check")
        self.prev_button = w.Button(description="previous", icon="arrow-left")
        self.next_button = w.Button(description="next", icon="arrow-right")
        self.status = w.HTML()
        self.save_button.on_click(lambda _: self.save())
        self.prev_button.on_click(lambda _: self.show(self.index - 1))
        self.next_button.on_click(lambda _: self.show(self.index + 1))
        self.children = [self.view, self.score, self.comment,
                         w.HBox([self.prev_button, self.save_button, self.next_button]), self.status]
        done, bad = self.rated_ids()
        first = next((i for i, item in enumerate(self.items) if item.item_id not in done), 0)
        self.index = 0
        self.show(first)
        notes = []
        if done:
            notes.append(f"{len(done)} item(s) already rated by {html.escape(rater)} in {html.escape(str(path))}")
        if bad:
            lines = ", ".join(str(e.line) for e in bad[:10]) + (" …" if len(bad) > 10 else "")
            notes.append(f"<b>skipped {len(bad)} unreadable line(s) of {html.escape(str(path))}</b> (line {lines}): "
                         f"{html.escape(str(bad[0]))}")
        self.status.value = "<br>".join(notes)

    def rated_ids(self) -> tuple[set[str], list[RatingError]]:
        """(items this rater has rated in the file, the file's unreadable lines): a bad line is skipped,
        never a reason to start again at item 1."""
        if not self.path.exists():
            return set(), []
        ratings, bad = load_ratings_report(self.path)
        return {r.item_id for r in ratings if r.rater == self.rater}, bad

    @property
    def item(self) -> RatingItem:
        return self.items[self.index]

    def show(self, index: int) -> None:
        """Show item `index` (clamped to the list) with empty controls."""
        self.index = max(0, min(index, len(self.items) - 1))
        self.view.value = item_html(self.item, self.index, len(self.items))
        self.score.value = None
        self.comment.value = ""
        self.prev_button.disabled = self.index == 0
        self.next_button.disabled = self.index == len(self.items) - 1
        self.status.value = ""  # a message about the item left behind does not belong to this one

    def save(self) -> Rating | None:
        """Append the current score and comment for the current item, then show the next item.
        Without a score nothing is written and `status` says so."""
        if self.score.value is None:
            self.status.value = "<b>choose a score from 1 to 5 first</b> — nothing saved"
            return None
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rating = Rating.of(self.item, self.rater, int(self.score.value), self.comment.value.strip(), stamp)
        try:
            append_rating(self.path, rating)
        except OSError as err:
            self.status.value = f"<b>could not save</b>: {html.escape(str(err))}"
            return None
        self.saved.append(rating)
        self.status.value = (f"saved {rating.score} for {html.escape(rating.item_id)} to "
                             f"{html.escape(str(self.path))} ({len(self.saved)} this session)")
        if self.index < len(self.items) - 1:
            message = self.status.value
            self.show(self.index + 1)
            self.status.value = message
        return rating

    def static_html(self) -> str:
        return (item_html(self.item, self.index, len(self.items))
                + f"<p><i>rating widget: scores 1–5 are saved to {html.escape(str(self.path))}</i></p>")

    def __repr__(self) -> str:
        return f"RatingWidget({len(self.items)} items, rater={self.rater!r}, path={str(self.path)!r})"


def item_html(item: RatingItem, index: int, total: int) -> str:
    e = html.escape
    row = '<tr><td style="padding-right:1em;color:#555">{}</td><td><code>{}</code></td></tr>'
    rows = "".join(row.format(k, e(v) if v else "<i>(empty)</i>") for k, v in (
        ("instruction", item.instruction), ("input", item.input), ("model answer", item.answer),
        ("reference", item.reference)))
    return (f"<div><b>item {index + 1} of {total}</b> · {e(item.item_id)} {e(item.task)}"
            f"<table>{rows}</table></div>")


# ------------------------------------------------------------------------------------- simulated raters

# quality level -> how the simulated model's answer differs from the reference
_QUALITY_WEIGHTS = {5: 0.35, 4: 0.15, 3: 0.2, 2: 0.15, 1: 0.15}
# rater noise: P(offset) added to the true quality, then clipped to 1..5
RATER_NOISE = {"rater_a": {-1: 0.1, 0: 0.8, 1: 0.1}, "rater_b": {-1: 0.3, 0: 0.6, 1: 0.1}}
_COMMENTS = {5: ["correct", "exactly right", "perfect"], 4: ["right content, sloppy form", "small slip"],
             3: ["partly right", "one item wrong"], 2: ["mostly wrong", "misses the point"],
             1: ["unusable", "no answer", "ignores the instruction"]}


def _simulated_answer(reference: str, input_text: str, quality: int, rng: random.Random) -> str:
    words = reference.split()
    if quality == 5:
        return reference
    if quality == 4:  # the right content, a formatting slip
        return reference.capitalize() + "." if reference[:1].islower() else reference + "."
    if quality == 3:  # one item wrong
        pool = sorted(set(input_text.split()) | {"red", "7", "no", "cat"})
        i = rng.randrange(len(words))
        return " ".join([w if k != i else rng.choice([p for p in pool if p != w]) for k, w in enumerate(words)])
    if quality == 2:  # half of it, or a wrong single answer
        return " ".join(words[: len(words) // 2]) if len(words) > 1 else input_text.split()[0]
    return rng.choice(["", input_text, "the the the"])  # 1: nothing useful


def simulate_raters(n_items: int = 40, seed: int = 0) -> tuple[list[RatingItem], dict[str, list[Rating]]]:
    """`n_items` answers of a simulated model to suite examples, each with a true quality 1-5, and
    two simulated raters who score quality + noise (`RATER_NOISE`: rater B is harsher). Returns
    (items, {"rater_a": ratings, "rater_b": ratings}); deterministic for a given seed."""
    from itlib.tasks import SUITE, _rng

    rng = random.Random(seed)
    levels, weights = zip(*_QUALITY_WEIGHTS.items())
    items, truth = [], []
    for i in range(n_items):
        task = SUITE[i % len(SUITE)]
        ex = task.example(_rng(seed, "ratings", i), difficulty=1 + i % 3)
        quality = rng.choices(levels, weights)[0]
        answer = _simulated_answer(ex.output, ex.input, quality, rng)
        quality = 5 if answer == ex.output else quality
        items.append(RatingItem(f"q{i:02d}", ex.instruction, ex.input, answer, ex.output, task.name))
        truth.append(quality)
    ratings = {}
    for rater, noise in RATER_NOISE.items():
        r_rng = random.Random(f"{seed}-{rater}")
        offsets, probs = zip(*noise.items())
        rows = []
        for item, quality in zip(items, truth):
            score = min(5, max(1, quality + r_rng.choices(offsets, probs)[0]))
            rows.append(Rating.of(item, rater, score, r_rng.choice(_COMMENTS[score])))
        ratings[rater] = rows
    return items, ratings


def write_simulated(folder: str | Path = RATINGS_DIR, n_items: int = 40, seed: int = 0,
                    overwrite: bool = False) -> list[Path]:
    """Write the simulated raters' files `rater_a.jsonl` and `rater_b.jsonl` into `folder`
    (atomically: a temporary file, then a rename; an existing file only with `overwrite=True`)."""
    from itlib.files import write_atomically

    _, ratings = simulate_raters(n_items, seed)
    paths = []
    for rater, rows in ratings.items():
        text = "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in rows)
        paths.append(write_atomically(Path(folder) / f"{rater}.jsonl", text, overwrite=overwrite))
    return paths


def shipped_ratings() -> dict[str, list[Rating]]:
    """The shipped simulated ratings: {"rater_a": [...], "rater_b": [...]}."""
    return {name: load_ratings(RATINGS_DIR / f"{name}.jsonl") for name in RATER_NOISE}


if __name__ == "__main__":
    for p in write_simulated(overwrite=True):
        print("wrote", p)
