"""Tokens drawn with their loss mask: lossless pieces, one box per token, colour = mask."""

import matplotlib.pyplot as plt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

from itlib.data import Example
from itlib.formats import FORMATS, render
from itlib.viz_tokens import (
    NOT_TRAINED,
    PENDING,
    TRAINED,
    TokenMask,
    mask_html,
    plot_token_masks,
    token_pieces,
    visible,
)

EX = Example("Sort the numbers.", "7 2 9", "2 7 9")
ZH = Example("把这些颜色翻译成中文。", "red blue", "红 蓝")
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(s=text)
def test_pieces_are_lossless_for_any_unicode(tokenizer, s):
    ids = tokenizer(s, add_special_tokens=False)["input_ids"]
    pieces = token_pieces(tokenizer, ids)
    assert len(pieces) == len(ids)
    assert "".join(pieces) == s


@pytest.mark.parametrize("fmt", FORMATS)
def test_pieces_of_a_rendered_example_include_special_tokens(tokenizer, fmt):
    r = render(ZH, tokenizer, fmt)
    pieces = token_pieces(tokenizer, r.input_ids)
    assert "".join(pieces) == tokenizer.decode(r.input_ids, skip_special_tokens=False)
    assert pieces[0] == tokenizer.bos_token and pieces[-1] == tokenizer.eos_token
    # the trained-on pieces are exactly the answer and EOS
    assert "".join(p for p, m in zip(pieces, r.loss_mask) if m) == ZH.output + tokenizer.eos_token


def test_a_split_character_shows_on_the_token_that_completes_it(tokenizer):
    ids = tokenizer("翻译", add_special_tokens=False)["input_ids"]
    pieces = token_pieces(tokenizer, ids)
    assert "".join(pieces) == "翻译"
    if len(ids) > 2:  # the byte-level tokenizer split a character over several tokens
        assert "" in pieces
        assert visible("") == PENDING


def test_visible_whitespace():
    assert visible(" a\n\tb") == "·a↵→b"


def test_html_has_one_box_per_token_coloured_by_the_mask(tokenizer):
    r = render(EX, tokenizer, "prefix")
    pieces = token_pieces(tokenizer, r.input_ids)
    page = mask_html(pieces, r.loss_mask, label="prefix")
    assert page.count('class="tok m1"') == sum(r.loss_mask)
    assert page.count('class="tok m0"') == len(r.loss_mask) - sum(r.loss_mask)
    assert page.count(TRAINED) == sum(r.loss_mask) + 1  # + the legend
    assert "&lt;s&gt;" in page and "<s>" not in page.replace("<span", "").replace("</span>", "")  # escaped
    assert TokenMask(pieces, r.loss_mask, "prefix")._repr_html_() == page


def test_text_form_brackets_the_trained_tokens(tokenizer):
    r = render(EX, tokenizer, "seq2seq")
    pieces = token_pieces(tokenizer, r.input_ids)
    shown = str(TokenMask.from_ids(tokenizer, r.input_ids, r.loss_mask))
    answer = "".join(f"[{visible(p)}]" for p, m in zip(pieces, r.loss_mask) if m)
    assert shown.endswith(answer) and answer.endswith("[</s>]")
    assert "[" not in shown.split("<sep>")[0]  # nothing in the prompt is trained on


def test_bad_masks_are_clear_errors():
    with pytest.raises(ValueError, match="3 tokens but a loss mask of length 2"):
        mask_html(["a", "b", "c"], [0, 1])
    with pytest.raises(ValueError, match="only 0 and 1"):
        TokenMask(["a", "b"], [0, 2])


def test_plot_draws_one_box_per_token_in_the_mask_colour(tokenizer):
    rows = []
    for fmt in FORMATS:
        r = render(EX, tokenizer, fmt)
        rows.append((fmt, token_pieces(tokenizer, r.input_ids), r.loss_mask))
    fig = plot_token_masks(rows, line_chars=40, title="f(X, I)")
    boxes = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert len(boxes) == sum(len(m) for _, _, m in rows)
    colours = [to_hex(b.get_facecolor()) for b in boxes]
    flat = [m for _, _, mask in rows for m in mask]
    assert colours == [TRAINED if m else NOT_TRAINED for m in flat]
    # wrapping: no box starts beyond the line width
    assert max(b.get_x() for b in boxes) < 40
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert set(FORMATS) <= labels
    plt.close(fig)
