"""The HTML copy of the course reads offline: no resource from the network, MathJax from a local copy
(tools/run_notebooks.py --html, checked by tools/check_html.py)."""

import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from check_html import parse, problems  # noqa: E402
from run_notebooks import write_html  # noqa: E402


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    nb = nbformat.read(ROOT / "notebooks" / "05_attention.ipynb", as_version=4)  # has formulas
    write_html(nb, folder / "05_attention.html")
    return folder / "05_attention.html"


def test_pages_load_nothing_from_the_network_and_carry_their_mathjax(page):
    assert problems(page, browser=None) == []
    assert (page.parent / "mathjax" / "MathJax.js").exists()
    config = page.parent / "mathjax" / "config" / "TeX-AMS-MML_HTMLorMML-full.js"
    assert config.exists()  # the configuration the pages ask for


def test_the_checker_catches_a_cdn_page(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<html><head><script src="https://cdn.example/x.js"></script></head>'
                   '<body><a href="https://ok.example">a link is fine</a><p>text</p></body></html>')
    assert problems(bad, browser=None) == ["bad.html: loads <script src=https://cdn.example/x.js>"]
    assert parse('<script>import("https://cdn.example/m.mjs")</script>').remote == ["import(https://cdn.example/m.mjs)"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs a headless chromium to typeset the formulas")
def test_formulas_are_typeset_offline_in_a_real_browser(page):
    assert problems(page, browser=shutil.which("chromium")) == []
