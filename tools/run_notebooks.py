"""Build every notebook from notebooks/src/*.py, execute it top to bottom in a fresh kernel, save it
with its outputs, and record wall time and peak memory (kernel process) to benchmarks/notebooks.json.

    python tools/run_notebooks.py [NAME ...]
"""

import json
import os
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).parent))
from nbbuild import build  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # the kernels inherit it: see itlib/__init__.py


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


def run(src: Path) -> dict:
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
        client.execute()
    finally:
        stop.set()
        watcher.join()
    seconds = time.perf_counter() - t0
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, target)
    return {"notebook": target.name, "seconds": round(seconds, 1), "peak_mb": round(peaks[0] / 2**20)}


if __name__ == "__main__":
    names = sys.argv[1:]
    sources = sorted((ROOT / "notebooks" / "src").glob("*.py"))
    if names:
        sources = [s for s in sources if any(n in s.stem for n in names)]
    results_file = ROOT / "benchmarks" / "notebooks.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for src in sources:
        r = run(src)
        results[r["notebook"]] = r
        print(r, flush=True)
    results_file.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
