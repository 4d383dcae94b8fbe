"""Files and folders the user keeps: written atomically, never silently replaced, never deleted
unless itlib wrote them.

- `write_atomically(path, text)`: temporary file in the same folder, fsync, rename, fsync the folder.
- `strict_json(obj)`: JSON text that every JSON reader accepts (NaN / inf refused, not written).
- `prepare_output(folder, overwrite)`: before any work, check that an output folder can be made:
  a new or empty folder is fine; a non-empty one only with `overwrite`, and only if itlib wrote it
  (`is_itlib_output`); the current folder and its parents are never an output folder.
- `replace_folder(new, folder)`: swap a finished temporary folder into place under a backup name
  unique to this call, so no folder of the user's with a fixed name (".X.old") is ever touched.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

MANIFEST = "itlib-output.json"  # written into every model folder itlib saves: what it is and which files it wrote
CHECKPOINTS = "checkpoints"  # where `itlib train` keeps its checkpoints inside --out while it trains
# What `save_pretrained` writes for the course's models; a folder saved before the manifest existed
# counts as itlib's own when it holds metrics.json and nothing outside this list.
HF_FILES = {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "chat_template.jinja", "metrics.json", MANIFEST, CHECKPOINTS}


def strict_json(obj, **kwargs) -> str:
    """`json.dumps` that refuses NaN and infinities (Python would write `NaN`, which is not JSON)."""
    try:
        return json.dumps(obj, allow_nan=False, **kwargs)
    except ValueError:
        bad = [k for k, v in (obj.items() if isinstance(obj, dict) else []) if isinstance(v, float) and not math.isfinite(v)]
        raise ValueError(f"refusing to write non-finite numbers as JSON (fields: {', '.join(bad) or 'nested'})") from None


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: str | Path, data: str | bytes, overwrite: bool = True) -> Path:
    """Write `data` (text as UTF-8, or bytes) to `path` so that a crash leaves the old file or the new
    one, never half of it: a temporary file next to it, flushed to disk, then renamed over `path`.
    With `overwrite=False` an existing file is refused (FileExistsError) instead."""
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private (0600); a file the user keeps is normally readable
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def write_manifest(folder: Path, state: str, **info) -> None:
    """Mark `folder` as itlib's: what state it is in ("training", "complete") and the files it holds."""
    files = sorted(p.name for p in folder.iterdir() if p.name != MANIFEST)
    write_atomically(folder / MANIFEST, strict_json({"written_by": "itlib", "state": state, "files": files, **info},
                                                    indent=2))


def is_itlib_output(folder: str | Path) -> bool:
    """True when `folder` holds only what itlib wrote: its manifest and the files the manifest lists
    (plus a checkpoints folder), or, for folders saved before manifests, metrics.json and standard
    model files only."""
    folder = Path(folder)
    names = {p.name for p in folder.iterdir()}
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        allowed = set(manifest["files"]) | {MANIFEST, CHECKPOINTS}
        return manifest.get("written_by") == "itlib" and names <= allowed
    except (OSError, ValueError, KeyError, TypeError):
        return "metrics.json" in names and names <= HF_FILES


def _describe(folder: Path, limit: int = 4) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def prepare_output(folder: str | Path, overwrite: bool = False, resume: bool = False) -> Path:
    """Check, before any training, that `folder` can be written; create it. Raises FileExistsError
    (a folder with content that may not be replaced), PermissionError / OSError (cannot be written)
    or ValueError (the current folder or one of its parents)."""
    folder = Path(folder)
    here = Path.cwd().resolve()
    if folder.resolve() == here or folder.resolve() in here.parents:
        raise ValueError(f"--out {folder} is the current folder or one of its parents; name a new folder for the "
                         "model, e.g. --out runs/my-model")
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} exists and is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        own = is_itlib_output(folder)
        if not own:
            raise FileExistsError(
                f"{folder} is not empty and was not written by itlib (it holds {_describe(folder)}); itlib never "
                "replaces a folder it did not write, even with --overwrite: choose another --out")
        if not (overwrite or resume):
            raise FileExistsError(f"{folder} already holds an itlib model; pass --overwrite to replace it"
                                  + (" or --resume to continue its training" if (folder / CHECKPOINTS).is_dir() else ""))
    folder.mkdir(parents=True, exist_ok=True)
    for where in (folder, folder.parent):  # the checkpoints go inside, the final rename needs the parent
        os.rmdir(tempfile.mkdtemp(prefix=".itlib-write-check-", dir=where))  # fails now, not after training
    return folder


def replace_folder(new: Path, folder: Path) -> Path:
    """Put the finished folder `new` at `folder`. An existing `folder` (already checked to be
    replaceable) is first renamed to a backup name unique to this call, then removed."""
    backup = None
    if folder.exists():
        backup = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
        os.replace(folder, backup)  # onto the empty folder mkdtemp reserved: atomic on POSIX
    try:
        os.replace(new, folder)
    except BaseException:
        if backup is not None:
            os.replace(backup, folder)
        raise
    _fsync_folder(folder.parent)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
    return folder
