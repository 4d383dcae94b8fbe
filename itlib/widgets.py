"""What the course's widgets share: the attention explorer (`itlib.viz`), the rating widget
(`itlib.rating`) and the chat widget (`itlib.deploy`).

- `ipywidgets_module()`: the ipywidgets module, imported where it is first needed;
- `StaticHTMLBox`: a `VBox` that also shows where widgets do not run (a saved notebook, GitHub,
  nbconvert): next to the live widget, its `_repr_mimebundle_` carries `text/plain` (the `repr`)
  and `text/html` (the subclass's `static_html()`).

Widgets are built from standard ipywidgets only, and everything they show is Python-side state,
so that tests can set a control's value and assert on what the widget holds, without a browser.
"""

from __future__ import annotations

__all__ = ["StaticHTMLBox", "ipywidgets_module"]


def ipywidgets_module():
    """The `ipywidgets` module (imported on the first call; later calls return the same module)."""
    import ipywidgets

    return ipywidgets


class StaticHTMLBox(ipywidgets_module().VBox):
    """A `VBox` with a static copy for renderers that do not run widgets.

    A subclass defines `static_html()` (an HTML fragment of what it shows now) and `__repr__`;
    `_repr_mimebundle_` returns the widget view plus `text/plain` = repr(self) and
    `text/html` = self.static_html()."""

    def static_html(self) -> str:
        """The HTML shown where the widget cannot run; each subclass says what it shows."""
        raise NotImplementedError(f"{type(self).__name__} must define static_html()")

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = repr(self)
        data["text/html"] = self.static_html()
        return data
