"""Build every notebook from notebooks/src/*.py, execute it top to bottom in a fresh kernel, save it
with its outputs, and record wall time and peak memory (kernel process) to benchmarks/notebooks.json.

    python tools/run_notebooks.py [NAME ...]                  # maintainers: rebuild + re-execute + save
    python tools/run_notebooks.py --html DIR --no-save        # anyone: run the whole course headlessly and
                                                              # write an HTML copy of each executed notebook
    python tools/run_notebooks.py 03 --no-save --out DIR      # write the executed .ipynb to DIR instead

Kernels run headless (`itlib.progress.HEADLESS_ENV`): no tqdm widget, whose saved text form would stay
frozen at "0%|"; each training loop prints one summary line (steps, seconds, final loss) instead.
"""

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).parent))
from nbbuild import build

from itlib.files import write_atomically
from itlib.progress import headless_env  # light: imports no torch

ROOT = Path(__file__).resolve().parents[1]


def peak_rss(pid_getter, stop, out):
    peak = 0
    while not stop.is_set():
        pid = pid_getter()
        if pid:
            try:
                proc = psutil.Process(pid)
                rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
                peak = max(peak, rss)
            except psutil.Error:
                pass
        time.sleep(0.1)
    out.append(peak)


MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"  # a configuration the packaged MathJax 2 ships


def offline_mathjax(html_dir: Path) -> str:
    """Copy MathJax 2 from the installed `jupyter-server-mathjax` package into `html_dir/mathjax` (once)
    and return the pages' relative URL for it, so formulas render with no network."""
    import shutil

    import jupyter_server_mathjax

    target = html_dir / "mathjax"
    if not (target / "MathJax.js").exists():
        shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", target, dirs_exist_ok=True)
    return f"mathjax/MathJax.js?config={MATHJAX_CONFIG}"


def write_html(nb, path: Path) -> None:
    """The executed notebook as one HTML page that needs no network: pictures inline, MathJax from a
    local copy beside it, no script from a CDN (template tools/html_templates/offline). Written atomically."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(ROOT / "tools" / "html_templates")],
                            mathjax_url=offline_mathjax(path.parent))
    body, _ = exporter.from_notebook_node(nb)
    write_atomically(path, body)


def source_hash(src: Path) -> str:
    """The first 16 hex digits of the notebook source's SHA-256: which version a measurement is of."""
    import hashlib

    return hashlib.sha256(src.read_bytes()).hexdigest()[:16]


def run(src: Path, save: bool = True, html_dir: Path | None = None, out_dir: Path | None = None) -> dict:
    nb = build(str(src))
    target = ROOT / "notebooks" / (src.stem + ".ipynb")
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(target.parent)}})
    stop, peaks = threading.Event(), []

    def pid():
        km = client.km
        return getattr(getattr(km, "provisioner", None), "pid", None) if km else None

    watcher = threading.Thread(target=peak_rss, args=(pid, stop, peaks))
    t0 = time.perf_counter()
    watcher.start()
    try:
        client.execute(env=headless_env())  # the kernel's whole environment: this one + headless switches
    finally:
        stop.set()
        watcher.join()
    seconds = time.perf_counter() - t0
    nb.metadata.pop("widgets", None)
    if save:
        nbformat.write(nb, target)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_dir / target.name)
    if html_dir is not None:
        write_html(nb, html_dir / (src.stem + ".html"))
    return {"notebook": target.name, "seconds": round(seconds, 1), "peak_mb": round(peaks[0] / 2**20),
            "source_sha256": source_hash(src)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="notebook numbers or names (default: all)")
    ap.add_argument("--html", type=Path, help="also write an HTML copy of each executed notebook to this folder")
    ap.add_argument("--out", type=Path, help="also write each executed notebook (.ipynb) to this folder")
    ap.add_argument("--no-save", action="store_true",
                    help="leave notebooks/*.ipynb and benchmarks/notebooks.json untouched")
    args = ap.parse_args()
    sources = sorted((ROOT / "notebooks" / "src").glob("*.py"))
    if args.names:
        sources = [s for s in sources if any(n in s.stem for n in args.names)]
    results_file = ROOT / "benchmarks" / "notebooks.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for src in sources:
        r = run(src, save=not args.no_save, html_dir=args.html, out_dir=args.out)
        results[r["notebook"]] = r
        print(r, flush=True)
    if not args.no_save:
        write_atomically(results_file, json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    if args.html:
        print(f"HTML copies in {args.html}/")
