"""The attention explorer: a widget to look at attention, layer by layer and head by head.

    from itlib.viz import AttentionExplorer
    AttentionExplorer(model, tokenizer, text="...")                  # a causal LM's own heads
    AttentionExplorer(model, tokenizer, instruction="...", input="...")  # the prompt f(X, I)
    AttentionExplorer.from_weights(attentions, tokens)               # precomputed weights
    AttentionExplorer.from_alpha(alpha, tokens, scores=..., labels=[...])  # instruction attention
    AttentionExplorer.from_selector(selector, ["first digit?", "last colour?"], "7 red cat 2 blue")

The widget is built from standard ipywidgets only: pictures are matplotlib figures rendered to PNG
bytes in a `widgets.Image`, tokens are `widgets.HTML`. Everything it shows is also Python-side
state (`.matrix`, `.row`, `.image.value`, `.tokens_view.value`, `.stats`), so it can be tested
without a browser, and `_repr_mimebundle_` carries a static `text/html` copy (inline PNG + tokens)
for saved notebooks and renderers that do not run widgets (`itlib.widgets.StaticHTMLBox`).
The numbers it shows come from `itlib.attention_maps`, the pictures from `itlib.attention_draw`.

Views for a transformer's attention A^(l,h) (rows = query tokens, columns = key tokens):
- heatmap: one layer's matrix for a head, or the mean / max over heads, causal upper triangle masked;
- text:    the query token's row as shading on the text (exact weight in each token's hover title);
- grid:    every layer x head as a thumbnail;
- rollout: Abnar & Zuidema's attention rollout, R = Â_l ... Â_1 with Â = row-normalised (A + I) / 2,
           A the mean over heads: how much each input token flows into each position through layer l.
Views for instruction attention alpha (one row per instruction over the same input tokens):
- alpha:      the weights of one instruction, raw scores s_i = h_i^T W e_I written on the bars;
- compare:    two instructions side by side;
- difference: alpha(A) - alpha(B) per token.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from itlib.attention_draw import (
    bars_png,
    colour_for,
    diverging_colour,
    grid_png,
    heading_html,
    heatmap_png,
    label_token,
    png_size,
    stats_html,
    tokens_html,
)
from itlib.attention_maps import (
    AttentionUnavailable,
    as_attention_array,
    as_numpy,
    attention_matrices,
    entropy,
    reduce_heads,
    rollout,
    row_stats,
    selector_attention,
    token_strings,
    top_k,
)
from itlib.files import write_atomically
from itlib.widgets import StaticHTMLBox, ipywidgets_module

# The explorer's own names, and (kept importable from here, as before the split) the functions that
# notebooks, exercises and older code import from itlib.viz.
__all__ = [
    "AttentionExplorer", "AttentionUnavailable", "attention_matrices", "colour_for", "diverging_colour",
    "entropy", "heading_html", "label_token", "png_size", "reduce_heads", "rollout", "row_stats", "token_strings",
    "tokens_html", "top_k",
]

MODEL_VIEWS = ("heatmap", "text", "grid", "rollout")
ALPHA_VIEWS = ("alpha", "compare", "difference")
PICTURE_MAX_WIDTH = 760  # px: the widest the explorer draws its picture
# descriptions get the room their labels need: the stacked text boxes one common width (so they line
# up, "instruction B" included), every other control exactly its label's width
BOX_STYLE = {"description_width": "120px"}
LABEL_STYLE = {"description_width": "initial"}


class AttentionExplorer(StaticHTMLBox):
    """An interactive view of attention weights (see the module docstring for the views).

    State worth reading (or testing): `tokens`, `attentions` (layers, heads, T, T) or `alphas`
    (instructions, T), `matrix` (the (T, T) matrix of the current layer / head / rollout), `row`
    (the current query token's weights), `stats` (top-k, row sum, entropy), `notice`, and the
    widgets `image` (PNG bytes), `tokens_view` and `stats_view` (HTML).
    """

    def __init__(self, model=None, tokenizer=None, text: str | None = None, *, instruction: str | None = None,
                 input: str | None = None, fmt: str = "prefix", attentions=None, tokens: Sequence[str] | None = None,
                 alphas=None, scores=None, labels: Sequence[str] | None = None,
                 compute: Callable[[str, str], tuple] | None = None, max_tokens: int = 96,
                 eager: bool | str = "auto", top: int = 5, view: str | None = None, layer: int | None = None,
                 head: int | str = "mean", query: int | None = None, hide_sink: bool = False, scale: str = "fixed"):
        super().__init__()
        self.model, self.tokenizer, self.fmt = model, tokenizer, fmt
        self.max_tokens, self.eager, self.top = max_tokens, eager, top
        self.compute = compute
        self.mode = "alpha" if (alphas is not None or compute is not None) else "model" if model is not None else "weights"
        text = self._check_arguments(text, attentions)
        self.tokens: list[str] = []
        self.attentions: np.ndarray | None = None
        self.alphas: np.ndarray | None = None
        self.scores: np.ndarray | None = None
        self.labels: list[str] = []
        self.matrix: np.ndarray | None = None
        self.row: np.ndarray | None = None
        self.stats: dict = {}
        self.stats_b: dict = {}
        self.notice = ""
        self._hold = True
        self._build_controls(text, instruction, input, hide_sink, scale)
        self._load(instruction, attentions, tokens, alphas, scores, labels)
        self.children = self._arrange(instruction)
        self._start_at(view, layer, head, query)
        self._hold = False
        self.refresh()

    def _check_arguments(self, text, attentions) -> str | None:
        if self.mode == "model" and self.tokenizer is None:
            raise ValueError("AttentionExplorer(model, tokenizer, text=...) needs the tokenizer too")
        if self.mode == "weights" and attentions is None:
            raise ValueError("give a model and tokenizer, or precomputed weights: AttentionExplorer.from_weights("
                             "attentions, tokens), or instruction-attention weights: AttentionExplorer.from_alpha("
                             "alpha, tokens)")
        if isinstance(text, (list, tuple)):
            if len(text) != 1:
                raise ValueError(f"got a batch of {len(text)} texts; the explorer shows one sequence at a time: "
                                 "pass one text, e.g. texts[0]")
            text = text[0]
        return text

    def _build_controls(self, text, instruction, input, hide_sink, scale) -> None:
        """The controls; every description gets the room its label needs (BOX_STYLE / LABEL_STYLE)."""
        w = ipywidgets_module()
        lay = w.Layout

        def box(kind, value, description, **layout):
            return kind(value=value, description=description, style=dict(BOX_STYLE), layout=lay(width="100%", **layout))

        def label(kind, description, **kwargs):
            return kind(description=description, style=dict(LABEL_STYLE), **kwargs)

        self.text_box = box(w.Textarea, text or "", "text", height="60px")
        self.instruction_box = box(w.Text, instruction or "", "instruction")
        self.instruction_b_box = box(w.Text, "", "instruction B")
        self.input_box = box(w.Text, input or "", "input")
        self.run_button = w.Button(description="run", button_style="primary", icon="play")
        self.run_button.on_click(self._on_run)
        self.view = label(w.ToggleButtons, "view", options=ALPHA_VIEWS if self.mode == "alpha" else MODEL_VIEWS)
        self.layer = label(w.IntSlider, "layer", min=0, max=0, value=0, continuous_update=False)
        self.head = label(w.Dropdown, "head", options=[("mean over heads", "mean"), ("max over heads", "max")],
                          value="mean")
        self.query = label(w.Dropdown, "query token", options=[("0", 0)], value=0)
        self.which = label(w.Dropdown, "instruction A", options=[("0", 0)], value=0, layout=lay(width="400px"))
        self.other = label(w.Dropdown, "instruction B", options=[("0", 0)], value=0, layout=lay(width="400px"))
        self.hide_sink = label(w.Checkbox, "hide the first token (attention sink)", value=hide_sink, indent=False)
        self.scale = label(w.ToggleButtons, "colours", options=[("fixed 0–1", "fixed"), ("per row", "row")],
                           value=scale)
        # width is set to the PNG's own width at each draw (`_show_png`); height stays "auto" so the
        # picture keeps its aspect ratio however tall the numbers beside it are
        self.image = w.Image(format="png", layout=lay(max_width="100%", height="auto", object_fit="contain"))
        self.tokens_view = w.HTML()
        self.stats_view = w.HTML()
        self.notice_view = w.HTML()
        self.picture_row = w.HBox([self.image, self.stats_view], layout=lay(align_items="flex-start"))
        for control in (self.view, self.layer, self.head, self.query, self.which, self.other, self.hide_sink,
                        self.scale):
            control.observe(self._on_change, names="value")

    def _load(self, instruction, attentions, tokens, alphas, scores, labels) -> None:
        if self.mode == "alpha":
            if self.compute is not None and alphas is None:
                self.instruction_box.value = instruction or ""
                self._compute_alphas(labels)
            else:
                self._set_alphas(alphas, tokens, scores, labels)
        elif self.mode == "weights":
            if tokens is None:
                raise ValueError("from_weights needs the tokens too (one string per position)")
            self._set_attentions(as_attention_array(attentions), list(tokens))
        else:
            self._run_model()

    def _arrange(self, instruction) -> list:
        w = ipywidgets_module()
        column = w.Layout(width="70%", min_width="420px")  # the text boxes' column: wide enough to edit in
        if self.mode == "alpha":
            editors = ([w.VBox([self.instruction_box, self.instruction_b_box, self.input_box], layout=column),
                        self.run_button] if self.compute is not None else [])
            rows = [self.view, w.HBox([self.which, self.other]), self.scale]
        else:
            if self.mode == "model" and instruction is not None:
                editors = [w.VBox([self.instruction_box, self.input_box], layout=column), self.run_button]
            elif self.mode == "model":
                editors = [w.VBox([self.text_box], layout=column), self.run_button]
            else:
                editors = []
            rows = [self.view, w.HBox([self.layer, self.head, self.query]), w.HBox([self.hide_sink, self.scale])]
        return ([w.HBox(editors)] if editors else []) + rows + [self.notice_view, self.picture_row, self.tokens_view]

    def _start_at(self, view, layer, head, query) -> None:
        if view is not None:
            self.view.value = view
        if layer is not None:
            self.layer.value = layer
        if self.mode != "alpha":
            self.head.value = head
            if query is not None:
                self.query.value = query

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_weights(cls, attentions, tokens: Sequence[str], **kwargs) -> AttentionExplorer:
        """Explore precomputed weights: `attentions` as `output_attentions` returns them (batch 1) or an
        array (layers, heads, T, T); `tokens` one string per position."""
        return cls(attentions=attentions, tokens=tokens, **kwargs)

    @classmethod
    def from_alpha(cls, alphas, tokens: Sequence[str], scores=None, labels: Sequence[str] | None = None,
                   **kwargs) -> AttentionExplorer:
        """Explore instruction attention: `alphas` (instructions, n) — one row of weights per
        instruction over the same n input tokens — with optional raw `scores` and `labels`."""
        return cls(alphas=alphas, tokens=tokens, scores=scores, labels=labels, **kwargs)

    @classmethod
    def from_selector(cls, selector, instructions: Sequence[str], input: str, **kwargs) -> AttentionExplorer:
        """Explore an `itlib.attention.Selector`'s alpha, with editable instructions (A and B) and input."""
        if len(instructions) != 2:
            raise ValueError("give two instructions to compare, e.g. ['what is the first digit', "
                             "'which colour comes last']")

        def compute(instruction: str, text: str):
            return selector_attention(selector, instruction, text)

        explorer = cls(compute=compute, instruction=instructions[0], input=input, labels=list(instructions),
                       **kwargs)
        return explorer

    # ------------------------------------------------------------------ data
    def _set_attentions(self, arr: np.ndarray, tokens: list[str], notice: str = "") -> None:
        if arr.shape[-1] != len(tokens):
            raise ValueError(f"{len(tokens)} tokens for attention over {arr.shape[-1]} positions")
        notices = [notice] if notice else []
        if len(tokens) > self.max_tokens:
            notices.append(f"⚠ the sequence has {len(tokens)} tokens: showing the first {self.max_tokens} "
                           f"(max_tokens={self.max_tokens}); with causal attention their weights are exact.")
            arr, tokens = arr[..., : self.max_tokens, : self.max_tokens], tokens[: self.max_tokens]
        self.attentions, self.tokens = arr, tokens
        self.notice = " ".join(notices)
        old_hold, self._hold = self._hold, True
        L, H, T = arr.shape[0], arr.shape[1], arr.shape[-1]
        self.layer.max = L - 1
        self.layer.value = min(self.layer.value, L - 1) if not old_hold else L - 1
        head = self.head.value
        self.head.options = [("mean over heads", "mean"), ("max over heads", "max")] + [(f"head {h}", h) for h in range(H)]
        self.head.value = head if head in ("mean", "max") or (isinstance(head, int) and head < H) else "mean"
        self.query.options = [(f"{i}: {label_token(t)}", i) for i, t in enumerate(tokens)]
        self.query.value = T - 1
        self._hold = old_hold

    def _set_alphas(self, alphas, tokens, scores=None, labels=None) -> None:
        a = as_numpy(alphas)
        if a.ndim == 1:
            a = a[None]
        if a.ndim != 2:
            raise ValueError(f"alpha must have shape (instructions, tokens) or (tokens,), got {a.shape}")
        if tokens is None or len(tokens) != a.shape[1]:
            raise ValueError(f"give one token per alpha weight: {a.shape[1]} weights, "
                             f"{None if tokens is None else len(tokens)} tokens")
        s = None if scores is None else as_numpy(scores).reshape(a.shape)
        labels = list(labels) if labels is not None else [f"instruction {k}" for k in range(a.shape[0])]
        if len(labels) != a.shape[0]:
            raise ValueError(f"{len(labels)} labels for {a.shape[0]} rows of alpha")
        self.alphas, self.scores, self.tokens, self.labels = a.astype(np.float64), s, list(tokens), labels
        old_hold, self._hold = self._hold, True
        options = [(label, k) for k, label in enumerate(labels)]
        self.which.options, self.other.options = options, options
        self.which.value, self.other.value = 0, min(1, len(options) - 1)
        self._hold = old_hold

    def _compute_alphas(self, labels=None) -> None:
        instructions = list(labels) if labels else [self.instruction_box.value, self.instruction_b_box.value]
        self.instruction_box.value, self.instruction_b_box.value = instructions[0], instructions[-1]
        rows, scores, tokens = [], [], None
        for instruction in instructions:
            tokens, alpha, score = self.compute(instruction, self.input_box.value)
            rows.append(as_numpy(alpha))
            scores.append(as_numpy(score))
        self._set_alphas(np.stack(rows), tokens, np.stack(scores), instructions)

    def _run_model(self) -> None:
        if self.instruction_box.value or self.input_box.value:
            from itlib.data import Example
            from itlib.formats import prompt_ids

            ids = prompt_ids(Example(self.instruction_box.value or " ", self.input_box.value, "?"), self.tokenizer,
                             self.fmt)
        else:
            ids = self.tokenizer(self.text_box.value)["input_ids"]
            bos = getattr(self.tokenizer, "bos_token_id", None)
            if bos is not None and (not ids or ids[0] != bos):
                ids = [bos] + ids
        if not ids:
            raise ValueError("the text is empty")
        full = len(ids)
        ids = ids[: self.max_tokens]
        arr, notice = attention_matrices(self.model, ids, eager=self.eager)
        tokens = token_strings(self.tokenizer, ids)
        self._set_attentions(arr, tokens, notice)
        if full > self.max_tokens:
            self.notice = (self.notice + " " if self.notice else "") + (
                f"⚠ the text has {full} tokens: showing the first {self.max_tokens} (max_tokens={self.max_tokens}); "
                "with causal attention their weights are exact.")

    def run(self) -> None:
        """Recompute from the text boxes (what the run button does) and redraw."""
        if self.mode == "model":
            self._run_model()
        elif self.mode == "alpha" and self.compute is not None:
            self._compute_alphas([self.instruction_box.value, self.instruction_b_box.value])
        self.refresh()

    def _on_run(self, _button=None) -> None:
        try:
            self.run()
        except Exception as err:  # noqa: BLE001 -- a widget callback: show the error, do not lose it
            self.notice = f"✗ {type(err).__name__}: {err}"
            self.notice_view.value = f'<span style="color:#c62828">{html.escape(self.notice)}</span>'

    @contextmanager
    def hold(self):
        """Change several controls, redraw once: `with explorer.hold(): explorer.layer.value = 2; ...`."""
        old, self._hold = self._hold, True
        try:
            yield self
        finally:
            self._hold = old
            if not old:
                self.refresh()

    def _on_change(self, _change=None) -> None:
        if not self._hold:
            self.refresh()

    # ------------------------------------------------------------------ drawing
    def refresh(self) -> None:
        """Recompute `matrix`, `row`, `stats` and redraw the picture, the tokens and the numbers."""
        if self.mode == "alpha":
            self._draw_alpha()
        else:
            self._draw_model()
        self.notice_view.value = (f'<span style="color:#8a5a00">{html.escape(self.notice)}</span>'
                                  if self.notice else "")

    def _draw_model(self) -> None:
        view, layer, head, q = self.view.value, self.layer.value, self.head.value, self.query.value
        first = 1 if self.hide_sink.value else 0
        per_row = self.scale.value == "row"
        skip = [0] if first else []
        if view == "rollout":
            self.matrix = rollout(self.attentions, upto=layer, head=head)
            what = f"attention rollout through layer {layer}"
        else:
            self.matrix = reduce_heads(self.attentions[layer], head)
            what = f"layer {layer}, {head if isinstance(head, str) else f'head {head}'}" + (
                " over heads" if isinstance(head, str) else "")
        self.row = self.matrix[q].copy()
        self.stats = row_stats(self.row, self.tokens, self.top, skip)
        labels = [label_token(t) for t in self.tokens]
        if view in ("heatmap", "rollout"):
            png = heatmap_png(self.matrix, labels, query=q, per_row=per_row, first=first, title=what)
        elif view == "text":
            shown = self.row[first: q + 1]
            png = bars_png(shown, labels[first: q + 1], title=f"{what}: query {q} {labels[q]!r}",
                           vmax=None if per_row else 1.0)
        else:
            png = grid_png(self.attentions, query=q, first=first, per_row=per_row, current=(layer, head))
        self._show_png(png)
        vmax = None if per_row else 1.0
        self.tokens_view.value = (
            heading_html(f"<b>query token {q} {html.escape(repr(self.tokens[q]))}</b> — {html.escape(what)}")
            + tokens_html(self.tokens, self.row, vmax=vmax, query=q, hidden=skip))
        self.stats_view.value = stats_html(self.stats, f"<b>top {self.top}, query {q}</b>")

    def _draw_alpha(self) -> None:
        view, a, b = self.view.value, self.which.value, self.other.value
        labels = [label_token(t) for t in self.tokens]
        sa = None if self.scores is None else self.scores[a]
        sb = None if self.scores is None else self.scores[b]
        per_row = self.scale.value == "row"
        vmax = None if per_row else 1.0
        self.row = self.alphas[a].copy()
        self.stats = row_stats(self.row, self.tokens, self.top)
        if view == "alpha":
            self.matrix = self.alphas[[a]]
            png = bars_png(self.row, labels, title=self.labels[a], scores=sa, vmax=vmax)
            shaded = tokens_html(self.tokens, self.row, vmax=vmax, what="alpha", sep=" ")
            head = f"<b>α for “{html.escape(self.labels[a])}”</b>"
        elif view == "compare":
            self.matrix = self.alphas[[a, b]]
            png = bars_png(self.row, labels, vmax=vmax,
                           panels=[(self.alphas[a], self.labels[a], sa), (self.alphas[b], self.labels[b], sb)])
            shaded = "".join(heading_html(f"{name}: {html.escape(self.labels[k])}")
                             + tokens_html(self.tokens, self.alphas[k], vmax=vmax, what="alpha", sep=" ")
                             for name, k in (("A", a), ("B", b)))
            head = "<b>α side by side</b>"
        else:
            diff = self.alphas[a] - self.alphas[b]
            self.matrix = diff[None]
            png = bars_png(diff, labels, title=f"α(A) − α(B)\nA: {self.labels[a]}   B: {self.labels[b]}",
                           diverging=True, ylabel="difference of weights")
            shaded = tokens_html(self.tokens, diff, vmax=None if per_row else 1.0, diverging=True, what="α(A) − α(B)",
                                 sep=" ")
            head = "<b>α(A) − α(B)</b>: blue = more attention under A, red = more under B"
        self._show_png(png)
        self.tokens_view.value = heading_html(head) + shaded
        heading = f"<b>top {self.top} for A</b>"
        if view != "alpha":
            self.stats_b = row_stats(self.alphas[b], self.tokens, self.top)
            self.stats_view.value = (stats_html(self.stats, heading)
                                     + stats_html(self.stats_b, f"<b>top {self.top} for B</b>"))
        else:
            self.stats_view.value = stats_html(self.stats, heading)

    def _show_png(self, png: bytes) -> None:
        """Show `png` at its own width (at most PICTURE_MAX_WIDTH px), height "auto": never stretched."""
        self.image.layout.width = f"{min(png_size(png)[0], PICTURE_MAX_WIDTH)}px"
        self.image.value = png

    # ------------------------------------------------------------------ static copies and export
    def static_html(self) -> str:
        """The current picture (inline base64 PNG), the shaded tokens and the numbers as one HTML
        fragment: what a saved notebook shows where widgets do not run."""
        png = base64.b64encode(self.image.value).decode("ascii")
        notice = f"<p>{html.escape(self.notice)}</p>" if self.notice else ""
        return (f'<div class="itlib-attention-explorer">{notice}'
                f'<div style="display:flex;gap:12px;align-items:flex-start">'
                f'<img src="data:image/png;base64,{png}" style="max-width:{PICTURE_MAX_WIDTH}px;height:auto"/>'
                f"{self.stats_view.value}</div>"
                f"{self.tokens_view.value}</div>")

    def __repr__(self) -> str:
        size = f"{len(self.tokens)} tokens"
        if self.attentions is not None:
            size += f", {self.attentions.shape[0]} layers x {self.attentions.shape[1]} heads"
        return f"AttentionExplorer({self.mode}: {size}, view={self.view.value!r})"

    def save_png(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the current picture as a PNG file (atomically; never over an existing file unless
        `overwrite=True`)."""
        return write_atomically(path, self.image.value, overwrite)

    def save_html(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the current picture, tokens and numbers as a standalone HTML page (atomically; never
        over an existing file unless `overwrite=True`)."""
        page = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>attention</title></head><body>"
                + self.static_html() + "</body></html>")
        return write_atomically(path, page, overwrite)
