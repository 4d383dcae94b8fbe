"""Build a notebook from a plain-text source: cells separated by lines '# %% [markdown]' or '# %%'.

    python tools/nbbuild.py notebooks/src/00_overview.py notebooks/00_overview.ipynb

The .py source is the one to edit; the .ipynb is then executed and committed with its outputs
(`python tools/run_notebooks.py`)."""

import sys

import nbformat


def build(src: str) -> nbformat.NotebookNode:
    cells, kind, lines = [], None, []

    def flush():
        text = "\n".join(lines).strip("\n")
        if kind == "markdown":
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in text.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(text))
        elif kind == "code" and text.strip():
            cells.append(nbformat.v4.new_code_cell(text))

    for line in open(src, encoding="utf-8").read().splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    return nb


if __name__ == "__main__":
    nbformat.write(build(sys.argv[1]), sys.argv[2])
