"""Progress bars that leave finished work behind.

Live (a learner in Jupyter or a terminal) `bar(...)` is a plain `tqdm.auto` bar, as before.

Headless (`ITLIB_HEADLESS=1`, set by `tools/run_notebooks.py` and the test suite for the kernels they
start) there is no bar: in a notebook executed without a browser the tqdm widget never renders, and the
saved notebook keeps only its text fallback, frozen at `0%|`. Instead, when the bar closes, one line
says what happened:

    fit: 150/150 steps in 12.3 s, final loss 0.123

`HEADLESS_ENV` holds the environment a headless kernel gets: it also switches off bars that itlib does
not make (a notebook's own `tqdm(...)`, Hugging Face `datasets` and hub downloads).
"""

from __future__ import annotations

import os
import time

__all__ = ["HEADLESS_ENV", "Bar", "bar", "headless", "headless_env"]

ENV = "ITLIB_HEADLESS"

HEADLESS_ENV = {
    ENV: "1",
    "TQDM_DISABLE": "1",                       # tqdm's default for `disable` (explicit disable= still wins)
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",  # datasets .map / .filter bars
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",       # huggingface_hub, and transformers' bars through it
}


def headless() -> bool:
    """True when `ITLIB_HEADLESS` is set to anything but "", "0", "false", "no", "off"."""
    return os.environ.get(ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def headless_env(base: dict | None = None) -> dict:
    """`base` (default: this process's environment) with `HEADLESS_ENV` on top: the `env` to start a
    headless kernel with."""
    return {**(os.environ if base is None else base), **HEADLESS_ENV}


class Bar:
    """A `tqdm.auto` bar (live) or a silent counter that prints one summary line on `close()` (headless).

    Supports what the library uses: iteration, `update`, `set_postfix` (a `loss=` entry becomes the
    summary's final loss), `close` and use as a context manager; anything else goes to the tqdm bar."""

    def __init__(self, iterable=None, *, total=None, desc=None, disable=False, summary=True, noun=None, **kw):
        from tqdm.auto import tqdm

        self.desc = desc or "progress"
        self.total = total if total is not None else _len(iterable)
        self.n = self.initial = int(kw.get("initial", 0) or 0)
        self.noun = noun or kw.get("unit") or "steps"
        self.loss = None
        self.headless = headless()
        self.summary = bool(summary) and not disable and self.headless
        self._t0 = time.perf_counter()
        self._closed = False
        self.tqdm = tqdm(iterable, total=total, desc=desc, disable=disable or self.headless, **kw)

    # -- what the library calls
    def __iter__(self):
        try:
            for item in self.tqdm:
                yield item
                self.n += 1
        finally:
            self.close()

    def update(self, n=1):
        self.n += n
        return self.tqdm.update(n)

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):
        values = {**(ordered_dict or {}), **kwargs}
        if "loss" in values:
            self.loss = values["loss"]
        return self.tqdm.set_postfix(ordered_dict, refresh=refresh, **kwargs)

    def close(self, loss=None):
        """Close the bar; `loss` (e.g. the last step's) replaces the last `set_postfix(loss=...)` value
        in the summary line."""
        if loss is not None:
            self.loss = loss
        if self._closed:
            return
        self._closed = True
        self.tqdm.close()
        if self.summary:
            print(self.summary_line(), flush=True)

    def summary_line(self) -> str:
        """e.g. 'fit: 150/150 steps in 12.3 s, final loss 0.123'."""
        seconds = time.perf_counter() - self._t0
        count = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
        line = f"{self.desc}: {count} {self.noun} in {seconds:.1f} s"
        if self.loss is not None:
            loss = f"{self.loss:.3f}" if isinstance(self.loss, float) else str(self.loss)
            line += f", final loss {loss}"
        return line

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __getattr__(self, name):  # set_description, write, refresh, ... of the underlying bar
        if name == "tqdm":  # not set yet (tqdm() raised in __init__)
            raise AttributeError(name)
        return getattr(self.tqdm, name)


def _len(iterable):
    try:
        return len(iterable)
    except TypeError:
        return None


def bar(iterable=None, *, total=None, desc=None, disable=False, summary=True, noun=None, **kw) -> Bar:
    """The one way itlib makes a progress bar: `bar(total=n, desc="fit", disable=not progress)` or
    `for x in bar(items, desc="fisher", noun="examples", disable=not progress): ...`.

    Other keywords go to tqdm. Headless: `noun` names what was counted in the summary line (default:
    tqdm's `unit` if given, else "steps"); `summary=False` prints no line (for short, transient bars)."""
    return Bar(iterable, total=total, desc=desc, disable=disable, summary=summary, noun=noun, **kw)
