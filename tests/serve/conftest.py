"""Shared server fixtures: one small random-weight analyzer, test clients and live servers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from opendfa.evidence.pipeline import Analyzer
from opendfa.serve.app import ServerConfig, create_app
from opendfa.store import CaseStore


@pytest.fixture(scope="session")
def analyzer(tiny_model, detector) -> Analyzer:
    return Analyzer(tiny_model, face_detector=detector, max_pixels=4_000_000)


@pytest.fixture
def make_client(analyzer, tmp_path) -> Callable[..., TestClient]:
    """`make_client(**ServerConfig fields)`: a client on a fresh store, as Host localhost."""
    count = iter(range(1000))

    def make(**config) -> TestClient:
        folder = tmp_path / f"store{next(count)}"
        app = create_app(
            ServerConfig(data_dir=folder, **config), analyzer=analyzer, store=CaseStore(folder)
        )
        return TestClient(app, base_url="http://localhost")

    return make


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


@pytest.fixture
def live_server(analyzer, tmp_path) -> Iterator[Callable[..., tuple[str, int]]]:
    """`live_server(**ServerConfig fields)` runs uvicorn on a free loopback port in a thread
    and returns (host, port); every server started is stopped at the end of the test."""
    import uvicorn

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**config) -> tuple[str, int]:
        folder = tmp_path / f"live{len(servers)}"
        app = create_app(
            ServerConfig(data_dir=folder, **config), analyzer=analyzer, store=CaseStore(folder)
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        return "127.0.0.1", port

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)
