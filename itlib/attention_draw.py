"""Drawing attention: weights as colours, shaded tokens (HTML) and matplotlib pictures (PNG bytes).

Nothing here computes attention (that is `itlib.attention_maps`) or holds a widget (`itlib.viz`):
each function turns numbers into something to look at.
- colours: `colour_for` (white at 0 -> dark blue at vmax), `diverging_colour` (red < 0 < blue);
- HTML: `tokens_html` (the text, each token shaded by its weight), `heading_html`, `stats_html`;
- pictures: `heatmap_png` (query x key, causal triangle masked), `bars_png` (weights over tokens),
  `grid_png` (every layer x head), rendered with matplotlib's `Figure` (no pyplot: nothing is shown
  or kept), and `png_size` to read a picture's size back.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence

import numpy as np

__all__ = [
    "bars_png", "colour_for", "diverging_colour", "figure_png", "grid_png", "heading_html", "heatmap_png",
    "label_token", "png_size", "stats_html", "tokens_html",
]

LOW = np.array([255.0, 255.0, 255.0])  # weight 0: white
HIGH = np.array([8.0, 69.0, 148.0])  # weight vmax: dark blue
NEGATIVE = np.array([178.0, 24.0, 43.0])  # diverging scale, negative end: red

# ---------------------------------------------------------------------------- colours and HTML

def _hex(rgb: np.ndarray) -> str:
    """An (r, g, b) array, clipped to 0..255 and rounded, as a CSS colour "#rrggbb"."""
    r, g, b = (round(float(v)) for v in np.clip(rgb, 0, 255))
    return f"#{r:02x}{g:02x}{b:02x}"


def colour_for(weight: float, vmax: float = 1.0) -> tuple[str, str]:
    """(background, text) colours for a weight: white at 0, dark blue at `vmax` (linear; clipped),
    with white text on dark backgrounds: t = clip(weight / vmax, 0, 1), colour = LOW + t (HIGH - LOW)."""
    t = 0.0 if vmax <= 0 or not np.isfinite(weight) else float(np.clip(weight / vmax, 0.0, 1.0))
    return _hex(LOW + t * (HIGH - LOW)), "#ffffff" if t > 0.55 else "#000000"


def diverging_colour(value: float, vmax: float = 1.0) -> tuple[str, str]:
    """(background, text) colours for a signed value: red below 0, white at 0, blue above."""
    t = 0.0 if vmax <= 0 or not np.isfinite(value) else float(np.clip(value / vmax, -1.0, 1.0))
    end = HIGH if t >= 0 else NEGATIVE
    return _hex(LOW + abs(t) * (end - LOW)), "#ffffff" if abs(t) > 0.55 else "#000000"


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


# ---------------------------------------------------------------------------- pictures (PNG bytes)

def _figure(width: float, height: float):
    """A matplotlib `Figure` of `width` x `height` inches at 100 dpi, outside pyplot."""
    from matplotlib.figure import Figure  # no pyplot: nothing is shown or kept, only rendered

    return Figure(figsize=(width, height), dpi=100)


def figure_png(fig) -> bytes:
    """A matplotlib figure rendered as PNG bytes, cropped to what is drawn (bbox_inches="tight")."""
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
    """Matplotlib's colour map `name`, with masked cells (the causal triangle) drawn light grey."""
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad="#f4f4f4")  # bad = the masked (future) triangle


def _rectangle(*args, **kwargs):
    """A matplotlib `Rectangle` patch (imported here, so that importing this module needs no matplotlib)."""
    from matplotlib.patches import Rectangle

    return Rectangle(*args, **kwargs)
