"""Looking at attention: the attention explorer widget, and the pure functions behind it.

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
for saved notebooks and renderers that do not run widgets.

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
import io
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

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
LOW = np.array([255.0, 255.0, 255.0])  # weight 0: white
HIGH = np.array([8.0, 69.0, 148.0])  # weight vmax: dark blue
NEGATIVE = np.array([178.0, 24.0, 43.0])  # diverging scale, negative end: red

EAGER_FIX = ("switch the model to eager attention: `model = itlib.models.with_eager_attention(model)`, or load it "
             "with `attn_implementation=\"eager\"` (e.g. `itlib.load_base(attention=\"eager\")`)")


class AttentionUnavailable(RuntimeError):
    """The model gives no attention weights (it runs sdpa / flash attention, which never compute them)."""


# ============================================================================ pure functions

def as_attention_array(attentions) -> np.ndarray:
    """Attention weights as a float array of shape (layers, heads, query, key).

    Accepts what `model(..., output_attentions=True).attentions` returns (a tuple of per-layer
    tensors of shape (batch=1, heads, T, T)), an array / tensor of shape (layers, heads, T, T),
    (layers, 1, heads, T, T), (heads, T, T) (one layer) or (T, T) (one layer, one head).
    A batch of more than one sequence is refused: the explorer shows one sequence at a time."""
    if isinstance(attentions, (tuple, list)):
        if len(attentions) == 0 or any(a is None for a in attentions):
            raise AttentionUnavailable(f"the model returned no attention weights; {EAGER_FIX}")
        layers = [_to_numpy(a) for a in attentions]
        shapes = {a.shape for a in layers}
        if len(shapes) != 1:
            raise ValueError(f"all layers must have the same shape, got {sorted(shapes)}")
        arr = np.stack(layers)
    else:
        arr = _to_numpy(attentions)
    if arr.ndim == 5:
        if arr.shape[1] != 1:
            raise ValueError(f"the attention weights hold a batch of {arr.shape[1]} sequences; the explorer shows one "
                             f"sequence at a time: pick one, e.g. `[a[i:i + 1] for a in attentions]`")
        arr = arr[:, 0]
    elif arr.ndim == 3:
        arr = arr[None]
    elif arr.ndim == 2:
        arr = arr[None, None]
    elif arr.ndim != 4:
        raise ValueError(f"attention weights must have shape (layers, heads, T, T) (or a per-layer tuple of "
                         f"(1, heads, T, T)), got shape {arr.shape}")
    if arr.shape[-1] != arr.shape[-2]:
        raise ValueError(f"attention matrices must be square (query x key), got {arr.shape[-2]} x {arr.shape[-1]}")
    return arr.astype(np.float64)


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def reduce_heads(layer: np.ndarray, head: int | str = "mean") -> np.ndarray:
    """One layer's (heads, T, T) weights -> a (T, T) matrix: head number `head`, or the "mean" or
    "max" over the heads (element-wise; max rows no longer sum to 1)."""
    layer = np.asarray(layer)
    if layer.ndim != 3:
        raise ValueError(f"expected one layer's weights of shape (heads, T, T), got {layer.shape}")
    if head == "mean":
        return layer.mean(axis=0)
    if head == "max":
        return layer.max(axis=0)
    if isinstance(head, (int, np.integer)) and not isinstance(head, bool) and 0 <= head < layer.shape[0]:
        return layer[int(head)]
    raise ValueError(f"head must be 'mean', 'max' or a head number 0..{layer.shape[0] - 1}, got {head!r}")


def rollout(attentions, upto: int | None = None, head: int | str = "mean") -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020) through layers 0..`upto` (default: all).

    Per layer, A = the heads' weights reduced by `head` (default the mean); the residual connection
    is added as Â = (A + I) / 2, rows renormalised to sum to 1; then R = Â_upto @ ... @ Â_1 @ Â_0.
    R[i, j] is how much of position i's representation at that layer traces back to input token j."""
    arr = as_attention_array(attentions)
    upto = arr.shape[0] - 1 if upto is None else upto
    if not 0 <= upto < arr.shape[0]:
        raise ValueError(f"upto must be a layer number 0..{arr.shape[0] - 1}, got {upto}")
    n = arr.shape[-1]
    result = np.eye(n)
    for layer in range(upto + 1):
        a = 0.5 * reduce_heads(arr[layer], head) + 0.5 * np.eye(n)
        a = a / a.sum(axis=-1, keepdims=True)
        result = a @ result
    return result


def entropy(row: Sequence[float]) -> float:
    """Shannon entropy in nats of a row of weights (normalised first; zeros ignored)."""
    p = np.asarray(row, dtype=np.float64)
    if p.sum() <= 0:
        return 0.0
    p = p / p.sum()
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def top_k(row: Sequence[float], tokens: Sequence[str], k: int = 5, skip: Sequence[int] = ()) -> list[tuple[int, str, float]]:
    """The k largest weights as (position, token, weight), largest first (ties: earlier first)."""
    row = np.asarray(row, dtype=np.float64)
    order = sorted((i for i in range(len(row)) if i not in set(skip)), key=lambda i: (-row[i], i))
    return [(i, tokens[i], float(row[i])) for i in order[:k]]


def row_stats(row: Sequence[float], tokens: Sequence[str], k: int = 5, skip: Sequence[int] = ()) -> dict:
    """Numbers to read beside a picture: top-k tokens, the row sum, the entropy (nats) and the
    entropy of a uniform row of the same support, for scale."""
    row = np.asarray(row, dtype=np.float64)
    support = int((row > 0).sum())
    return {"top": top_k(row, tokens, k, skip), "row_sum": float(row.sum()), "entropy": entropy(row),
            "uniform_entropy": math.log(support) if support else 0.0,
            "sum_shown": float(sum(row[i] for i in range(len(row)) if i not in set(skip)))}


def _hex(rgb: np.ndarray) -> str:
    r, g, b = (round(float(v)) for v in np.clip(rgb, 0, 255))
    return f"#{r:02x}{g:02x}{b:02x}"


def colour_for(weight: float, vmax: float = 1.0) -> tuple[str, str]:
    """(background, text) colours for a weight: white at 0, dark blue at `vmax` (linear; clipped),
    with white text on dark backgrounds."""
    t = 0.0 if vmax <= 0 or not np.isfinite(weight) else float(np.clip(weight / vmax, 0.0, 1.0))
    return _hex(LOW + t * (HIGH - LOW)), "#ffffff" if t > 0.55 else "#000000"


def diverging_colour(value: float, vmax: float = 1.0) -> tuple[str, str]:
    """(background, text) colours for a signed value: red below 0, white at 0, blue above."""
    t = 0.0 if vmax <= 0 or not np.isfinite(value) else float(np.clip(value / vmax, -1.0, 1.0))
    end = HIGH if t >= 0 else NEGATIVE
    return _hex(LOW + abs(t) * (end - LOW)), "#ffffff" if abs(t) > 0.55 else "#000000"


def token_strings(tokenizer, ids: Sequence[int]) -> list[str]:
    """The text of each token. A character split over several byte-level tokens (e.g. Chinese) is
    given to the first of them, the others show "·"."""
    out: list[str] = []
    i = 0
    while i < len(ids):
        piece = tokenizer.decode([ids[i]])
        j = i + 1
        if "\ufffd" in piece:
            for end in range(i + 2, min(i + 5, len(ids)) + 1):
                joint = tokenizer.decode(list(ids[i:end]))
                if "\ufffd" not in joint:
                    piece, j = joint, end
                    break
        out += [piece] + ["·"] * (j - i - 1)
        i = j
    return out


def label_token(token: str) -> str:
    """A short visible label for an axis: surrounding spaces dropped, newline as ↵, blank as ␣."""
    label = token.replace("\n", "↵").replace("\t", "⇥").strip()
    return label if label else "␣"


def tokens_html(tokens: Sequence[str], weights: Sequence[float], vmax: float | None = 1.0,
                query: int | None = None, hidden: Sequence[int] = (), diverging: bool = False,
                what: str = "weight", sep: str = "") -> str:
    """The text, each token shaded by its weight; the exact weight is in the hover `title`.

    `vmax=None` scales colours to the largest shown weight (per row) instead of a fixed 0..1.
    Tokens in `hidden` are not shaded (their weight stays in the title). Tokens are HTML-escaped.
    `sep` goes between tokens: "" for a tokenizer's pieces (they carry their own spaces), " " for
    words (the α explorer's items), so that they do not run together even where styles are stripped."""
    w = np.asarray(weights, dtype=np.float64)
    if len(w) != len(tokens):
        raise ValueError(f"{len(tokens)} tokens but {len(w)} weights")
    shown = [abs(w[i]) for i in range(len(w)) if i not in set(hidden)]
    scale = vmax if vmax is not None else (max(shown) if shown and max(shown) > 0 else 1.0)
    spans = []
    for i, (tok, x) in enumerate(zip(tokens, w)):
        if i in set(hidden):
            bg, fg = "#eeeeee", "#888888"
        else:
            bg, fg = diverging_colour(x, scale) if diverging else colour_for(x, scale)
        border = "outline:2px solid #d62728;" if i == query else ""
        title = html.escape(f"{i}: {tok!r} {what} {x:.4f}", quote=True)
        text = html.escape(tok).replace("\n", "↵<br>")
        spans.append(f'<span title="{title}" style="background:{bg};color:{fg};{border}'
                     f'padding:1px 0;white-space:pre">{text}</span>')
    return ('<div style="font-family:monospace;line-height:1.9;font-size:13px">' + sep.join(spans) + "</div>")


def heading_html(text_html: str) -> str:
    """A heading line above shaded tokens: its own block, so the text after it starts a new line."""
    return f'<div style="margin:6px 0 2px">{text_html}</div>'


def attention_matrices(model, input_ids: Sequence[int], eager: bool | str = "auto") -> tuple[np.ndarray, str]:
    """The model's attention weights for one sequence: (array (layers, heads, T, T), notice).

    A model that runs sdpa (the transformers default) computes no weights: with `eager="auto"` it
    is switched to eager attention (`itlib.models.with_eager_attention`, which leaves its outputs
    unchanged) and the notice says so; with `eager=False` an `AttentionUnavailable` error says how."""
    import torch

    notice = ""
    ids = torch.as_tensor(input_ids)
    if ids.dim() == 2:
        if ids.shape[0] != 1:
            raise ValueError(f"got a batch of {ids.shape[0]} sequences; the explorer shows one sequence at a time: "
                             "pass one of them, e.g. `input_ids[0]`")
        ids = ids[0]
    impl = getattr(getattr(model, "config", None), "_attn_implementation", None)
    if impl is not None and impl != "eager":
        if eager is False:
            raise AttentionUnavailable(f"the model runs attn_implementation={impl!r}, which gives no attention "
                                       f"weights; {EAGER_FIX}")
        from itlib.models import with_eager_attention

        with_eager_attention(model)
        notice = (f"the model ran attn_implementation={impl!r}, which gives no attention weights: switched it to "
                  f"'eager' (same outputs) with itlib.models.with_eager_attention(model)")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(input_ids=ids[None].to(device), output_attentions=True)
    finally:
        model.train(was_training)
    attentions = getattr(out, "attentions", None)
    if not attentions or any(a is None for a in attentions):
        raise AttentionUnavailable(f"the model returned no attention weights; {EAGER_FIX}")
    return as_attention_array(attentions), notice


# ---------------------------------------------------------------------------- pictures (PNG bytes)

def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: nothing is shown or kept, only rendered

    return Figure(figsize=(width, height), dpi=100)


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels of PNG bytes, read from the IHDR header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not PNG bytes")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def heatmap_png(matrix: np.ndarray, labels: Sequence[str], query: int | None = None, per_row: bool = False,
                first: int = 0, title: str = "", causal: bool = True) -> bytes:
    """A (query x key) heatmap with token labels, the causal upper triangle masked; rows and
    columns before `first` are left out (the sink); `per_row` scales each row to its own max."""
    m = np.asarray(matrix, dtype=np.float64)[first:, first:]
    labels = list(labels)[first:]
    if per_row:
        m = m / np.where(m.max(axis=1, keepdims=True) > 0, m.max(axis=1, keepdims=True), 1.0)
    n = len(labels)
    masked = np.ma.masked_where(np.triu(np.ones_like(m, dtype=bool), k=1), m) if causal else m
    size = min(9.0, 2.5 + 0.22 * n)
    fig = _figure(size + 1.2, size)
    ax = fig.subplots()
    cmap = _cmap("Blues")
    im = ax.imshow(masked, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    fontsize = 9 if n <= 30 else 7 if n <= 50 else 5
    ax.set_xticks(range(n), labels, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(n), labels, fontsize=fontsize)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    if query is not None and query >= first:
        q = query - first
        ax.add_patch(_rectangle((-0.5, q - 0.5), n, 1, edgecolor="#d62728", facecolor="none", linewidth=1.5))
    fig.colorbar(im, ax=ax, fraction=0.04, label="share of the row's max" if per_row else "attention weight")
    ax.set_title(title, fontsize=10)
    return figure_png(fig)


def bars_png(values: np.ndarray, labels: Sequence[str], title: str = "", scores: np.ndarray | None = None,
             diverging: bool = False, ylabel: str = "attention weight", vmax: float | None = None,
             panels: Sequence[tuple[np.ndarray, str, np.ndarray | None]] | None = None) -> bytes:
    """Bar chart(s) of weights over tokens. `panels` draws several (values, title, scores) side by
    side; raw `scores` are written above the bars."""
    panels = list(panels) if panels is not None else [(values, title, scores)]
    n = len(labels)
    fig = _figure(min(14.0, (1.5 + 0.35 * n) * len(panels)) + 0.5, 3.2)
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    for ax, (vals, ttl, sc) in zip(axes, panels):
        vals = np.asarray(vals, dtype=np.float64)
        if diverging:
            colours = ["#2166ac" if v >= 0 else "#b2182b" for v in vals]
        else:
            colours = [colour_for(v, vmax or max(vals.max(), 1e-9))[0] for v in vals]
        ax.bar(range(n), vals, color=colours, edgecolor="#555555", linewidth=0.5)
        ax.set_xticks(range(n), labels, rotation=90 if n > 12 else 0, fontsize=9)
        if diverging:
            ax.axhline(0, color="#333333", linewidth=0.8)
        if sc is not None:
            for i, (v, s) in enumerate(zip(vals, sc)):
                if np.isfinite(s):
                    ax.annotate(f"{s:+.1f}", (i, max(v, 0)), textcoords="offset points", xytext=(0, 2),
                                ha="center", fontsize=7, color="#444444")
        ax.set_title(ttl, fontsize=10)
    axes[0].set_ylabel(ylabel)
    if not diverging:
        top = vmax or max(max(np.max(p[0]) for p in panels), 1e-9)
        axes[0].set_ylim(0, top * 1.18)
    return figure_png(fig)


def grid_png(attn: np.ndarray, query: int | None = None, first: int = 0, per_row: bool = False,
             current: tuple[int, int | str] | None = None) -> bytes:
    """Every layer x head as a thumbnail (rows: layers, columns: heads); the current one framed."""
    L, H = attn.shape[:2]
    fig = _figure(1.6 * H + 0.4, 1.6 * L + 0.3)
    axes = np.array(fig.subplots(L, H, squeeze=False))
    cmap = _cmap("Blues")
    for layer in range(L):
        for head in range(H):
            m = attn[layer, head][first:, first:]
            if per_row:
                m = m / np.where(m.max(axis=1, keepdims=True) > 0, m.max(axis=1, keepdims=True), 1.0)
            ax = axes[layer, head]
            ax.imshow(np.ma.masked_where(np.triu(np.ones_like(m, dtype=bool), k=1), m), cmap=cmap, vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if query is not None and query >= first:
                ax.axhline(query - first, color="#d62728", linewidth=0.6, alpha=0.6)
            ax.set_title(f"L{layer} H{head}", fontsize=8)
            if current is not None and current[0] == layer and current[1] in (head, "mean", "max"):
                for spine in ax.spines.values():
                    spine.set_edgecolor("#d62728")
                    spine.set_linewidth(2 if current[1] == head else 1)
    return figure_png(fig)


def _cmap(name: str):
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad="#f4f4f4")  # bad = the masked (future) triangle


def _rectangle(*args, **kwargs):
    from matplotlib.patches import Rectangle

    return Rectangle(*args, **kwargs)


def stats_html(stats: dict, heading: str = "") -> str:
    """The top-k tokens with their weights, the row sum and the entropy as a small HTML table."""
    rows = "".join(f"<tr><td>{i}</td><td><code>{html.escape(repr(tok))}</code></td><td>{w:.3f}</td></tr>"
                   for i, tok, w in stats["top"])
    extra = ""
    if abs(stats["sum_shown"] - stats["row_sum"]) > 1e-9:
        extra = f"<br>sum of the tokens shown: {stats['sum_shown']:.3f}"
    return (f'<div style="font-size:12px;min-width:210px">{heading}'
            f'<table><tr><th>pos</th><th>token</th><th>weight</th></tr>{rows}</table>'
            f"row sum: {stats['row_sum']:.3f}{extra}<br>"
            f"entropy: {stats['entropy']:.2f} nats (uniform: {stats['uniform_entropy']:.2f})</div>")


def write_atomic(path: str | Path, data: bytes, overwrite: bool = False) -> Path:
    """Write `data` to `path` via a temporary file and a rename; an existing file is only replaced
    with `overwrite=True`."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


# ============================================================================ the widget

def _widgets():
    import ipywidgets

    return ipywidgets


class AttentionExplorer(_widgets().VBox):
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
        w = _widgets()
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
        w = _widgets()
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
        a = _to_numpy(alphas)
        if a.ndim == 1:
            a = a[None]
        if a.ndim != 2:
            raise ValueError(f"alpha must have shape (instructions, tokens) or (tokens,), got {a.shape}")
        if tokens is None or len(tokens) != a.shape[1]:
            raise ValueError(f"give one token per alpha weight: {a.shape[1]} weights, "
                             f"{None if tokens is None else len(tokens)} tokens")
        s = None if scores is None else _to_numpy(scores).reshape(a.shape)
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
            rows.append(_to_numpy(alpha))
            scores.append(_to_numpy(score))
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

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = self.__repr__()
        data["text/html"] = self.static_html()
        return data

    def __repr__(self) -> str:
        size = f"{len(self.tokens)} tokens"
        if self.attentions is not None:
            size += f", {self.attentions.shape[0]} layers x {self.attentions.shape[1]} heads"
        return f"AttentionExplorer({self.mode}: {size}, view={self.view.value!r})"

    def save_png(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the current picture as a PNG file (atomically; never over an existing file unless
        `overwrite=True`)."""
        return write_atomic(path, self.image.value, overwrite)

    def save_html(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the current picture, tokens and numbers as a standalone HTML page (atomically; never
        over an existing file unless `overwrite=True`)."""
        page = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>attention</title></head><body>"
                + self.static_html() + "</body></html>")
        return write_atomic(path, page.encode("utf-8"), overwrite)


def selector_attention(selector, instruction: str, text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(tokens, alpha, raw scores) of an `itlib.attention.Selector` for one instruction and input text."""
    import torch

    from itlib.attention import SelectExample, encode_batch

    items = tuple(text.split())
    if not items:
        raise ValueError("the input is empty: give items such as '7 red cat 2 blue'")
    batch = encode_batch([SelectExample(instruction, items, items[0], "")], selector.vocab)
    with torch.no_grad():
        out = selector(batch["items"], batch["item_mask"], batch["words"], batch["word_mask"])
    return list(items), out.weights[0].numpy(), out.scores[0].numpy()
