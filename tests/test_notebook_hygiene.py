"""What a reader sees is what the run did, and the course stands on its own:

(a) no saved notebook output holds a progress bar frozen below 100 % (the tqdm widget's text form,
    `0%|`, is all a static viewer shows of a bar drawn by a kernel nobody watched);
(b) every notebook imports its exercises as `from itlib.exercises import nbNN as ex`, binds no other
    notebook variable to `ex`, and every `ex.NAME` an exercise text or a notebook cell names exists;
(c) nothing in itlib/, notebooks/src/, tests/ or tools/ reads a path outside the repository.

Each check is a function that returns its findings; the `*_catches_*` tests feed it a made-up bad
input, so a check that silently stopped finding anything would fail here.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOURCES = sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py"))

sys.path.insert(0, str(ROOT / "tools"))
from nbbuild import build  # noqa: E402

# ------------------------------------------------------------------ (a) no frozen progress bars

# "0%|", " 42%|" but not "100%|": tqdm's "NN%|" with NN below 100
FROZEN = re.compile(r"(?<![\d.])\d{1,2}%\|")


def frozen_bars(nb: dict) -> list[str]:
    """Outputs of a notebook (as read by json / nbformat) that show a progress bar below 100 %.

    A display's text/plain (a widget's fallback is drawn once, at 0 %) counts as shown; of a stream,
    what a terminal would show: the part of each line after the last carriage return."""
    found = []
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    for i, cell in enumerate(code, 1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text = _join(out.get("text", ""))
                shown = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
            else:
                shown = [_join(v) for k, v in out.get("data", {}).items() if k.startswith("text/")]
            for text in shown:
                m = FROZEN.search(text)
                if m:
                    found.append(f"code cell {i} ({out.get('output_type')}): {text.strip()[:80]!r}")
    return found


def _join(text) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_saved_notebooks_hold_no_frozen_progress_bar(path):
    found = frozen_bars(json.loads(path.read_text(encoding="utf-8")))
    assert not found, (f"{path.name} was saved with progress bars that never finished: {found}. Re-run it "
                       "with `python tools/run_notebooks.py NAME` (headless: summary lines, no widget bars).")


def _nb(*outputs) -> dict:
    return {"cells": [{"cell_type": "code", "source": "fit(...)", "outputs": list(outputs)}]}


def test_frozen_bars_catches_a_widget_fallback_and_a_stalled_stream():
    widget = {"output_type": "display_data", "metadata": {},
              "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "x"},
                       "text/plain": "fit:   0%|          | 0/476 [00:00<?, ?it/s]"}}
    assert len(frozen_bars(_nb(widget))) == 1
    stalled = {"output_type": "stream", "name": "stderr",
               "text": ["word2vec:  0%| | 0/5\r", "word2vec:  40%|#### | 2/5"]}
    assert len(frozen_bars(_nb(stalled))) == 1


def test_frozen_bars_passes_finished_work():
    done = {"output_type": "stream", "name": "stderr",
            "text": "fit:   0%| | 0/5\rfit:  60%|### | 3/5\rfit: 100%|#####| 5/5\n"}
    summary = {"output_type": "stream", "name": "stdout",
               "text": "fit: 150/150 steps in 12.3 s, final loss 0.123\n"}
    table = {"output_type": "execute_result", "execution_count": 1, "metadata": {},
             "data": {"text/plain": "accuracy 100%| share 10.0%"}}
    assert frozen_bars(_nb(done, summary, table)) == []


# ------------------------------------------------------------------ (b) exercises are `ex`

EX_IMPORT = "from itlib.exercises import nb{nn} as ex"


def _code_cells(nb) -> list[str]:
    # an IPython magic or shell line (%, !) is not Python: blank it so that `ast` can parse the rest
    return ["\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in c.source.splitlines())
            for c in nb.cells if c.cell_type == "code"]


def _notebook_bindings(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, how) for every binding of the name `ex` in the notebook's own namespace: module-level
    assignments, loops, with/except targets, imports, definitions, `global ex` in a function, and
    `:=` anywhere but inside a function. Function locals and comprehension variables do not count:
    they leave the notebook's `ex` alone."""
    found = []

    def visit(node, in_function):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if not isinstance(node, ast.Lambda) and node.name == "ex" and not in_function:
                found.append((node.lineno, "def ex"))
            for child in ast.iter_child_nodes(node):
                visit(child, True)
            return
        if isinstance(node, ast.ClassDef) and node.name == "ex" and not in_function:
            found.append((node.lineno, "class ex"))
        if isinstance(node, ast.Global) and "ex" in node.names:
            found.append((node.lineno, "global ex"))
        if (isinstance(node, ast.Name) and node.id == "ex" and isinstance(node.ctx, (ast.Store, ast.Del))
                and not in_function and not _in_comprehension(node, tree)):
            found.append((node.lineno, "ex = ..."))
        if isinstance(node, ast.ExceptHandler) and node.name == "ex" and not in_function:
            found.append((node.lineno, "except ... as ex"))
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not in_function:
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) == "ex":
                    found.append((node.lineno, ast.unparse(node)))
        for child in ast.iter_child_nodes(node):
            visit(child, in_function)

    visit(tree, False)
    return found


def _in_comprehension(name: ast.Name, tree: ast.Module) -> bool:
    comprehensions = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    return any(name is t for node in ast.walk(tree) if isinstance(node, comprehensions)
               for gen in node.generators for t in ast.walk(gen.target))


# `<alias>.q3`: how a notebook or a text names a question; `ex.NAME`: what it asks the learner to use
QUESTION_REF = re.compile(r"\b([A-Za-z_]\w*)\.(q\d+)\b")
EX_REF = re.compile(r"(?<![\w.])ex\.([A-Za-z_]\w*)")


def exercise_alias_problems(nn: str, cells: list[tuple[str, str]]) -> list[str]:
    """What is wrong with how a notebook (number `nn`; cells as (cell_type, source)) uses its
    exercises: the import, another `ex`, a question called through another name."""
    problems, imports = [], []
    for i, (kind, text) in enumerate(cells, 1):
        for m in QUESTION_REF.finditer(text):
            if m.group(1) != "ex":
                problems.append(f"cell {i} names {m.group(0)!r}: exercises are reached as `ex.{m.group(2)}`")
        if kind != "code":
            continue
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines())
        try:
            tree = ast.parse(source)
        except SyntaxError as err:
            problems.append(f"cell {i} does not parse: {err}")
            continue
        for node in ast.walk(tree):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any(m.startswith("itlib.exercises") for m in modules):
                imports.append((i, ast.unparse(node)))
        for line, how in _notebook_bindings(tree):
            if "itlib.exercises" not in how:  # an exercise import is judged below
                problems.append(f"cell {i}, line {line}: `{how}` rebinds `ex`, the notebook's exercises")
    wanted = EX_IMPORT.format(nn=nn)
    if not imports:
        problems.append(f"no exercise import: the notebook should have `{wanted}`")
    for i, stmt in imports:
        if stmt != wanted:
            problems.append(f"cell {i}: `{stmt}` should be `{wanted}`")
    return problems


def exercise_text_problems(module, text: str) -> list[str]:
    """`ex.NAME` in an exercise module's texts (question, hints, solution, messages) that the module
    does not define, and questions named through another alias (`ex01.q2`)."""
    problems = [f"`ex.{name}` is not defined in {module.__name__}"
                for name in sorted(set(EX_REF.findall(text))) if not hasattr(module, name)]
    problems += [f"{m.group(0)!r}: the notebook imports the module as `ex`"
                 for m in QUESTION_REF.finditer(text) if re.fullmatch(r"ex\d+|nb\d+", m.group(1))]
    return problems


def _string_literals(source: str) -> str:
    """Every string in a module (docstrings, prompts, hints, f-string parts): its texts, not its code,
    where `ex` may be an ordinary loop variable."""
    return "\n".join(node.value for node in ast.walk(ast.parse(source))
                     if isinstance(node, ast.Constant) and isinstance(node.value, str))


def _number(path: Path) -> str:
    return path.stem[:2]


@pytest.mark.parametrize("src", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_imports_its_exercises_as_ex_and_nothing_else_is_ex(src):
    nb = build(str(src))
    problems = exercise_alias_problems(_number(src), [(c.cell_type, c.source) for c in nb.cells])
    assert not problems, f"{src.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("src", SOURCES, ids=[p.stem for p in SOURCES])
def test_every_ex_name_in_exercise_texts_and_cells_exists(src):
    nn = _number(src)
    module = importlib.import_module(f"itlib.exercises.nb{nn}")
    texts = _string_literals(Path(module.__file__).read_text(encoding="utf-8"))
    problems = exercise_text_problems(module, texts)
    markdown = "\n".join(c.source for c in build(str(src)).cells if c.cell_type == "markdown")
    problems += [f"markdown: {p}" for p in exercise_text_problems(module, markdown)]
    assert not problems, f"{src.relative_to(ROOT)} / {module.__name__}:\n" + "\n".join(problems)


def test_alias_check_catches_the_old_habits():
    cells = [
        ("markdown", "# Exercises\nCheck with `ex03.q2.check(f1)`."),
        ("code", "from itlib.data import Example\nex = Example('Sort.', '3 1', '1 3')"),
        ("code", "from itlib.exercises import nb03 as ex03\nex03.q1"),
        ("code", "for ex in data[:2]:\n    print(ex)"),
    ]
    problems = exercise_alias_problems("03", cells)
    assert any("'ex03.q2'" in p for p in problems)
    assert any("ex = ..." in p and "cell 2" in p for p in problems)
    assert any("cell 3" in p and "should be" in p for p in problems)
    assert any("cell 4" in p for p in problems)
    missing = exercise_alias_problems("03", [("code", "x = 1")])
    assert missing == [f"no exercise import: the notebook should have `{EX_IMPORT.format(nn='03')}`"]
    wrong_notebook = exercise_alias_problems("04", [("code", "from itlib.exercises import nb03 as ex")])
    assert wrong_notebook == [f"cell 1: `{EX_IMPORT.format(nn='03')}` should be `{EX_IMPORT.format(nn='04')}`"]


def test_alias_check_passes_the_convention():
    cells = [
        ("code", "ids = [render(ex, tok) for ex in train]\ndef show(ex):\n    return ex.input"),
        ("code", "%matplotlib inline\nfrom itlib.exercises import nb05 as ex\nex.q1"),
        ("code", "answer = ...\nex.q1.check(answer)\n# ex.q1.hint()"),
        ("markdown", "Use `ex.H` and check with `ex.q1.check(alpha)`."),
    ]
    assert exercise_alias_problems("05", cells) == []


def test_text_check_catches_a_name_the_module_lacks():
    import types

    module = types.SimpleNamespace(__name__="itlib.exercises.nb99", q1=object(), EXAMPLE=object())
    text = "Render `ex.EXAMPLE`, check with `ex.q1.check(n)`; tags are in `ex.TAG_PREDS`; `ex99.q1.hint()`."
    problems = exercise_text_problems(module, text)
    assert len(problems) == 2
    assert "ex.TAG_PREDS" in problems[0] and "'ex99.q1'" in problems[1]
    assert exercise_text_problems(module, "Render `ex.EXAMPLE`; `x = ex.q1`; `index.q1` stays.") == []


# ------------------------------------------------------------------ (c) the repository is self-contained

SCANNED = ("itlib", "notebooks/src", "tests", "tools")
TEXT_SUFFIXES = {".py", ".md", ".txt", ".json", ".jsonl", ".toml", ".cfg", ".ini", ".yaml", ".yml", ".sh",
                 ".jinja"}
OUTSIDE = [
    (re.compile(r"(?:\.\./)+shared\b|[\"'/\\]shared/"), "the workspace's shared/ folder"),
    (re.compile(r"\.\./\.\./"), "two levels up: outside the repository from any of its folders"),
    (re.compile(r"[\"'](?:(?:/work|/home|/Users|/root|/mnt)(?:/|[\"'])|~/)"),
     "an absolute path on one machine"),
]
# Path(__file__)[.resolve()] followed by .parent.parent... or .parents[N]
CLIMB = re.compile(r"__file__\)?(?:\.resolve\(\))?(?:((?:\.parent)+)\b|\.parents\[(\d+)\])")


def outside_paths(relpath: str, text: str) -> list[str]:
    """Places in a file (at `relpath` inside the repository) that read a path outside the repository."""
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        for pattern, why in OUTSIDE:
            if pattern.search(line):
                found.append(f"{relpath}:{n}: {why}: {line.strip()[:100]}")
        for m in CLIMB.finditer(line):
            up = m.group(1).count(".parent") - 1 if m.group(1) else int(m.group(2))  # index into .parents
            if up >= len(Path(relpath).parts):  # parents[len(parts) - 1] is the repository root
                found.append(f"{relpath}:{n}: climbs above the repository root: {line.strip()[:100]}")
    return found


def _scanned_files():
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts \
                    and path.stat().st_size < 2_000_000:
                yield path


def test_nothing_reads_a_path_outside_the_repository():
    found = [f for p in _scanned_files() for f in
             outside_paths(p.relative_to(ROOT).as_posix(), p.read_text(encoding="utf-8", errors="replace"))]
    assert not found, "the course must run from a fresh clone:\n" + "\n".join(found)


def test_outside_paths_catches_the_usual_escapes():
    # spelled apart, so that this file passes its own scan
    up2, shared, work, home, file = "../" + "../", "sha" + "red", "/wo" + "rk", "~", "__" + "file__"
    bad = "\n".join([
        f'seed_file = Path("{up2}{shared}/data/seed.jsonl")',
        f'SEED = Path({file}).resolve().parents[2] / "{shared}/data/seed.jsonl"',
        f'base = Path("{work}/main/itlib/assets/base")',
        f'cache = Path("{home}/.cache/itlib").expanduser()',
        f"data = Path({file}).parent.parent.parent / 'x.json'",
    ])
    found = outside_paths("tests/test_data.py", bad)
    lines = [int(f.split(":")[1]) for f in found]
    assert sorted(set(lines)) == [1, 2, 3, 4, 5] and lines.count(1) == 2, found  # line 1: both the folder and the climb
    good = [
        "ROOT = Path(__file__).resolve().parents[1]",
        "ASSETS = Path(__file__).parent / 'assets'",
        "from itlib.data import load_seed_tasks  # the seed tasks ship in the package",
        "x = '../itlib/assets'  # one level up from notebooks/: still the repository",
        '{"~": 103, "/": 12}',  # a tokenizer's vocabulary
    ]
    assert [outside_paths("tests/test_data.py", line) for line in good] == [[]] * len(good)
    assert outside_paths("itlib/exercises/nb02.py", f"ROOT = Path({file}).parents[2]") == []
    assert outside_paths("itlib/exercises/nb02.py", f"X = Path({file}).parents[3]")
