"""Drawing attention (`itlib.attention_draw`): colours, shaded tokens as HTML, pictures as PNG bytes."""

import numpy as np
import pytest

from itlib.attention_draw import (
    bars_png,
    colour_for,
    diverging_colour,
    grid_png,
    heatmap_png,
    label_token,
    png_size,
    stats_html,
    tokens_html,
)


def test_colour_mapping():
    assert colour_for(0.0) == ("#ffffff", "#000000")
    assert colour_for(1.0) == ("#084594", "#ffffff")
    assert colour_for(2.0) == colour_for(1.0)  # clipped
    assert colour_for(0.25, vmax=0.5) == colour_for(0.5)  # per-row scale
    assert colour_for(0.5)[0] == "#84a2ca"  # halfway between white and #084594
    assert diverging_colour(-1.0)[0] == "#b2182b" and diverging_colour(1.0)[0] == "#084594"
    assert diverging_colour(0.0)[0] == "#ffffff"


def test_token_html_escapes_and_shows_exact_weights():
    tokens = ["<s>", ' <b>"x"&', "\n", "y"]
    out = tokens_html(tokens, [0.5, 0.1234567, 0.0, 0.3765433], query=3)
    assert "<b>" not in out.replace("<br>", "")  # the token's markup is escaped ...
    assert "&lt;b&gt;&quot;x&quot;&amp;" in out  # ... and shown as text
    assert 'title="1: &#x27; &lt;b&gt;&quot;x&quot;&amp;&#x27; weight 0.1235"' in out
    assert "↵<br>" in out  # a newline token breaks the line
    assert out.count("outline") == 1  # the query token is marked
    with pytest.raises(ValueError, match="4 tokens but 3 weights"):
        tokens_html(tokens, [0.1, 0.2, 0.7])


def test_labels_are_short_and_visible():
    assert label_token(" 8") == "8" and label_token("\n") == "↵" and label_token(" ") == "␣"
    assert label_token("\tx ") == "⇥x"


def test_stats_table_shows_the_sum_of_the_tokens_shown_only_when_it_differs():
    stats = {"top": [(1, "<b>", 0.5)], "row_sum": 1.0, "sum_shown": 1.0, "entropy": 0.7, "uniform_entropy": 1.1}
    table = stats_html(stats, "<b>top 1</b>")
    assert "&#x27;&lt;b&gt;&#x27;" in table and "0.500" in table and "sum of the tokens shown" not in table
    assert "sum of the tokens shown: 0.600" in stats_html({**stats, "sum_shown": 0.6})


def test_pictures_are_png_and_their_size_follows_the_content():
    rng = np.random.default_rng(0)
    attn = rng.random((2, 3, 5, 5)) * np.tril(np.ones((5, 5)))
    attn /= attn.sum(-1, keepdims=True)
    labels = list("abcde")
    heat = heatmap_png(attn[0, 0], labels, query=4, title="layer 0")
    assert heat[:8] == b"\x89PNG\r\n\x1a\n"
    assert heatmap_png(attn[0, 0], labels, query=4, first=1) != heat  # the sink left out
    assert png_size(bars_png(attn[0, 0, 4], labels, panels=[(attn[0, 0, 4], "A", None)] * 2))[0] > png_size(
        bars_png(attn[0, 0, 4], labels))[0]  # two panels side by side are wider than one
    w, h = png_size(grid_png(attn, query=4, current=(1, "mean")))
    assert w > h  # 3 heads across, 2 layers down


def test_png_size_reads_the_header_and_refuses_other_bytes():
    png = bars_png(np.array([0.2, 0.8]), ["a", "b"])
    w, h = png_size(png)
    assert w > 0 and h > 0
    with pytest.raises(ValueError, match="not PNG"):
        png_size(b"GIF89a" + bytes(30))
