import os
import socket

import pytest
import torch

from itlib.progress import HEADLESS_ENV

torch.set_num_threads(2)

# Headless: the notebook kernels nbval starts inherit this environment, so they draw no tqdm widget
# (its saved text form is a bar frozen at "0%|") and print one summary line per training run instead.
# Set ITLIB_HEADLESS=0 to see live bars.
for _key, _value in HEADLESS_ENV.items():
    os.environ.setdefault(_key, _value)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """The course runs offline: any attempt to open a network connection fails the test."""
    def guard(*args, **kwargs):
        raise RuntimeError("network access attempted during a test")

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(socket, "create_connection", guard)


@pytest.fixture(scope="session")
def tokenizer():
    from itlib.pipeline import default_tokenizer

    return default_tokenizer()
