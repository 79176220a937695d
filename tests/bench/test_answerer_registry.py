"""Bench answerers live in one registry table, built on the chat backends' mechanism."""

from __future__ import annotations

import argparse

import pytest

from opendfa.bench.answerers import (
    ANSWERERS,
    DetectorAnswerer,
    EndpointAnswerer,
    answerer_from_cli,
    make_answerer,
)
from opendfa.bench.cli import ANSWERER_NAMES
from opendfa.explain import ExplainError
from opendfa.explain.backends import BACKENDS, Registry


def test_the_cli_offers_exactly_the_registered_answerers():
    assert sorted(ANSWERER_NAMES) == sorted(ANSWERERS)
    assert isinstance(ANSWERERS, Registry) and isinstance(BACKENDS, Registry)
    assert DetectorAnswerer.name == "detector" and EndpointAnswerer.name == "openai"


def test_an_answerer_is_built_by_name_or_from_the_bench_arguments(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    args = argparse.Namespace(base_url="http://127.0.0.1:9/v1/", llm="llava")
    answerer = answerer_from_cli("openai", args)
    assert isinstance(answerer, EndpointAnswerer)
    assert answerer.client.base_url == "http://127.0.0.1:9/v1"
    assert (answerer.client.model, answerer.client.api_key) == ("llava", "secret")
    assert make_answerer("openai", base_url="http://x/v1").client.model == "default"


def test_an_unknown_answerer_names_the_known_ones():
    with pytest.raises(ExplainError, match="unknown answerer 'gpt-9'; known: detector"):
        make_answerer("gpt-9")


def test_a_name_is_registered_once():
    table = Registry("thing")
    table.register("a")(type("A", (), {}))
    with pytest.raises(ValueError, match="registered twice"):
        table.register("a")(type("B", (), {}))
