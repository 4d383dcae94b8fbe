"""The helpers the course's widgets share (`itlib.widgets`): a widget that also shows as static HTML."""

import numpy as np
import pytest

from itlib.widgets import StaticHTMLBox, ipywidgets_module


class _Note(StaticHTMLBox):
    def __init__(self, text):
        super().__init__([ipywidgets_module().HTML(value=text)])
        self.text = text

    def static_html(self):
        return f"<p>{self.text}</p>"

    def __repr__(self):
        return f"_Note({self.text!r})"


def test_the_bundle_holds_the_widget_its_repr_and_its_static_html():
    bundle = _Note("hello")._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == "_Note('hello')" and bundle["text/html"] == "<p>hello</p>"


def test_a_widget_without_static_html_says_so():
    class Bare(StaticHTMLBox):
        pass

    with pytest.raises(NotImplementedError, match="Bare must define static_html"):
        Bare()._repr_mimebundle_()


def test_the_course_widgets_share_the_helper(tmp_path):
    from itlib.rating import RatingItem, RatingWidget
    from itlib.viz import AttentionExplorer

    explorer = AttentionExplorer.from_alpha(np.array([[0.25, 0.75]]), ["a", "b"])
    rating = RatingWidget([RatingItem("i1", "Sort.", "2 1", "1 2", "1 2", "sort")], tmp_path / "r.jsonl", "ana")
    for widget in (explorer, rating):
        assert isinstance(widget, StaticHTMLBox) and isinstance(widget, ipywidgets_module().VBox)
        assert widget._repr_mimebundle_()["text/html"] == widget.static_html()
