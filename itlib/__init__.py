"""itlib: a hands-on course on instruction tuning, and the small library behind it.

The pipeline: tasks -> Example -> formats.render = f(X, I) -> train.fit -> evaluate -> save.
"""

__version__ = "0.1.0"

__all__ = ["load_base", "BASE_DIR"]

from pathlib import Path

# OpenMP's wait policy is left at its default (threads spin briefly, then sleep). PASSIVE (sleep at
# once) made training ~1.7x slower on a free 2-core CPU (171 steps: 15.1 s vs 8.5 s); it only pays
# when several torch processes share the cores: then set OMP_WAIT_POLICY=PASSIVE before starting Python.

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
