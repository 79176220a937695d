"""The safe default without a key: Host allowlist (DNS rebinding), Origin check on writes,
no CORS unless configured; and the signed report link the web UI uses when a key is set."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from opendfa.serve.guard import host_allowed, origin_allowed, sign_link

KEY = "s3cret"
SCRIPT = Path(__file__).resolve().parents[2] / "src" / "opendfa" / "serve" / "static" / "app.js"


def _case(client, path, **kw) -> str:
    response = client.post("/api/analyze", files={"file": ("a.jpg", path.read_bytes())}, **kw)
    assert response.status_code == 201, response.text
    return response.json()["case"]["id"]


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8765", "127.0.0.1:8765", "[::1]:8765", "LOCALHOST"]
)
def test_loopback_hosts_are_served(client, host):
    assert client.get("/api/health", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example.com", "evil.example.com:8765", "127.0.0.1.evil.example", "", "[::1"]
)
def test_other_hosts_are_refused_without_a_key(client, astronaut_path, host):
    """DNS rebinding: a page on evil.example.com resolving to 127.0.0.1 sends that Host."""
    headers = {"Host": host}
    assert client.get("/api/cases", headers=headers).status_code == 400
    assert client.get("/", headers=headers).status_code == 400
    files = {"file": ("a.jpg", astronaut_path.read_bytes())}
    assert client.post("/api/analyze", files=files, headers=headers).status_code == 400


def test_allowed_hosts_are_configurable(make_client):
    client = make_client(allowed_hosts=("dfa.example.org",))
    assert client.get("/api/cases", headers={"Host": "dfa.example.org"}).status_code == 200
    assert client.get("/api/cases", headers={"Host": "localhost"}).status_code == 400
    assert make_client(allowed_hosts=("*",)).get("/api/cases", headers={"Host": "x"}).is_success
    keyed = make_client(api_key=KEY)  # a key protects every host unless hosts are configured
    assert keyed.get("/api/cases", headers={"Host": "x", "X-API-Key": KEY}).status_code == 200


def test_cross_origin_writes_are_refused(client, astronaut_path):
    evil = {"Origin": "http://evil.example.com"}
    files = {"file": ("a.jpg", astronaut_path.read_bytes())}
    assert client.post("/api/analyze", files=files, headers=evil).status_code == 403
    assert client.post("/api/analyze", files=files, headers={"Origin": "null"}).status_code == 403
    assert client.get("/api/cases").json()["total"] == 0
    case_id = _case(client, astronaut_path, headers={"Origin": "http://localhost"})
    chat = client.post(f"/api/cases/{case_id}/chat", json={"question": "why"}, headers=evil)
    assert chat.status_code == 403
    assert client.delete(f"/api/cases/{case_id}", headers=evil).status_code == 403
    assert client.delete(f"/api/cases/{case_id}").status_code == 204  # no Origin: curl, scripts


def test_cors_is_off_unless_configured(make_client, astronaut_path):
    origin = "https://ui.example.org"
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    plain = make_client()
    assert (
        "access-control-allow-origin"
        not in plain.get("/api/cases", headers={"Origin": origin}).headers
    )
    assert (
        "access-control-allow-origin"
        not in plain.options("/api/analyze", headers=preflight).headers
    )
    cors = make_client(cors_origins=(origin,))
    answer = cors.options("/api/analyze", headers=preflight)
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == origin
    assert _case(cors, astronaut_path, headers={"Origin": origin})


def test_guard_helpers():
    assert host_allowed("localhost:1", ("localhost",)) and not host_allowed("", ("localhost",))
    assert host_allowed("[::1]", ("::1",)) and not host_allowed("::1:80:9", ("::1",))
    assert origin_allowed("http://localhost:8765", "localhost:8765", ())
    assert not origin_allowed("http://localhost:8766", "localhost:8765", ())
    assert not origin_allowed("file://", "", ())


def test_full_report_link_works_with_a_key(make_client, astronaut_path):
    client = make_client(api_key=KEY)
    auth = {"X-API-Key": KEY}
    case_id = _case(client, astronaut_path, headers=auth)
    assert client.get(f"/api/cases/{case_id}/report.html").status_code == 401
    assert client.get(f"/api/cases/{case_id}/report-link").status_code == 401
    url = client.get(f"/api/cases/{case_id}/report-link", headers=auth).json()["url"]
    page = client.get(url)  # what a browser sends for a plain link: no key header
    assert page.status_code == 200 and "<html" in page.text.lower()
    other = _case(client, astronaut_path, headers=auth)
    assert client.get(url.replace(case_id, other)).status_code == 401
    assert client.get(url[:-4] + "0000").status_code == 401
    expired = f"/api/cases/{case_id}/report.html?{sign_link(KEY, case_id, now=1_000_000)}"
    assert client.get(expired).status_code == 401
    assert client.get(f"/api/cases/{case_id}?" + url.split("?")[1]).status_code == 401


def test_web_ui_opens_the_report_through_a_signed_link():
    script = SCRIPT.read_text(encoding="utf-8")
    assert "report-link" in script
    assert not re.search(r'htmlreport"\)\.href = `/api/cases/\$\{id\}/report\.html`', script)


def test_serve_options_choose_hosts_and_origins(monkeypatch):
    from opendfa.serve.cli import _allowed_hosts, _listed

    monkeypatch.delenv("OPENDFA_ALLOWED_HOSTS", raising=False)
    args = argparse.Namespace(allow_host=None, host="127.0.0.1")
    assert _allowed_hosts(args, None) is None  # the server's default: loopback names
    args.host = "192.168.1.5"
    assert _allowed_hosts(args, None) == ("localhost", "127.0.0.1", "::1", "192.168.1.5")
    assert _allowed_hosts(args, KEY) is None
    monkeypatch.setenv("OPENDFA_ALLOWED_HOSTS", "a.example, b.example")
    assert _allowed_hosts(args, KEY) == ("a.example", "b.example")
    args.allow_host = ["c.example"]
    assert _allowed_hosts(args, None) == ("c.example",)
    monkeypatch.setenv("OPENDFA_CORS_ORIGINS", "https://ui.example")
    assert _listed(None, "OPENDFA_CORS_ORIGINS") == ("https://ui.example",)
