"""The REST API end to end with a small random-weight detector: uploads, views, chat, cases,
limits, auth, and fuzzed uploads that must never produce a 5xx."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from opendfa.evidence.report import validate_report
from opendfa.serve.app import ServerConfig, create_app
from opendfa.store import CaseStore


def _client(analyzer, tmp_path, **config) -> TestClient:
    settings_ = ServerConfig(data_dir=tmp_path, **config)
    app = create_app(settings_, analyzer=analyzer, store=CaseStore(tmp_path))
    return TestClient(app, base_url="http://localhost")


def _upload(client, path=None, data=None, name="photo.jpg", **kw):
    content = data if data is not None else path.read_bytes()
    return client.post("/api/analyze", files={"file": (name, content)}, **kw)


def test_upload_views_chat_and_delete(client, astronaut_path):
    response = _upload(client, astronaut_path, name="astronaut.jpg")
    assert response.status_code == 201
    body = response.json()
    validate_report(body["report"])
    case_id = body["case"]["id"]
    assert body["case"]["input_name"] == "astronaut.jpg" and len(body["report"]["faces"]) == 1
    assert client.get("/api/cases").json()["cases"][0]["id"] == case_id
    for view in ("image", "overlay", "mask"):
        png = client.get(f"/api/cases/{case_id}/{view}.png")
        assert png.headers["content-type"] == "image/png"
        picture = cv2.imdecode(np.frombuffer(png.content, np.uint8), cv2.IMREAD_UNCHANGED)
        assert picture.shape[:2] == (512, 512)
    assert "<html" in client.get(f"/api/cases/{case_id}/report.html").text.lower()
    reply = client.post(f"/api/cases/{case_id}/chat", json={"question": "how sure are you?"})
    assert reply.status_code == 200 and "threshold" in reply.json()["answer"]
    reply = client.post(f"/api/cases/{case_id}/chat", json={"question": "show me the mask"})
    assert reply.json()["attachments"] == ["mask"]
    turns = client.get(f"/api/cases/{case_id}/chat").json()["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant"] * 2
    assert client.delete(f"/api/cases/{case_id}").status_code == 204
    assert client.get(f"/api/cases/{case_id}").status_code == 404
    assert client.delete(f"/api/cases/{case_id}").status_code == 404


def test_video_upload_has_a_timeline(client, astronaut_rgb, tmp_path):
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (512, 512))
    for _ in range(10):
        writer.write(cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    body = _upload(client, path, name="clip.mp4").json()
    assert body["report"]["input"]["kind"] == "video" and len(body["report"]["timeline"]) >= 5


@pytest.mark.parametrize(
    ("data", "name", "status", "words"),
    [
        (b"", "empty.jpg", 400, "empty"),
        (b"just some text, not an image", "notes.jpg", 422, ""),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "cut.png", 422, ""),
        (b"\x00\x00\x00\x18ftypmp42" + bytes(300), "broken.mp4", 422, ""),
    ],
)
def test_bad_uploads_get_clear_4xx(client, data, name, status, words):
    response = _upload(client, data=data, name=name)
    assert response.status_code == status and words in response.json()["detail"]


def test_size_and_pixel_limits(analyzer, tmp_path, astronaut_path):
    small = _client(analyzer, tmp_path, max_upload_bytes=10_000)
    response = _upload(small, astronaut_path)
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    big = np.zeros((2100, 2100, 3), np.uint8)  # 4.4 MP > the analyzer's 4 MP cap
    _, png = cv2.imencode(".png", big)
    response = _upload(_client(analyzer, tmp_path / "b"), data=png.tobytes(), name="big.png")
    assert response.status_code == 413


def test_unknown_and_malformed_case_ids_are_404(client):
    for case_id in ("0" * 32, "nothex", "..%2F..%2Fetc"):
        assert client.get(f"/api/cases/{case_id}").status_code == 404
        assert client.get(f"/api/cases/{case_id}/overlay.png").status_code == 404
        chat = client.post(f"/api/cases/{case_id}/chat", json={"question": "why"})
        assert chat.status_code == 404


def test_chat_validates_the_question(client, astronaut_path):
    case_id = _upload(client, astronaut_path).json()["case"]["id"]
    assert client.post(f"/api/cases/{case_id}/chat", json={"question": ""}).status_code == 422
    long = {"question": "why " * 600}
    assert client.post(f"/api/cases/{case_id}/chat", json=long).status_code == 422
    assert client.post(f"/api/cases/{case_id}/chat", json={}).status_code == 422


def test_api_key_guards_everything_but_health(analyzer, tmp_path, astronaut_path):
    client = _client(analyzer, tmp_path, api_key="s3cret")
    assert client.get("/api/health").json()["auth"] is True
    assert client.get("/api/cases").status_code == 401
    assert _upload(client, astronaut_path).status_code == 401
    assert client.get("/api/cases", headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get("/api/cases", headers={"X-API-Key": "s3cret"}).status_code == 200
    auth = {"Authorization": "Bearer s3cret"}
    assert _upload(client, astronaut_path, headers=auth).status_code == 201


def test_openapi_and_ui_are_served(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/analyze", "/api/cases", "/api/cases/{case_id}/chat"} <= set(spec["paths"])
    page = client.get("/").text
    assert "OpenDFA" in page and '<script src="/static/app.js"' in page
    script = client.get("/static/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/api/analyze" in script.text
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/index.html").status_code == 404


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=2048), name=st.sampled_from(["a.jpg", "b.png", "c.mp4", "d", "e.gif"])
)
def test_fuzzed_uploads_never_5xx(client, data, name):
    response = _upload(client, data=data, name=name)
    assert response.status_code < 500
    assert response.status_code in (201, 400, 413, 422)


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_every_route_in_the_openapi_spec_answers_fuzz_without_5xx(client, data, astronaut_path):
    """A schemathesis-style pass: each documented operation with random path parameters,
    query values and JSON bodies never produces a server error."""
    spec = client.get("/openapi.json").json()
    cases = client.get("/api/cases").json()["cases"]
    real_id = cases[0]["id"] if cases else _upload(client, astronaut_path).json()["case"]["id"]
    operations = [(path, method) for path, item in spec["paths"].items() for method in item]
    path, method = data.draw(st.sampled_from(operations))
    random_id = st.text(alphabet="0123456789abcdefxyz-._", min_size=1, max_size=34)
    url = path.replace("{case_id}", data.draw(st.just(real_id) | random_id))
    url = url.replace("{view}", data.draw(st.sampled_from(["image", "mask", "x"]) | random_id))
    query = data.draw(st.dictionaries(st.sampled_from(["limit", "offset", "x"]), _TEXT, max_size=2))
    if method == "post" and path == "/api/analyze":
        response = client.post(url, files={"file": ("f.jpg", data.draw(st.binary(max_size=64)))})
    elif method == "post":
        response = client.post(url, params=query, json=data.draw(_JSON))
    else:
        response = client.request(method.upper(), url, params=query)
    assert response.status_code < 500, (method, url, response.text[:200])


def test_uploads_of_one_photo_share_one_preview(analyzer, tmp_path, astronaut_path):
    client = _client(analyzer, tmp_path)
    ids = [_upload(client, astronaut_path).json()["case"]["id"] for _ in range(12)]
    assert len(set(ids)) == 12
    assert len(list((tmp_path / "previews").glob("*.jpg"))) == 1
    for case_id in ids[:-1]:
        assert client.delete(f"/api/cases/{case_id}").status_code == 204
    assert client.get(f"/api/cases/{ids[-1]}/image.png").status_code == 200


def _png(response) -> np.ndarray:
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    return cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)


def test_forensic_maps_say_what_they_are_computed_from(client, astronaut_path):
    """The server keeps no upload: ELA is not offered (the 404 says why) and the noise map is
    the stored preview's, labelled so; the analysis's own numbers of the upload stay in
    `summary`."""
    from opendfa.forensics.maps import colourize, forensic_maps
    from opendfa.store.cases import PREVIEW_MAX_SIDE

    body = _upload(client, astronaut_path, name="astronaut.jpg").json()
    case_id = body["case"]["id"]
    maps = client.get(f"/api/cases/{case_id}/maps").json()
    assert maps["summary"] == body["report"]["forensics"]["maps"]
    assert maps["ela"]["url"] is None and maps["ela"]["note"].startswith("not offered")
    noise = maps["noise"]
    assert noise["url"] == f"/api/cases/{case_id}/noise.png"
    assert noise["source"] == "stored_preview"
    assert "stored preview (512x512)" in noise["note"]
    assert "not from the uploaded file" in noise["note"]
    ela = client.get(f"/api/cases/{case_id}/ela.png")
    assert ela.status_code == 404 and ela.json()["detail"] == maps["ela"]["note"]
    response = client.get(noise["url"])
    assert response.headers["x-opendfa-map-source"] == "stored_preview"
    shown = _png(response)
    # Exactly the noise residual of the stored preview file, coloured as the report does.
    stored = next((client.app.state.services.store.folder / "previews").glob("*.jpg"))
    preview = cv2.cvtColor(cv2.imread(str(stored)), cv2.COLOR_BGR2RGB)
    assert max(preview.shape[:2]) <= PREVIEW_MAX_SIDE
    expected = cv2.cvtColor(colourize(forensic_maps(preview).noise), cv2.COLOR_RGB2BGR)
    assert shown.shape == expected.shape == (512, 512, 3)
    assert np.array_equal(shown, expected)
    # The chat's answer about ELA gives the upload's numbers and points at the panel.
    reply = client.post(f"/api/cases/{case_id}/chat", json={"question": "show me the ELA"})
    answer = reply.json()
    assert answer["intent"] == "maps" and answer["attachments"] == ["ela", "noise"]
    assert f"mean {maps['summary']['ela']['mean']:.2f}" in answer["answer"]
    assert "keeps only these numbers, not the map images" in answer["answer"]
    assert client.delete(f"/api/cases/{case_id}").status_code == 204
    for path in ("maps", "ela.png", "noise.png"):
        assert client.get(f"/api/cases/{case_id}/{path}").status_code == 404


def test_noise_map_of_a_large_upload_is_labelled_downscaled(client, astronaut_rgb):
    big = cv2.resize(astronaut_rgb, (1700, 850), interpolation=cv2.INTER_CUBIC)
    _, jpeg = cv2.imencode(".jpg", cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    case_id = _upload(client, data=jpeg.tobytes(), name="wide.jpg").json()["case"]["id"]
    note = client.get(f"/api/cases/{case_id}/maps").json()["noise"]["note"]
    assert "stored preview (1600x800, downscaled from 1700x850)" in note
    shown = _png(client.get(f"/api/cases/{case_id}/noise.png"))
    assert shown.shape == (360, 720, 3)  # the size the web UI's other views are shown at


def test_a_video_offers_no_forensic_maps(client, astronaut_rgb, tmp_path):
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (512, 512))
    for _ in range(6):
        writer.write(cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    body = _upload(client, path, name="clip.mp4").json()
    case_id = body["case"]["id"]
    assert body["report"]["forensics"] is None
    maps = client.get(f"/api/cases/{case_id}/maps").json()
    assert maps["summary"] is None and maps["noise"]["url"] is None
    response = client.get(f"/api/cases/{case_id}/noise.png")
    assert response.status_code == 404 and "made for images" in response.json()["detail"]
    reply = client.post(f"/api/cases/{case_id}/chat", json={"question": "C2PA?"}).json()
    assert "this is a video" in reply["answer"]
