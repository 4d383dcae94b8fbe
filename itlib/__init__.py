"""itlib: a hands-on course on instruction tuning, and the small library behind it.

The pipeline: tasks -> Example -> formats.render = f(X, I) -> train.fit -> evaluate -> save.
"""

__version__ = "0.1.0"

__all__ = ["load_base", "BASE_DIR"]

import os
from pathlib import Path

# OpenMP threads that spin while waiting make training up to ~60x slower when another process shares
# the CPU (a laptop, Binder, a test run); passive waiting costs little when the CPU is free. Takes
# effect when itlib is imported before torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

BASE_DIR = Path(__file__).parent / "assets" / "base"


def load_base(attention: str | None = None, device: str | None = None):
    """The shipped pretrained base model and its tokenizer: `model, tokenizer = itlib.load_base()`.

    `attention="eager"` when attention weights will be read."""
    from itlib.models import load_model

    if not (BASE_DIR / "config.json").exists():
        raise FileNotFoundError(
            f"the shipped base model is missing from {BASE_DIR}; rebuild it with `itlib pretrain --out {BASE_DIR}`"
        )
    return load_model(BASE_DIR, attention=attention, device=device)
