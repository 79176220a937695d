"""Shared fixtures: real face photos and one face detector for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "src" / "opendfa" / "assets" / "samples"
TEST_PHOTOS = ROOT / ".cache" / "test-photos"


@pytest.fixture(scope="session")
def astronaut_path() -> Path:
    return SAMPLES / "astronaut.jpg"


@pytest.fixture(scope="session")
def hopper_path() -> Path:
    return SAMPLES / "grace_hopper.jpg"


@pytest.fixture(scope="session")
def astronaut_rgb(astronaut_path: Path) -> np.ndarray:
    from opendfa.media import load_image

    return load_image(astronaut_path).rgb


@pytest.fixture(scope="session")
def detector():
    from opendfa.faces import FaceDetector

    with FaceDetector() as shared:
        yield shared


@pytest.fixture(scope="session")
def astronaut_face(detector, astronaut_rgb):
    faces = detector.detect(astronaut_rgb)
    assert len(faces) == 1
    return faces[0]


@pytest.fixture(scope="session")
def group_photos() -> dict[str, Path]:
    """Multi-face photos from the npm package @vladmandic/face-api (scripts/fetch_test_photos.sh).

    Skipped when they could not be fetched, except in CI where their absence is a failure.
    """
    photos = {p.name: p for p in sorted(TEST_PHOTOS.glob("sample*.jpg"))}
    if len(photos) < 6:
        if os.environ.get("CI"):
            pytest.fail("group photos missing: run scripts/fetch_test_photos.sh")
        pytest.skip("group photos not fetched (scripts/fetch_test_photos.sh)")
    return photos


class FakeLLM:
    """A local OpenAI-compatible `/chat/completions` on loopback: replies from a queue of
    (status, text) and records each request (path, Authorization header, JSON body)."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.replies: list[tuple[int, str]] = []
        self.requests: list[dict] = []
        llm = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                llm.requests.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                status, text = llm.replies.pop(0) if llm.replies else (200, "ok")
                message = {"role": "assistant", "content": text}
                body = json.dumps(
                    {
                        "choices": [{"message": message}],
                        "usage": {"prompt_tokens": 7, "completion_tokens": 3},
                    }
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def llm():
    server = FakeLLM()
    yield server
    server.server.shutdown()
