import socket

import pytest
import torch

torch.set_num_threads(2)


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
