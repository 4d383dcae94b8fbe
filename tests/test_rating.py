"""The rating store only grows, names the file and line of a bad record, and the widget works headlessly."""

import json
import threading

import pytest

from itlib.rating import (
    RATINGS_DIR,
    Rating,
    RatingError,
    RatingItem,
    RatingWidget,
    append_rating,
    latest,
    load_ratings,
    paired_scores,
    shipped_ratings,
    simulate_raters,
    write_simulated,
)

ITEMS = [RatingItem(f"i{k}", "Reverse the items.", f"red {k} cat", f"cat {k} red", f"cat {k} red", "reverse")
         for k in range(3)]


def rating(k: int = 0, score: int = 4, rater: str = "ana", comment: str = "") -> Rating:
    return Rating.of(ITEMS[k], rater, score, comment)


def test_append_keeps_every_earlier_rating_and_reloads(tmp_path):
    path = tmp_path / "sub" / "ratings.jsonl"
    written = [rating(0, 5), rating(1, 2, comment="wrong order — 顺序错了"), rating(0, 3)]
    for k, r in enumerate(written):
        before = path.read_bytes() if path.exists() else b""
        append_rating(path, r)
        after = path.read_bytes()
        assert after.startswith(before) and after.endswith(b"\n")  # never rewrites what was there
        assert len(after.splitlines()) == k + 1
    assert load_ratings(path) == written
    assert latest(load_ratings(path))[("ana", "i0")].score == 3  # re-rating appends; the newest counts


def test_concurrent_appends_lose_nothing(tmp_path):
    path = tmp_path / "r.jsonl"

    def worker(rater):
        for k in range(25):
            append_rating(path, Rating(f"item{k}", rater, 1 + k % 5, "x" * 200))

    threads = [threading.Thread(target=worker, args=(f"r{n}",)) for n in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(load_ratings(path)) == 100


def test_a_torn_last_line_is_reported_and_the_next_rating_starts_a_new_line(tmp_path):
    path = tmp_path / "r.jsonl"
    append_rating(path, rating(0))
    with open(path, "ab") as f:
        f.write(b'{"item_id": "i1", "rater": "ana", "sco')  # a crash in the middle of a write
    with pytest.raises(RatingError) as err:
        load_ratings(path)
    assert str(path) in str(err.value) and "line 2" in str(err.value) and err.value.line == 2
    append_rating(path, rating(2))
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and lines[0] == json.dumps(rating(0).to_dict())
    with pytest.warns(UserWarning, match="line 2"):
        assert [r.item_id for r in load_ratings(path, skip_bad=True)] == ["i0", "i2"]


@pytest.mark.parametrize("line,message", [
    ('{"item_id": "a", "rater": "b", "score": 7}', "integer from 1 to 5"),
    ('{"item_id": "a", "rater": "b", "score": true}', "integer from 1 to 5"),
    ('{"item_id": "a", "score": 3}', "missing field 'rater'"),
    ('{"item_id": "a", "rater": "b", "score": 3, "stars": 2}', "unknown field"),
    ('[1, 2]', "JSON object"),
    ('{"item_id": "a", "rater": "", "score": 3}', "non-empty"),
])
def test_bad_records_name_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(rating(0).to_dict()) + "\n\n" + line + "\n")
    with pytest.raises(RatingError, match=message) as err:
        load_ratings(path)
    assert f"{path}, line 3" in str(err.value)


def test_invalid_ratings_are_refused_before_writing(tmp_path):
    with pytest.raises(RatingError, match="integer from 1 to 5"):
        Rating("a", "b", 0)
    with pytest.raises(TypeError):
        append_rating(tmp_path / "r.jsonl", {"item_id": "a", "rater": "b", "score": 3})
    assert not (tmp_path / "r.jsonl").exists()
    with pytest.raises(FileNotFoundError, match="no ratings file"):
        load_ratings(tmp_path / "missing.jsonl")


def test_widget_headless_save_writes_the_file(tmp_path):
    path = tmp_path / "ratings.jsonl"
    w = RatingWidget(ITEMS, path, rater="ana")
    assert w.index == 0 and "Reverse the items." in w.view.value and "cat 0 red" in w.view.value
    w.save_button.click()  # no score chosen: nothing is written
    assert not path.exists() and "choose a score" in w.status.value
    w.score.value, w.comment.value = 4, "fine"
    w.save_button.click()
    assert w.index == 1 and w.score.value is None and w.comment.value == ""  # moved on, controls cleared
    w.score.value = 2
    w.save_button.click()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["item_id"], r["rater"], r["score"], r["comment"]) for r in records] == [
        ("i0", "ana", 4, "fine"), ("i1", "ana", 2, "")]
    assert records[0]["answer"] == "cat 0 red" and "time" in records[0]
    assert [r.score for r in load_ratings(path)] == [4, 2] and len(w.saved) == 2


def test_widget_navigation_and_resume(tmp_path):
    path = tmp_path / "ratings.jsonl"
    w = RatingWidget(ITEMS, path, rater="ana")
    assert w.prev_button.disabled
    w.next_button.click()
    w.next_button.click()
    assert w.index == 2 and w.next_button.disabled
    w.score.value = 5
    w.save()
    assert w.index == 2  # the last item stays shown
    again = RatingWidget(ITEMS, path, rater="ana")  # a new session starts at the first unrated item
    assert again.index == 0 and "1 item(s) already rated" in again.status.value
    assert RatingWidget(ITEMS, path, rater="bo").status.value == ""
    bundle = w._repr_mimebundle_()
    assert "text/html" in bundle and "item 3 of 3" in bundle["text/html"]
    with pytest.raises(ValueError, match="at least one item"):
        RatingWidget([], path, rater="ana")


def test_shipped_ratings_are_the_simulated_ones(tmp_path):
    shipped = shipped_ratings()
    _, simulated = simulate_raters()
    assert shipped == simulated  # the files are exactly what simulate_raters(seed=0) makes
    ids, a, b = paired_scores(shipped["rater_a"], shipped["rater_b"])
    assert len(ids) == 40 and a != b
    assert (RATINGS_DIR / "rater_a.jsonl").exists()
    write_simulated(tmp_path)
    assert (tmp_path / "rater_b.jsonl").read_bytes() == (RATINGS_DIR / "rater_b.jsonl").read_bytes()
    with pytest.raises(FileExistsError):
        write_simulated(tmp_path)
