"""Request limits hold before the body is read: declared and streamed sizes, the API key,
per-route limits, short errors that never echo a request, bounded query integers."""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import time

import pytest

pytest.importorskip("fastapi")

CAP = 100_000  # upload cap of these tests; the route limit adds 64 KB of multipart slack
KEY = "s3cret"


def _multipart_head(name: str = "big.jpg", boundary: str = "b0undary") -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


def _drive(app, path: str, headers: dict[str, str], chunks, method: str = "POST"):
    """Call the ASGI app directly, feeding `chunks` one `receive` at a time; returns the
    status, the response body and how many body bytes the app pulled."""
    pulled = 0
    sent: list[dict] = []
    source = iter(chunks)

    async def receive() -> dict:
        nonlocal pulled
        chunk = next(source, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8765),
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, pulled


def _long_upload(chunk_size: int = 64 * 1024, total: int = 4 * 1024 * 1024):
    """A multipart upload far over the cap, one chunk per `receive` (bounded, so a server
    that reads it all still finishes the test)."""
    yield _multipart_head()
    for _ in range(total // chunk_size):
        yield b"\xff" * chunk_size


def test_streamed_upload_is_cut_off_at_the_cap(make_client):
    app = make_client(max_upload_bytes=CAP).app
    headers = {"host": "localhost", "content-type": "multipart/form-data; boundary=b0undary"}
    status, body, pulled = _drive(app, "/api/analyze", headers, _long_upload())
    assert status == 413 and b"limit" in body
    assert pulled <= CAP + 64 * 1024 + 64 * 1024 + 1024  # cap + slack + one chunk


def test_declared_length_over_the_cap_is_refused_unread(make_client):
    app = make_client(max_upload_bytes=CAP).app
    headers = {
        "host": "localhost",
        "content-type": "multipart/form-data; boundary=b0undary",
        "content-length": str(3 * 1024**3),
    }
    status, _, pulled = _drive(app, "/api/analyze", headers, _long_upload())
    assert (status, pulled) == (413, 0)


def test_missing_key_is_refused_before_the_body(make_client):
    app = make_client(api_key=KEY).app
    headers = {"host": "localhost", "content-type": "multipart/form-data; boundary=b0undary"}
    status, _, pulled = _drive(app, "/api/analyze", headers, _long_upload())
    assert (status, pulled) == (401, 0)


def test_chat_body_is_limited_to_4_kb(make_client, astronaut_path):
    client = make_client()
    case_id = client.post(
        "/api/analyze", files={"file": ("a.jpg", astronaut_path.read_bytes())}
    ).json()["case"]["id"]
    headers = {"host": "localhost", "content-type": "application/json"}
    flood = (b'{"question": "' + b"why " * 1024 for _ in range(1000))  # 4 MB, 4 KB a chunk
    status, body, pulled = _drive(client.app, f"/api/cases/{case_id}/chat", headers, flood)
    assert status == 413 and pulled <= 2 * 4100 and len(body) < 200
    big = client.post(f"/api/cases/{case_id}/chat", content=b"x" * 5000, headers=headers)
    assert big.status_code == 413


def _open(host: str, port: int, head: str) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=5)
    sock.sendall(head.encode())
    return sock


def _status(sock: socket.socket) -> int:
    line = sock.recv(4096).split(b"\r\n", 1)[0]
    return int(line.split()[1])


def test_live_server_answers_before_a_huge_body_is_sent(live_server):
    """Over a real socket: a 3 GB Content-Length gets its 413, and a request without the key
    its 401, while not one body byte has been sent."""
    host, port = live_server(api_key=KEY, max_upload_bytes=CAP)
    start = time.monotonic()
    for key, expected in ((f"X-API-Key: {KEY}\r\n", 413), ("", 401)):
        head = (
            f"POST /api/analyze HTTP/1.1\r\nHost: {host}\r\n{key}"
            "Content-Type: multipart/form-data; boundary=b0undary\r\n"
            f"Content-Length: {3 * 1024**3}\r\n\r\n"
        )
        with _open(host, port, head) as sock:
            assert _status(sock) == expected
    assert time.monotonic() - start < 5


def test_live_server_cuts_off_a_slow_chunked_upload(live_server):
    """A chunked body streamed slowly, with no length: the 413 comes once the cap is passed,
    long before the client would have finished."""
    host, port = live_server(max_upload_bytes=CAP)
    head = (
        f"POST /api/analyze HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: multipart/form-data; boundary=b0undary\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    sent, answer = 0, b""
    with _open(host, port, head) as sock:
        for chunk in _long_upload(16 * 1024):
            if sent > 4 * 1024 * 1024:
                break
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
            time.sleep(0.01)
            if select.select([sock], [], [], 0)[0]:
                answer = sock.recv(4096)
                break
    assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
    assert sent < 2 * 1024 * 1024


def test_validation_errors_do_not_echo_the_request(client, astronaut_path):
    case_id = client.post(
        "/api/analyze", files={"file": ("a.jpg", astronaut_path.read_bytes())}
    ).json()["case"]["id"]
    secret = "SECRET-" + "y" * 3000
    response = client.post(f"/api/cases/{case_id}/chat", json={"question": secret})
    assert response.status_code == 422
    assert "SECRET" not in response.text and len(response.text) < 500
    assert response.json()["detail"][0]["loc"] == ["body", "question"]
    response = client.post(f"/api/cases/{case_id}/chat", json=["SECRET"])
    assert response.status_code == 422 and "SECRET" not in response.text


def test_empty_filename_gets_a_short_error(client):
    payload = b"SECRET" + b"z" * 500_000
    body = _multipart_head(name="") + payload + b"\r\n--b0undary--\r\n"
    content_type = {"content-type": "multipart/form-data; boundary=b0undary"}
    response = client.post("/api/analyze", content=body, headers=content_type)
    assert response.status_code == 422 and len(response.content) < 200
    assert "filename" in response.json()["detail"]
    for files in ({"file": ("", payload)}, {"other": ("a.jpg", payload)}):
        response = client.post("/api/analyze", files=files)
        assert response.status_code == 422 and len(response.content) < 200
    response = client.post("/api/analyze", data={"file": "SECRET" * 1000})
    assert response.status_code == 422 and len(response.content) < 200


@pytest.mark.parametrize(
    "query",
    [
        "offset=9223372036854775808",
        "offset=9223372036854775807",
        "offset=-1",
        "limit=9223372036854775808",
        "limit=0",
    ],
)
def test_out_of_range_query_integers_are_422(client, query):
    response = client.get(f"/api/cases?{query}")
    assert response.status_code == 422 and "input" not in response.json()["detail"][0]


def test_large_offset_in_range_lists_nothing(client):
    assert client.get("/api/cases?offset=1000000000").json()["cases"] == []
