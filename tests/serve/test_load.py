"""Responsiveness under load: the decode budget refuses huge canvases from their header, the
bounded queue answers 503 + Retry-After, renders are pooled and cached, health and listing
stay fast while analyses queue, and concurrent chats on one case keep their order."""

from __future__ import annotations

import json
import statistics
import struct
import threading
import time
import urllib.error
import urllib.request
import zlib

import cv2
import pytest

pytest.importorskip("fastapi")

import opendfa.serve.jobs as jobs


def _bilevel_png(width: int, height: int) -> bytes:
    """A 1-bit PNG of one colour: a few KB that declare width x height pixels."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(tag + data))
        return struct.pack(">I", len(data)) + tag + data + crc

    rows = (b"\x00" + bytes((width + 7) // 8)) * height
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _upload(client, data: bytes, name: str = "a.jpg", **kw):
    return client.post("/api/analyze", files={"file": (name, data)}, **kw)


def _never(*args, **kwargs):
    raise AssertionError("decoded although over the decode budget")


def test_huge_bilevel_canvas_is_refused_before_decoding(client, analyzer, monkeypatch):
    png = _bilevel_png(7000, 7000)  # 49 MP, under the global 50 MP cap
    assert len(png) < 10_000
    monkeypatch.setattr(analyzer, "analyze_image", _never)
    start = time.perf_counter()
    response = _upload(client, png, "canvas.png")
    assert time.perf_counter() - start < 1.0
    assert response.status_code == 413 and "decode budget" in response.json()["detail"]


def test_decode_budget_is_configurable_and_covers_videos(make_client, astronaut_path, tmp_path):
    small = make_client(decode_budget=500_000)  # astronaut: 512 x 512 x 3 = 786,432
    assert _upload(small, astronaut_path.read_bytes()).status_code == 413
    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (512, 512))
    frame = cv2.imread(str(astronaut_path))
    for _ in range(3):
        writer.write(frame)
    writer.release()
    assert _upload(small, clip.read_bytes(), "clip.mp4").status_code == 413
    assert _upload(make_client(), astronaut_path.read_bytes()).status_code == 201


class _Gate:
    """Stands in for `analyze_image`: blocks until opened, so jobs pile up on demand."""

    def __init__(self, real) -> None:
        self.real, self.opened, self.entered = real, threading.Event(), threading.Event()

    def __call__(self, data, **kwargs):
        self.entered.set()
        self.opened.wait(20)
        return self.real(data, **kwargs)


def _post_upload(base: str, data: bytes, results: list, name: str = "a.jpg") -> None:
    boundary = "b0undary"
    body = (
        (
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="{name}"\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(base + "/api/analyze", data=body, method="POST")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            results.append((response.status, dict(response.headers)))
    except urllib.error.HTTPError as err:
        results.append((err.code, dict(err.headers)))


def _timed_get(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        response.read()
    return time.perf_counter() - start


def test_full_queue_answers_503_and_health_stays_fast(
    live_server, analyzer, astronaut_path, monkeypatch
):
    """45 uploads at once (more than the 40 threads Starlette lends synchronous routes):
    the queue admits 4, the rest get 503 + Retry-After at once, and health and listing
    answer quickly while the admitted ones wait."""
    gate = _Gate(analyzer.analyze_image)
    monkeypatch.setattr(analyzer, "analyze_image", gate)
    host, port = live_server(queue_size=4)
    base = f"http://{host}:{port}"
    photo, results = astronaut_path.read_bytes(), []
    threads = [
        threading.Thread(target=_post_upload, args=(base, photo, results)) for _ in range(45)
    ]
    for thread in threads:
        thread.start()
    assert gate.entered.wait(20)
    deadline = time.monotonic() + 20
    while len(results) < 41 and time.monotonic() < deadline:
        time.sleep(0.05)
    probes = [_timed_get(f"{base}/api/health") for _ in range(10)]
    probes += [_timed_get(f"{base}/api/cases") for _ in range(10)]
    health = json.loads(urllib.request.urlopen(f"{base}/api/health", timeout=5).read())
    gate.opened.set()
    for thread in threads:
        thread.join(60)
    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 4 and statuses.count(503) == 41, statuses
    assert all(int(headers["retry-after"]) >= 1 for status, headers in results if status == 503)
    assert health["queue"] == {"pending": 4, "capacity": 4}
    assert max(probes) < 1.0 and statistics.quantiles(probes, n=20)[-1] < 0.2, probes


def test_views_render_once_in_the_pool_and_are_cached(
    make_client, analyzer, astronaut_path, monkeypatch
):
    client = make_client(queue_size=1)
    case_id = _upload(client, astronaut_path.read_bytes()).json()["case"]["id"]
    calls = []
    real = jobs.preview_views
    monkeypatch.setattr(jobs, "preview_views", lambda report: calls.append(1) or real(report))
    first = client.get(f"/api/cases/{case_id}/overlay.png")
    again = [client.get(f"/api/cases/{case_id}/overlay.png") for _ in range(5)]
    assert first.status_code == 200 and all(r.content == first.content for r in again)
    assert len(calls) == 1
    pool = client.app.state.services.pool
    pool._pending = pool.capacity  # as if an analysis filled the queue
    try:
        assert client.get(f"/api/cases/{case_id}/overlay.png").status_code == 200  # cached
        busy = client.get(f"/api/cases/{case_id}/mask.png")
        assert busy.status_code == 503 and busy.headers["retry-after"]
    finally:
        pool._pending = 0
    assert client.delete(f"/api/cases/{case_id}").status_code == 204
    assert client.get(f"/api/cases/{case_id}/overlay.png").status_code == 404


def test_concurrent_chats_on_one_case_are_stored_in_order(live_server, astronaut_path):
    host, port = live_server()
    base = f"http://{host}:{port}"
    results: list = []
    _post_upload(base, astronaut_path.read_bytes(), results)
    case_id = json.loads(urllib.request.urlopen(f"{base}/api/cases", timeout=5).read())["cases"][0][
        "id"
    ]
    questions = [f"why? ({k})" if k % 2 else f"how sure are you? ({k})" for k in range(24)]
    answers: dict[str, str] = {}

    def ask(question: str) -> None:
        request = urllib.request.Request(
            f"{base}/api/cases/{case_id}/chat",
            data=json.dumps({"question": question}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answers[question] = json.loads(response.read())["answer"]

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    turns = json.loads(
        urllib.request.urlopen(f"{base}/api/cases/{case_id}/chat", timeout=5).read()
    )["turns"]
    assert len(turns) == 48 and [t["seq"] for t in turns] == list(range(48))
    assert [t["role"] for t in turns] == ["user", "assistant"] * 24
    for asked, answered in zip(turns[::2], turns[1::2], strict=True):
        assert answers[asked["text"]] == answered["text"]
    assert {t["text"] for t in turns[::2]} == set(questions)
