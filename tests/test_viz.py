"""The attention explorer, headless: set the controls, assert on the Python-side state. The pure
functions behind it are tested in test_attention_maps.py, the drawing in test_attention_draw.py."""

import base64
import math
import re
from html.parser import HTMLParser

import numpy as np
import pytest
import torch

from itlib.attention_draw import png_size, tokens_html
from itlib.attention_maps import AttentionUnavailable, rollout
from itlib.viz import AttentionExplorer

PROMPT = {"instruction": "What is the largest number?", "input": "3 8 5"}


@pytest.fixture(scope="module")
def tiny(tokenizer):
    from itlib.models import build_model, with_eager_attention

    return with_eager_attention(build_model(tokenizer, "llama", "micro", seed=0)).eval()


@pytest.fixture(scope="module")
def explorer(tiny, tokenizer):
    return AttentionExplorer(tiny, tokenizer, **PROMPT)


def reference_attentions(model, tokenizer):
    from itlib.data import Example
    from itlib.formats import prompt_ids

    ids = torch.tensor([prompt_ids(Example(PROMPT["instruction"], PROMPT["input"], "?"), tokenizer)])
    with torch.no_grad():
        return model(input_ids=ids, output_attentions=True).attentions


def random_causal(L=2, H=3, T=4, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random((L, H, T, T)) * np.tril(np.ones((T, T)))
    return a / a.sum(-1, keepdims=True)


# ---------------------------------------------------------------------------------- the widget

def test_names_imported_from_itlib_viz_before_the_split_still_import():
    import itlib.attention_draw as draw
    import itlib.attention_maps as maps
    import itlib.viz as viz

    for name in ("attention_matrices", "rollout", "reduce_heads", "entropy", "top_k", "row_stats", "token_strings",
                 "AttentionUnavailable", "as_attention_array", "selector_attention"):
        assert getattr(viz, name) is getattr(maps, name), name
    for name in ("colour_for", "diverging_colour", "heading_html", "label_token", "png_size", "tokens_html"):
        assert getattr(viz, name) is getattr(draw, name), name
    assert set(viz.__all__) <= set(dir(viz))


def test_matrix_is_the_models_attention_for_layer_and_head(explorer, tiny, tokenizer):
    ref = reference_attentions(tiny, tokenizer)
    assert explorer.attentions.shape == (2, 4, len(explorer.tokens), len(explorer.tokens))
    with explorer.hold():  # several changes, one redraw
        explorer.view.value, explorer.layer.value, explorer.head.value = "text", 0, 2
    assert np.allclose(explorer.matrix, ref[0][0, 2].numpy(), atol=1e-6)
    explorer.head.value = "mean"
    assert np.allclose(explorer.matrix, ref[0][0].mean(0).numpy(), atol=1e-6)
    with explorer.hold():
        explorer.layer.value, explorer.head.value, explorer.query.value = 1, "max", 5
    assert np.allclose(explorer.matrix, ref[1][0].max(0).values.numpy(), atol=1e-6)
    assert np.allclose(explorer.row, ref[1][0, :, 5].max(0).values.numpy(), atol=1e-6)
    explorer.head.value = "mean"
    assert explorer.stats["row_sum"] == pytest.approx(1.0, abs=1e-5)


def test_picture_follows_the_layer_and_html_the_query(explorer):
    explorer.view.value = "heatmap"
    explorer.layer.value = 0
    before = explorer.image.value
    assert before[:8] == b"\x89PNG\r\n\x1a\n"
    explorer.layer.value = 1
    assert explorer.image.value != before
    html_before = explorer.tokens_view.value
    explorer.query.value = 3
    assert explorer.tokens_view.value != html_before
    assert f"query token 3 {explorer.tokens[3]!r}".replace("'", "&#x27;") in explorer.tokens_view.value


def test_views_sink_and_scale_change_the_picture(explorer):
    explorer.query.value = len(explorer.tokens) - 1
    pictures = {}
    for view in ("heatmap", "text", "grid", "rollout"):
        explorer.view.value = view
        pictures[view] = explorer.image.value
    assert len(set(pictures.values())) == 4
    assert np.allclose(explorer.matrix, rollout(explorer.attentions, upto=explorer.layer.value))
    explorer.view.value = "heatmap"
    shown = explorer.image.value
    explorer.hide_sink.value = True
    assert explorer.image.value != shown and explorer.stats["top"][0][0] != 0
    explorer.scale.value = "row"
    assert explorer.image.value != shown
    explorer.hide_sink.value, explorer.scale.value = False, "fixed"


def test_static_fallback_and_export(explorer, tmp_path):
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    page = bundle["text/html"]
    png = base64.b64encode(explorer.image.value).decode()
    assert f"data:image/png;base64,{png}" in page and explorer.tokens_view.value in page
    out = explorer.save_png(tmp_path / "a.png")
    assert out.read_bytes() == explorer.image.value
    with pytest.raises(FileExistsError, match="overwrite=True"):
        explorer.save_png(tmp_path / "a.png")
    explorer.save_png(tmp_path / "a.png", overwrite=True)
    explorer.save_html(tmp_path / "a.html")
    assert png in (tmp_path / "a.html").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "a.png"]  # no temporary files left


def test_sdpa_model_is_switched_with_a_notice_or_refused(tokenizer):
    from itlib.models import build_model

    model = build_model(tokenizer, "llama", "micro", seed=0)
    model.set_attn_implementation("sdpa")
    with pytest.raises(AttentionUnavailable, match="with_eager_attention"):
        AttentionExplorer(model, tokenizer, text="red cat", eager=False)
    ex = AttentionExplorer(model, tokenizer, text="red cat", view="text")
    assert "switched it to 'eager'" in ex.notice and "switched" in ex.notice_view.value
    assert model.config._attn_implementation == "eager"


def test_batches_are_refused_and_long_texts_truncated(tiny, tokenizer):
    with pytest.raises(ValueError, match="one sequence at a time"):
        AttentionExplorer(tiny, tokenizer, text=["a", "b"])
    ex = AttentionExplorer(tiny, tokenizer, text="red cat " * 20, max_tokens=12, view="text")
    assert len(ex.tokens) == 12 and ex.attentions.shape[-1] == 12
    assert "showing the first 12" in ex.notice and "showing the first 12" in ex.notice_view.value


def test_run_button_recomputes_from_the_text(tiny, tokenizer):
    ex = AttentionExplorer(tiny, tokenizer, text="red cat", view="text")
    n = len(ex.tokens)
    ex.text_box.value = "red cat blue dog 7"
    ex.run_button.click()
    assert len(ex.tokens) > n and ex.query.value == len(ex.tokens) - 1
    assert ex.tokens[0] == tokenizer.bos_token


def test_from_weights(tiny, tokenizer):
    attn = random_causal(L=3, H=2, T=5)
    ex = AttentionExplorer.from_weights(attn, list("abcde"), view="text")
    assert ex.layer.max == 2 and ex.mode == "weights"
    ex.layer.value, ex.head.value = 1, 1
    assert np.array_equal(ex.matrix, attn[1, 1]) and np.array_equal(ex.row, attn[1, 1, 4])
    with pytest.raises(ValueError, match="5 tokens for attention over 4"):
        AttentionExplorer.from_weights(random_causal(), list("abcde"))


def test_from_alpha_compare_and_difference():
    alphas = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.2, 0.6]])
    scores = np.log(alphas) + 3
    ex = AttentionExplorer.from_alpha(alphas, ["7", "red", "cat", "blue"], scores=scores,
                                      labels=["first digit", "last colour"])
    assert ex.view.value == "alpha" and np.array_equal(ex.row, alphas[0])
    assert ex.stats["top"][0][:2] == (0, "7")
    single = ex.image.value
    ex.view.value = "compare"
    assert ex.matrix.shape == (2, 4) and ex.image.value != single
    assert ex.stats_b["top"][0][:2] == (3, "blue")
    ex.view.value = "difference"
    assert np.allclose(ex.matrix[0], alphas[0] - alphas[1])
    assert "α(A) − α(B) -0.5000" in ex.tokens_view.value


def test_from_selector_reruns_when_the_instruction_changes():
    from itlib.attention import Selector, SelectVocab

    model = Selector(SelectVocab(), d=8)
    ex = AttentionExplorer.from_selector(model, ["what is the first digit", "which colour comes last"],
                                         "7 red cat 2 blue")
    assert ex.tokens == ["7", "red", "cat", "2", "blue"] and ex.alphas.shape == (2, 5)
    assert np.allclose(ex.alphas.sum(1), 1.0)
    ex.input_box.value = "3 green dog 9 pink owl"
    ex.run_button.click()
    assert ex.alphas.shape == (2, 6) and not ex.notice


def test_a_failing_run_shows_the_error_in_the_widget():
    from itlib.attention import Selector, SelectVocab

    ex = AttentionExplorer.from_selector(Selector(SelectVocab(), d=8), ["first digit", "last colour"], "7 red")
    ex.input_box.value = "7 purple"
    ex.run_button.click()  # a widget callback must not lose the error
    assert "ValueError" in ex.notice and "purple" in ex.notice_view.value
    assert ex.tokens == ["7", "red"]  # the last good state stays on screen


# ---------------------------------------------------------------------------------- polish seen in a real browser

ITEMS = ["7", "red", "cat", "2", "blue", "9", "dog", "green"]


def alpha_explorer():
    alphas = np.array([[0.5, 0.05, 0.05, 0.1, 0.05, 0.1, 0.05, 0.1], [0.05, 0.1, 0.05, 0.05, 0.1, 0.05, 0.1, 0.5]])
    return AttentionExplorer.from_alpha(alphas, ITEMS, scores=np.log(alphas), labels=["first digit", "last colour"])


def walk(widget, parent=None):
    """(widget, parent) for the widget and everything inside it."""
    yield widget, parent
    for child in getattr(widget, "children", ()):
        yield from walk(child, widget)


def shown_size(explorer):
    """The size (CSS px) the browser gives the picture, from its layout and the PNG, by the flexbox
    rules: a fixed height is drawn as is; a stretched flex item (align_items "stretch", the HBox's
    default) takes the row's height, whatever the column beside it holds; height "auto" in a
    non-stretching row follows the width at the PNG's own aspect ratio."""
    w, h = png_size(explorer.image.value)
    layout = explorer.image.layout
    width = float(layout.width.removesuffix("px")) if layout.width else float(w)
    if layout.max_width and layout.max_width.endswith("px"):
        width = min(width, float(layout.max_width.removesuffix("px")))
    if layout.height not in (None, "", "auto"):
        return width, float(layout.height.removesuffix("px"))
    if explorer.picture_row.layout.align_items in (None, "", "stretch") and layout.object_fit != "contain":
        return width, math.nan  # stretched to the column beside it: not the picture's own height
    return width, width * h / w


def test_alpha_picture_keeps_its_aspect_ratio_whatever_the_column_beside_it():
    ex = alpha_explorer()
    assert list(ex.picture_row.children) == [ex.image, ex.stats_view] and ex.picture_row in ex.children
    for view in ("alpha", "compare", "difference"):  # compare and difference have two tables beside the picture
        ex.view.value = view
        w, h = png_size(ex.image.value)
        assert ex.image.layout.height == "auto" and ex.image.layout.object_fit == "contain"
        assert ex.picture_row.layout.align_items == "flex-start"  # the row does not stretch the picture
        assert ex.image.layout.width == f"{min(w, 760)}px"  # drawn at its own width, at most 760 px
        width, height = shown_size(ex)
        assert height == pytest.approx(width * h / w), view
    assert png_size(ex.image.value) != png_size(alpha_explorer().image.value)  # the size follows the view
    page = ex.static_html()
    assert 'style="max-width:760px;height:auto"' in page and "align-items:flex-start" in page


def test_a_wide_picture_is_scaled_down_at_its_aspect_ratio(explorer):
    explorer.view.value = "heatmap"
    w, h = png_size(explorer.image.value)
    width, height = shown_size(explorer)
    assert width == min(w, 760) and height == pytest.approx(width * h / w)


def description_fits(widget) -> bool:
    """A label is shown whole when its width is "initial" (as wide as the text) or at least ~8 px a
    character (13 px sans-serif averages under 7.5 px a character)."""
    width = widget.style.description_width
    return width == "initial" or (width.endswith("px") and float(width[:-2]) >= 8 * len(widget.description))


@pytest.mark.parametrize("make", ["selector", "model"])
def test_labels_are_not_cut_and_text_boxes_are_wide(make, tiny, tokenizer):
    from itlib.attention import Selector, SelectVocab

    ex = (AttentionExplorer.from_selector(Selector(SelectVocab(), d=8), ["first digit", "last colour"], "7 red")
          if make == "selector" else AttentionExplorer(tiny, tokenizer, **PROMPT))
    described = [(w, p) for w, p in walk(ex) if getattr(w, "description", "") and hasattr(w.style, "description_width")]
    assert {"instruction", "input", "view", "colours"} <= {w.description for w, _ in described}
    assert [w.description for w, _ in described if not description_fits(w)] == []
    boxes = [(w, p) for w, p in described if w in (ex.instruction_box, ex.instruction_b_box, ex.input_box)]
    assert len(boxes) == (3 if make == "selector" else 2)
    assert len({w.style.description_width for w, _ in boxes}) == 1  # the stacked boxes line up
    for box, column in boxes:  # a box fills a column of 70 % of the widget, never under 420 px
        assert box.layout.width == "100%"
        assert column.layout.width == "70%" and float(column.layout.min_width.removesuffix("px")) >= 420


class _Lines(HTMLParser):
    """The text of an HTML fragment, one line per block (div, p, br, table row), as a browser lays it out."""

    BLOCKS = frozenset({"div", "p", "br", "tr", "table"})

    def __init__(self, page):
        super().__init__()
        self.parts = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.parts.append("\n" if tag in self.BLOCKS else " " if tag in ("td", "th") else "")

    def handle_endtag(self, tag):
        self.parts.append("\n" if tag in self.BLOCKS else "")

    def handle_data(self, data):
        self.parts.append(data)

    def lines(self):
        return [re.sub(r"\s+", " ", line).strip() for line in "".join(self.parts).split("\n") if line.strip()]


def test_alpha_fallback_separates_tokens_and_puts_headings_on_their_own_line():
    ex = alpha_explorer()
    words = " ".join(ITEMS)
    expected = {"alpha": ["α for “first digit”", words],
                "compare": ["α side by side", "A: first digit", words, "B: last colour", words],
                "difference": ["α(A) − α(B): blue = more attention under A, red = more under B", words]}
    for view, lines in expected.items():
        ex.view.value = view
        got = _Lines(ex.static_html()).lines()
        start = got.index(lines[0])
        assert got[start: start + len(lines)] == lines, view
        assert not [line for line in got if "7red" in line or "sideA" in line]
    assert "> <span" in ex.tokens_view.value  # a plain space between tokens: kept where styles are stripped
    assert "> <span" not in tokens_html(["a", "b"], [0.5, 0.5])  # a tokenizer's pieces carry their own spaces
