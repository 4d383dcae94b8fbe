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
BADGE = "https://mybinder.org/badge_logo.svg"

# What each notebook teaches, in the words of the course's syllabus.
TEACHES = {
    "00": "what instruction tuning is; prompt learning, meta-learning, interpretability; the 5-step pipeline",
    "01": "instruction representation f(X, I): prefix, infilling, seq2seq; L = −Σ log P(Y | f(X, I))",
    "02": "instruction data: coverage, diversity, difficulty, bias; rule-based and model-based generation",
    "03": "how instruction and input interact: conditional generation, classification, labelling",
    "04": "instruction embeddings: word vectors combined into e_I (mean, max, attention)",
    "05": "instruction attention α_i = softmax_i(h_iᵀ W e_I), c = Σ α_i h_i, visualised interactively",
    "06": "fine-tuning strategies: full, partial (frozen, bias-only, LoRA), multi-task, meta-learning, "
          "adversarial, distillation",
    "07": "choosing representations: prompt engineering, prompt tuning (soft prompts), prompt ensembling",
    "08": "evaluation: exact match, P/R/F1, human rating, online A/B tests, iterating on errors",
    "09": "the Bayesian view θ* = argmax P(D|θ) P(θ): weight decay, L2-SP, EWC and forgetting",
    "10": "what the model brings: scale, pretraining data, architecture; number of tasks and templates",
    "11": "deployment: HF folder, plain transformers in a fresh process, EOS, chat widget, int8",
}


def binder_url() -> str:
    """mybinder.org launch URL of the repository named in pyproject.toml ([project.urls] Repository)."""
    repo = re.search(r'^Repository = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    owner_name = repo.removeprefix("https://github.com/").strip("/")
    return f"https://mybinder.org/v2/gh/{owner_name}/HEAD"


def badge(path: str) -> str:
    return f"[![launch on Binder]({BADGE})]({binder_url()}?urlpath=lab/tree/{path})"


def itlib_modules(code: str) -> set[str]:
    """The itlib modules a notebook's code uses: `from itlib.X import ...`, `import itlib.X`,
    `from itlib import X, Y` (where X is a module, not a function such as `load_base`) and `itlib.X.` calls."""
    found = set(re.findall(r"(?:from|import) itlib\.(\w+)", code)) | set(re.findall(r"\bitlib\.(\w+)\.", code))
    imports = re.findall(r"^\s*from itlib import \(([^)]*)\)", code, re.M)
    imports += re.findall(r"^\s*from itlib import ([\w ,]+)$", code, re.M)
    for names in imports:
        found |= {n.split(" as ")[0].strip() for n in names.split(",") if n.strip()}
    return {m for m in found if (ROOT / "itlib" / f"{m}.py").exists() or (ROOT / "itlib" / m).is_dir()}


def row(path: Path, measured: dict) -> str:
    nb = nbformat.read(path, as_version=4)
    title = nb.cells[0].source.splitlines()[0].lstrip("# ").strip()
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    modules = sorted(itlib_modules(code) - {"exercises"})
    number = path.name[:2]
    try:
        from itlib.exercises import exercises_of

        n_ex = len(exercises_of(importlib.import_module(f"itlib.exercises.nb{number}")))
    except ModuleNotFoundError:
        n_ex = 0
    teaches = TEACHES.get(number, "").replace("|", "\\|")  # a bare | would split the table cell
    m = measured.get(path.name, {})
    time = f"{m['seconds'] / 60:.1f} min" if m else "–"
    mem = f"{m['peak_mb'] / 1024:.2f} GB" if m else "–"
    return (f"| {number} | [{title}](notebooks/{path.name}) | {teaches} "
            f"| {', '.join(f'`{x}`' for x in modules)} | {time} | {mem} | {n_ex} | {badge('notebooks/' + path.name)} |")


def table() -> str:
    measured_file = ROOT / "benchmarks" / "notebooks.json"
    measured = json.loads(measured_file.read_text()) if measured_file.exists() else {}
    rows = [row(p, measured) for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    total = sum(m["seconds"] for m in measured.values())
    head = [f"Launch the whole course: {badge('notebooks')}", "",
            "| # | notebook | teaches | library modules | run time | peak memory | exercises | open |",
            "|---|---|---|---|---|---|---|---|"]
    foot = [f"\nWhole course: {total / 60:.1f} min, measured by `python tools/run_notebooks.py` "
            "(fresh kernel per notebook, peak RSS of the kernel process) on a 2-core CPU without GPU."]
    return "\n".join(head + rows + foot)


if __name__ == "__main__":
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{table()}\n{END}", text, flags=re.S)
    readme.write_text(new, encoding="utf-8")
    print(table())
