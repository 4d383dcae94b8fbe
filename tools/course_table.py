"""Write the course table into README.md (between the COURSE-TABLE markers) from the notebooks
themselves and the measured run times in benchmarks/notebooks.json.

    python tools/course_table.py
"""

import importlib
import json
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- COURSE-TABLE:START -->", "<!-- COURSE-TABLE:END -->"


def row(path: Path, measured: dict) -> str:
    nb = nbformat.read(path, as_version=4)
    title = nb.cells[0].source.splitlines()[0].lstrip("# ").strip()
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    modules = sorted(set(re.findall(r"from itlib\.(\w+)", code)) - {"exercises"})
    number = path.name[:2]
    try:
        from itlib.exercises import exercises_of

        n_ex = len(exercises_of(importlib.import_module(f"itlib.exercises.nb{number}")))
    except ModuleNotFoundError:
        n_ex = 0
    m = measured.get(path.name, {})
    time = f"{m['seconds'] / 60:.1f} min" if m else "–"
    mem = f"{m['peak_mb'] / 1024:.2f} GB" if m else "–"
    return (f"| {number} | [{title}](notebooks/{path.name}) | {', '.join(f'`{x}`' for x in modules)} "
            f"| {time} | {mem} | {n_ex} |")


def table() -> str:
    measured_file = ROOT / "benchmarks" / "notebooks.json"
    measured = json.loads(measured_file.read_text()) if measured_file.exists() else {}
    rows = [row(p, measured) for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    total = sum(m["seconds"] for m in measured.values())
    head = ["| # | notebook | library modules | run time | peak memory | exercises |",
            "|---|---|---|---|---|---|"]
    foot = [f"\nWhole course: {total / 60:.1f} min, measured by `python tools/run_notebooks.py` "
            "(fresh kernel per notebook, peak RSS of the kernel process) on a 2-core CPU without GPU."]
    return "\n".join(head + rows + foot)


if __name__ == "__main__":
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{table()}\n{END}", text, flags=re.S)
    readme.write_text(new, encoding="utf-8")
    print(table())
