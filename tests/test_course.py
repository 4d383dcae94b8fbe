"""The course page and its delivery: Binder configuration, badges, measured budgets, instructor notes."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def requirement(spec_lines, name):
    found = [line.strip() for line in spec_lines if re.match(rf"\s*{name}\s*[<>=!~]", line)]
    assert len(found) == 1, f"{name}: {found}"
    return found[0].replace(" ", "")


def test_binder_installs_cpu_torch_in_the_package_range_and_the_package_itself():
    binder = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    pyproject = (ROOT / "pyproject.toml").read_text()
    deps = re.findall(r'^\s*"([^"]+)",?$', pyproject.split("dependencies = [", 1)[1].split("]", 1)[0], re.M)
    assert requirement(binder, "torch") == requirement(deps, "torch")
    assert any(line.startswith("--extra-index-url https://download.pytorch.org/whl/cpu") for line in binder)
    assert any(re.fullmatch(r"-e \.(\[dev\])?", line.strip()) for line in binder), "binder must install -e ."
    assert re.fullmatch(r"python-3\.1[0-9]\s*", (ROOT / "binder" / "runtime.txt").read_text())


def test_every_binder_badge_opens_an_existing_notebook_and_every_notebook_has_one():
    links = re.findall(r"\(https://mybinder\.org/v2/gh/[\w.-]+/[\w.-]+/HEAD\?urlpath=lab/tree/([^)]+)\)", README)
    assert "notebooks" in links, "a badge that launches the whole course"
    targets = [link for link in links if link != "notebooks"]
    for target in targets:
        assert (ROOT / target).is_file(), f"badge points at a missing notebook: {target}"
    assert sorted(Path(t).name for t in targets) == NOTEBOOKS


def source_hash(src):
    import hashlib

    return hashlib.sha256(src.read_bytes()).hexdigest()[:16]


def test_course_table_lists_every_measured_notebook():
    """Run time and peak memory come from tools/run_notebooks.py on a free 2-core CPU (not timed here):
    each notebook <= 3 min and <= 1.5 GB, the whole course <= 20 min, and the README shows them."""
    measured = json.loads((ROOT / "benchmarks" / "notebooks.json").read_text())
    assert sorted(measured) == NOTEBOOKS, "run tools/run_notebooks.py for every notebook"
    for name, m in measured.items():
        source = ROOT / "notebooks" / "src" / name.replace(".ipynb", ".py")
        assert m.get("source_sha256") == source_hash(source), f"{name} changed since it was measured: re-run it"
        assert m["seconds"] <= 180, f"{name}: {m['seconds']} s > 3 min"
        assert m["peak_mb"] <= 1536, f"{name}: {m['peak_mb']} MB > 1.5 GB"
        assert f"(notebooks/{name})" in README
    total = sum(m["seconds"] for m in measured.values())
    assert total <= 20 * 60, f"the whole course takes {total / 60:.1f} min > 20 min"
    assert f"Whole course: {total / 60:.1f} min" in README, "regenerate the table: python tools/course_table.py"


def test_instructor_notes_cover_every_notebook():
    notes = (ROOT / "docs" / "instructors.md").read_text(encoding="utf-8")
    for name in NOTEBOOKS:
        assert name[:2] in re.findall(r"^#+ .*?(\d\d)", notes, re.M), f"no section for {name}"
    for plan in ("1-day", "1-week"):
        assert plan in notes


def test_course_table_finds_every_way_of_importing_a_module():
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    from course_table import itlib_modules

    code = ("import itlib\nfrom itlib import deploy\nfrom itlib import (bayes,\n    strategies as S)\n"
            "from itlib.data import Example\nitlib.metrics.two_se(0.5, 0.4, 10)\nmodel, tok = itlib.load_base()\n")
    assert itlib_modules(code) == {"bayes", "data", "deploy", "metrics", "strategies"}
