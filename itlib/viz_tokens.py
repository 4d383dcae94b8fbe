"""Tokens drawn with their loss mask: which tokens of f(X, I) the model is trained on.

    pieces = token_pieces(tokenizer, rendered.input_ids)     # the text each token adds
    TokenMask(pieces, rendered.loss_mask, label="prefix")    # shows as coloured HTML in Jupyter
    plot_token_masks([("prefix", pieces, mask), ...])        # the same as a matplotlib figure

`token_pieces` is lossless: "".join(pieces) == tokenizer.decode(ids). A byte-level tokenizer may
split one character (a Chinese one, say) over several tokens; the character is then shown on the
token that completes it and the tokens before it show as "…" (they add bytes, not yet a character).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

TRAINED = "#a5d6a7"  # green: the token carries loss (mask = 1)
NOT_TRAINED = "#e0e0e0"  # grey: the model reads it but is not trained to produce it (mask = 0)
PENDING = "…"  # shown for a token that adds bytes but completes no character yet
_REPLACEMENT = "\ufffd"


def token_pieces(tokenizer, ids: Sequence[int]) -> list[str]:
    """The text each token adds to the decoded sequence (special tokens included, as text).

    Decodes the growing prefix ids[:i+1]; while it ends in an incomplete character (U+FFFD) the
    token's piece is "" and the text appears on the token that completes it."""
    pieces: list[str] = []
    emitted = ""
    for i in range(len(ids)):
        text = tokenizer.decode(list(ids[: i + 1]), skip_special_tokens=False, clean_up_tokenization_spaces=False)
        if text.endswith(_REPLACEMENT) and i + 1 < len(ids):
            pieces.append("")
            continue
        if not text.startswith(emitted):  # a tokenizer whose decoding is not prefix-stable
            text = emitted + tokenizer.convert_ids_to_tokens(int(ids[i]))
        pieces.append(text[len(emitted):])
        emitted = text
    return pieces


def visible(piece: str) -> str:
    """A piece with its whitespace made visible: space "·", newline "↵", tab "→"; "" becomes "…"."""
    if piece == "":
        return PENDING
    return piece.replace(" ", "·").replace("\n", "↵").replace("\t", "→")


def _check(pieces: Sequence[str], mask: Sequence[int]) -> None:
    if len(pieces) != len(mask):
        raise ValueError(f"{len(pieces)} tokens but a loss mask of length {len(mask)}; they must match")
    bad = [m for m in mask if int(m) not in (0, 1)]
    if bad:
        raise ValueError(f"a loss mask holds only 0 and 1, found {bad[0]!r}")


def mask_html(pieces: Sequence[str], mask: Sequence[int], label: str | None = None) -> str:
    """HTML: one box per token, green where mask = 1 (trained on), grey where 0; a newline token
    also breaks the line, as in the text."""
    _check(pieces, mask)
    spans = []
    for piece, m in zip(pieces, mask):
        colour = TRAINED if int(m) else NOT_TRAINED
        title = "trained on (mask 1)" if int(m) else "not trained on (mask 0)"
        spans.append(
            f'<span class="tok m{int(m)}" title="{title}" style="background:{colour};border:1px solid #999;'
            f'border-radius:3px;padding:0 2px;margin:1px;font-family:monospace;white-space:pre;'
            f'display:inline-block">{html.escape(visible(piece))}</span>'
        )
        if piece.endswith("\n"):
            spans.append("<br>")
    head = f"<b>{html.escape(label)}</b> " if label else ""
    n = sum(int(m) for m in mask)
    legend = (f'<span style="font-size:85%;color:#555"> ({n} of {len(mask)} tokens trained on: '
              f'<span style="background:{TRAINED}">&nbsp;green&nbsp;</span> = loss, '
              f'<span style="background:{NOT_TRAINED}">&nbsp;grey&nbsp;</span> = no loss)</span>')
    return f'<div style="line-height:1.9;margin:4px 0">{head}{legend}<br>{"".join(spans)}</div>'


@dataclass
class TokenMask:
    """Tokens with their loss mask; displays as coloured HTML in Jupyter, as text elsewhere."""

    pieces: list[str]
    mask: list[int]
    label: str | None = None

    def __post_init__(self):
        _check(self.pieces, self.mask)

    @classmethod
    def from_ids(cls, tokenizer, ids: Sequence[int], mask: Sequence[int], label: str | None = None) -> TokenMask:
        return cls(token_pieces(tokenizer, ids), [int(m) for m in mask], label)

    def _repr_html_(self) -> str:
        return mask_html(self.pieces, self.mask, self.label)

    def __str__(self) -> str:
        """Plain text: trained-on tokens in [brackets]."""
        body = "".join(f"[{visible(p)}]" if m else visible(p) for p, m in zip(self.pieces, self.mask))
        return f"{self.label}: {body}" if self.label else body


def plot_token_masks(rows: Sequence[tuple[str, Sequence[str], Sequence[int]]], line_chars: int = 64,
                     title: str | None = None, fontsize: int = 9):
    """One block per (label, pieces, mask): token boxes flowing left to right, wrapping after about
    `line_chars` characters, green where the token carries loss and grey where it does not.
    Returns the matplotlib Figure (call `plt.show()` to display it)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    placed = []  # (label_row, row, x, width, text, m) in character units
    row = 0
    label_rows = []
    for label, pieces, mask in rows:
        _check(pieces, mask)
        label_rows.append((row, label))
        x = 0.0
        for piece, m in zip(pieces, mask):
            text = visible(piece)
            width = len(text) + 0.6
            if x > 0 and x + width > line_chars:
                row, x = row + 1, 0.0
            placed.append((row, x, width, text, int(m)))
            x += width + 0.25
        row += 2  # a blank line between blocks
    n_rows = max(row - 1, 1)
    char_inches = 0.62 * fontsize / 72  # the width of one monospace character
    fig, ax = plt.subplots(figsize=(char_inches * (line_chars + 2) + 1.0, 0.3 * n_rows + (0.8 if title else 0.5)))
    for r, x, width, text, m in placed:
        ax.add_patch(Rectangle((x, -r - 0.8), width, 0.7, facecolor=TRAINED if m else NOT_TRAINED,
                               edgecolor="#888888", linewidth=0.6))
        ax.text(x + width / 2, -r - 0.45, text, ha="center", va="center", family="monospace", fontsize=fontsize)
    for r, label in label_rows:
        ax.text(-1.0, -r - 0.45, label, ha="right", va="center", fontsize=fontsize + 1, weight="bold")
    ax.set_xlim(-1.0, line_chars + 1)
    ax.set_ylim(-n_rows - 0.1, 0.1)
    ax.axis("off")
    ax.legend(handles=[Patch(facecolor=TRAINED, edgecolor="#888888", label="loss (mask 1)"),
                       Patch(facecolor=NOT_TRAINED, edgecolor="#888888", label="no loss (mask 0)")],
              loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=fontsize, frameon=False)
    if title:
        ax.set_title(title, loc="left", fontsize=fontsize + 2)
    fig.tight_layout()
    return fig
