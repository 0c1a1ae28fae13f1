"""Shared pytest fixtures for the Python tests.

`fake_model` is a factory fixture: call it with a script dict to get a running
`fake_model.FakeServer` (attributes `url`, `openai_url`, `log_path`; methods `requests()`,
`model_requests()`, `stop()`); every server it started is stopped at teardown::

    def test_something(fake_model):
        server = fake_model({"steps": [{"content": [{"type": "text", "text": "hi"}]}]})
        ...  # point the client at server.url
        assert len(server.model_requests()) == 1
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_model import FakeServer, start_fake_model  # noqa: E402


@pytest.fixture
def fake_model(tmp_path: Path) -> Iterator[Callable[..., FakeServer]]:
    servers: list[FakeServer] = []

    def start(script: dict[str, Any], **kwargs: Any) -> FakeServer:
        kwargs.setdefault("workdir", tmp_path / f"fake-model-{len(servers)}")
        server = start_fake_model(script, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
