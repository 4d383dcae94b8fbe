"""Check an HTML copy of the course (python tools/run_notebooks.py --html DIR) reads offline:

    python tools/check_html.py DIR

1. no page loads anything from the network (no http(s) URL in a src / href / import of a script,
   stylesheet, picture or frame);
2. with a headless Chromium (`chromium` on the PATH) and every network name made unresolvable, each
   page's formulas are typeset by the local MathJax and no raw `$...$` is left in the text.
Exit code 1 with one line per problem, 0 when every page passes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

REMOTE = re.compile(r"^\s*(https?:)?//", re.I)
RAW_MATH = re.compile(r"\$[^$\s][^$]*\$")


class _Page(HTMLParser):
    """Collects remote resources and the visible text outside scripts, styles and typeset math."""

    def __init__(self):
        super().__init__()
        self.remote, self.text, self._skip = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href", "data"):
            url = attrs.get(key) or ""
            if REMOTE.match(url) and not (tag == "a" and key == "href"):  # a link to click is not a resource
                self.remote.append(f"<{tag} {key}={url}>")
        classes = attrs.get("class") or ""
        if tag in ("script", "style") or "MathJax" in classes:
            self._skip.append(tag)
        elif self._skip and tag == self._skip[-1]:
            self._skip.append(tag)

    def handle_endtag(self, tag):
        if self._skip and tag == self._skip[-1]:
            self._skip.pop()

    def handle_data(self, data):
        if self._skip and self._skip[0] == "script":
            self.remote += [f"import({m})" for m in re.findall(r"import\(\s*[\"'](https?://[^\"']+)", data)]
        elif not self._skip:
            self.text.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def rendered_dom(path: Path, browser: str) -> str:
    """The page's DOM after its scripts ran, in headless Chromium with no network name resolvable."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--virtual-time-budget=20000", "--dump-dom", path.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout


def problems(page_path: Path, browser: str | None) -> list[str]:
    source = page_path.read_text(encoding="utf-8")
    found = [f"{page_path.name}: loads {r}" for r in parse(source).remote]
    if browser:
        dom_html = rendered_dom(page_path, browser)
        raw = [m.group(0) for m in RAW_MATH.finditer(" ".join(parse(dom_html).text))]
        found += [f"{page_path.name}: formula left raw: {r[:60]}" for r in raw[:5]]
        if RAW_MATH.search(" ".join(parse(source).text)) and 'class="MathJax' not in dom_html:
            found.append(f"{page_path.name}: MathJax typeset nothing")
    return found


def main(folder: str) -> int:
    pages = sorted(Path(folder).glob("*.html"))
    if not pages:
        print(f"no HTML pages in {folder}")
        return 1
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        print("no chromium on the PATH: checked remote resources only, not the typesetting")
    found = [p for page in pages for p in problems(page, browser)]
    print("\n".join(found) or f"{len(pages)} pages: no remote resource" + (", every formula typeset" if browser else ""))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "course-html"))
