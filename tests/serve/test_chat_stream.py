"""The streamed chat (`POST /api/cases/{id}/chat/stream`, server-sent events) with the grounded
backend and a tiny random DFA-GPT: event order, the final answer, one generation at a time
through the bounded worker, and `serve --backend dfa-gpt` failing in one line."""

from __future__ import annotations

import json
import threading
import time

import pytest

pytest.importorskip("fastapi")

from opendfa.cli import main


def _case(client, astronaut_path) -> str:
    response = client.post(
        "/api/analyze", files={"file": ("astronaut.jpg", astronaut_path.read_bytes())}
    )
    assert response.status_code == 201
    return response.json()["case"]["id"]


def _events(client, case_id: str, question: str) -> list[tuple[str, dict]]:
    with client.stream(
        "POST", f"/api/cases/{case_id}/chat/stream", json={"question": question}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return _parse(response.read().decode())


def _parse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_grounded_stream_is_one_token_then_the_plain_chat_answer(client, astronaut_path):
    case_id = _case(client, astronaut_path)
    events = _events(client, case_id, "how sure are you?")
    assert [name for name, _ in events] == ["token", "done"]
    (_, token), (_, done) = events
    assert token == {"text": done["answer"]} and done["backend"] == "grounded"
    plain = client.post(f"/api/cases/{case_id}/chat", json={"question": "how sure are you?"})
    assert plain.status_code == 200 and plain.json() == done
    case = client.get(f"/api/cases/{case_id}").json()
    assert case["backend"] == "grounded"
    assert [t["role"] for t in case["turns"]] == ["user", "assistant"] * 2
    assert client.get("/api/health").json()["chat"] == {"backend": "grounded", "streams": False}


def test_stream_for_an_unknown_case_is_404(client):
    response = client.post(f"/api/cases/{'0' * 32}/chat/stream", json={"question": "why?"})
    assert response.status_code == 404


def test_dfa_gpt_streams_several_tokens_that_make_the_answer(
    make_client, dfagpt_chat, astronaut_path
):
    client = make_client(chat=dfagpt_chat)
    case_id = _case(client, astronaut_path)
    assert client.get(f"/api/cases/{case_id}").json()["backend"] == "dfa-gpt"
    events = _events(client, case_id, "Is this face real or fake?")
    names = [name for name, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"token"} and len(names) > 2
    done = events[-1][1]
    assert "".join(data["text"] for _, data in events[:-1]).strip() == done["answer"]
    assert done["backend"] == "dfa-gpt" and done["intent"]
    follow_up = _events(client, case_id, "Why?")[-1]
    assert follow_up[0] == "done"
    turns = client.get(f"/api/cases/{case_id}/chat").json()["turns"]
    assert [t["backend"] for t in turns if t["role"] == "assistant"] == ["dfa-gpt"] * 2
    assert turns[1]["text"] == done["answer"]
    assert (
        client.post(f"/api/cases/{'f' * 32}/chat/stream", json={"question": "x"}).status_code == 404
    )


def test_dfa_gpt_generates_one_answer_at_a_time(make_client, dfagpt_chat, astronaut_path):
    client = make_client(chat=dfagpt_chat)
    cases = [_case(client, astronaut_path) for _ in range(2)]
    assistant = dfagpt_chat.backend.assistant
    ask, active, most = assistant.ask, [0], [0]

    def counting(*args, **options):
        active[0] += 1
        most[0] = max(most[0], active[0])
        time.sleep(0.2)
        try:
            return ask(*args, **options)
        finally:
            active[0] -= 1

    assistant.ask = counting
    try:  # straight on two threads, past the worker: the engine's lock alone serialises them
        threads = [
            threading.Thread(
                target=dfagpt_chat.answer, args=(client.app.state.services.store, c, "Why?")
            )
            for c in cases
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        assistant.ask = ask
    assert most[0] == 1
    assert all(len(client.get(f"/api/cases/{c}/chat").json()["turns"]) == 2 for c in cases)


def test_dfa_gpt_answers_take_a_worker_slot(make_client, dfagpt_chat, astronaut_path):
    client = make_client(chat=dfagpt_chat, queue_size=1)
    case_id = _case(client, astronaut_path)
    pool = client.app.state.services.pool
    pool._pending = pool.capacity  # as if an analysis were running
    try:
        for route in ("chat", "chat/stream"):
            busy = client.post(f"/api/cases/{case_id}/{route}", json={"question": "why?"})
            assert busy.status_code == 503 and busy.headers["retry-after"]
    finally:
        pool._pending = 0
    assert client.post(f"/api/cases/{case_id}/chat", json={"question": "why?"}).status_code == 200


def test_dfa_gpt_cannot_answer_without_a_face_in_one_line(make_client, dfagpt_chat):
    import cv2
    import numpy as np

    client = make_client(chat=dfagpt_chat)
    blank = cv2.imencode(".png", np.full((240, 480, 3), 128, np.uint8))[1].tobytes()
    response = client.post("/api/analyze", files={"file": ("blank.png", blank)})
    case_id = response.json()["case"]["id"]
    events = _events(client, case_id, "why?")
    assert [name for name, _ in events] == ["error"]
    assert "face" in events[0][1]["detail"] and "\n" not in events[0][1]["detail"]
    plain = client.post(f"/api/cases/{case_id}/chat", json={"question": "why?"})
    assert plain.status_code == 422 and "face" in plain.json()["detail"]
    assert client.get(f"/api/cases/{case_id}/chat").json()["turns"] == []


def test_max_new_tokens_is_capped(tiny_dfagpt_dir):
    from opendfa.serve.chat import MAX_NEW_TOKENS, ChatEngine

    engine = ChatEngine.create("dfa-gpt", model_dir=tiny_dfagpt_dir, max_new_tokens=10**6)
    assert engine.backend.max_new_tokens == MAX_NEW_TOKENS and engine.streams


@pytest.mark.parametrize(
    ("extra", "hidden", "expected"),
    [
        ([], None, "no DFA-GPT model given"),
        (["--mllm", "does-not-exist"], None, "cannot load DFA-GPT from does-not-exist"),
        ([], "peft", "needs peft: pip install 'opendfa[gemma]'"),
    ],
)
def test_serve_with_an_unavailable_dfa_gpt_fails_in_one_line(
    extra, hidden, expected, tiny_model, tmp_path, capsys, monkeypatch
):
    import importlib.util

    monkeypatch.setattr("opendfa.models.dfagpt.bundled_model_dir", lambda: None)
    if hidden:
        find_spec = importlib.util.find_spec
        monkeypatch.setattr(
            importlib.util,
            "find_spec",
            lambda name, *a: None if name == hidden else find_spec(name, *a),
        )
    args = ["serve", "--backend", "dfa-gpt", "--data", str(tmp_path), "--model", tiny_model]
    code = main([*args, *extra])
    out, err = capsys.readouterr()
    assert code != 0 and "Traceback" not in err and "OpenDFA on" not in out
    assert err.count("\n") == 1 and err.startswith("opendfa: error: cannot start:"), err
    assert expected in err


class _SteppedBackend:
    """A streaming backend that writes its second piece only once the client has read the
    first: it can finish only if the server sends each piece as it comes."""

    name, streams = "stepped", True

    def __init__(self) -> None:
        self.on_text = None
        self.first_read = threading.Event()

    def reply(self, question, report, history):
        from opendfa.explain.grounded import Answer

        self.on_text("first")
        assert self.first_read.wait(20), "the first piece never reached the client"
        self.on_text(" second")
        return Answer("first second", question.intent)


def test_pieces_reach_the_client_as_they_are_generated(live_server, astronaut_path):
    import httpx

    from opendfa.serve.chat import ChatEngine

    backend = _SteppedBackend()
    host, port = live_server(chat=ChatEngine(backend))
    with httpx.Client(base_url=f"http://{host}:{port}", timeout=30) as http:
        upload = http.post("/api/analyze", files={"file": ("a.jpg", astronaut_path.read_bytes())})
        case_id = upload.json()["case"]["id"]
        url = f"/api/cases/{case_id}/chat/stream"
        with http.stream("POST", url, json={"question": "why?"}) as response:
            text = ""
            for chunk in response.iter_text():
                text += chunk
                if '"first"' in text:
                    backend.first_read.set()
    events = _parse(text)
    assert [name for name, _ in events] == ["token", "token", "done"]
    assert events[-1][1]["answer"] == "first second" and events[-1][1]["backend"] == "stepped"


class _EndlessBackend:
    """Writes a piece every 20 ms for up to 20 s, unless the server stops it."""

    name, streams = "endless", True

    def __init__(self) -> None:
        self.on_text = None
        self.stopped = threading.Event()

    def reply(self, question, report, history):
        from opendfa.serve.chat import Stopped

        try:
            for k in range(1000):
                self.on_text(f" {k}")
                time.sleep(0.02)
        except Stopped:
            self.stopped.set()
            raise
        raise AssertionError("never stopped")


def test_a_client_that_leaves_stops_the_generation(live_server, astronaut_path):
    import httpx

    from opendfa.serve.chat import ChatEngine

    backend = _EndlessBackend()
    host, port = live_server(chat=ChatEngine(backend))
    with httpx.Client(base_url=f"http://{host}:{port}", timeout=30) as http:
        upload = http.post("/api/analyze", files={"file": ("a.jpg", astronaut_path.read_bytes())})
        case_id = upload.json()["case"]["id"]
        with http.stream(
            "POST", f"/api/cases/{case_id}/chat/stream", json={"question": "why?"}
        ) as response:
            next(response.iter_text())  # the first piece, then the client leaves
    assert backend.stopped.wait(10)
    with httpx.Client(base_url=f"http://{host}:{port}", timeout=30) as http:
        assert http.get(f"/api/cases/{case_id}/chat").json()["turns"] == []
        deadline = time.monotonic() + 10  # the worker slot is freed once the job has ended
        while http.get("/api/health").json()["queue"]["pending"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert http.get("/api/health").json()["queue"]["pending"] == 0
