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
def analyzer(tiny_model, face_detector) -> Analyzer:
    return Analyzer(tiny_model, face_detector=face_detector, max_pixels=4_000_000)


@pytest.fixture(scope="session")
def dfagpt_chat(tiny_dfagpt_dir):
    """The `dfa-gpt` chat backend on the tiny model, loaded once and shared, as a server does."""
    from opendfa.serve.chat import ChatEngine

    return ChatEngine.create("dfa-gpt", model_dir=tiny_dfagpt_dir, max_new_tokens=12)


@pytest.fixture
def make_client(analyzer, tmp_path) -> Callable[..., TestClient]:
    """`make_client(chat=None, **ServerConfig fields)`: a client on a fresh store, as Host
    localhost (`chat`: a prebuilt `ChatEngine` to share, e.g. a tiny DFA-GPT)."""
    count = iter(range(1000))

    def make(chat=None, **config) -> TestClient:
        folder = tmp_path / f"store{next(count)}"
        settings = ServerConfig(data_dir=folder, **config)
        app = create_app(settings, analyzer=analyzer, store=CaseStore(folder), chat=chat)
        return TestClient(app, base_url="http://localhost")

    return make


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


@pytest.fixture
def live_server(analyzer, tmp_path) -> Iterator[Callable[..., tuple[str, int]]]:
    """`live_server(chat=None, **ServerConfig fields)` runs uvicorn on a free loopback port in
    a thread and returns (host, port); every server started is stopped at the end of the test.
    `live_server.apps` lists the applications started, in order."""
    import uvicorn

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(chat=None, **config) -> tuple[str, int]:
        folder = tmp_path / f"live{len(servers)}"
        settings = ServerConfig(data_dir=folder, **config)
        app = create_app(settings, analyzer=analyzer, store=CaseStore(folder), chat=chat)
        start.apps.append(app)
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

    start.apps = []
    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)
