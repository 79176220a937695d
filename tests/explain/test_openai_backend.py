"""The OpenAI-compatible backend against a local server that speaks the protocol."""

from __future__ import annotations

import pytest

from opendfa.explain import Conversation, ExplainError, make_backend


def test_reply_passes_through_with_evidence_and_history(llm, fake_report):
    llm.replies = [(200, "The mouth region scores 0.83, the highest.")]
    backend = make_backend("openai", base_url=llm.url, model="m", api_key="k", retries=0)
    convo = Conversation(fake_report, backend=backend)
    reply = convo.ask("where?")
    assert reply.text == "The mouth region scores 0.83, the highest."
    request = llm.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer k"
    system = request["body"]["messages"][0]["content"]
    assert '"verdict":"fake"' in system and '"mouth"' in system and "ONLY" in system
    assert request["body"]["messages"][-1] == {"role": "user", "content": "where?"}


def test_contradicting_reply_is_replaced_by_the_grounded_answer(llm, fake_report):
    llm.replies = [(200, "This image is real and untouched.")]
    backend = make_backend("openai", base_url=llm.url, retries=0)
    reply = Conversation(fake_report, backend=backend).ask("is it fake?")
    assert "judges it fake" in reply.text
    assert reply.facts["rejected_llm_reply"]["reason"] == "says real, the report says fake"


def test_wrong_forgery_type_is_rejected(llm, fake_report):
    llm.replies = [(200, "It is fake: a face reenactment.")]
    backend = make_backend("openai", base_url=llm.url, retries=0)
    reply = Conversation(fake_report, backend=backend).ask("what type?")
    assert "face_reenactment" in reply.facts["rejected_llm_reply"]["reason"]


def test_server_errors_are_retried_then_reported(llm, fake_report):
    llm.replies = [(503, ""), (200, "Recovered answer.")]
    backend = make_backend("openai", base_url=llm.url, retries=1)
    assert Conversation(fake_report, backend=backend).ask("why?").text == "Recovered answer."
    llm.replies = [(400, "")]
    with pytest.raises(ExplainError, match="HTTP 400"):
        Conversation(fake_report, backend=backend).ask("why?")


def test_unreachable_endpoint_raises_one_line_error(fake_report):
    backend = make_backend("openai", base_url="http://127.0.0.1:9/v1", retries=0, timeout=2)
    with pytest.raises(ExplainError, match="cannot reach"):
        Conversation(fake_report, backend=backend).ask("why?")
