"""The per-machine cache of ONNX Runtime's optimised graph: written on first use, used (and
giving the same numbers) after, rebuilt when torn or edited, and never in the way."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.models import onnx_cache
from opendfa.models.detector_base import predict_crops
from opendfa.models.onnx_detector import load_onnx_detector

onnxruntime = pytest.importorskip("onnxruntime")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDFA_CACHE", str(tmp_path))
    monkeypatch.delenv(onnx_cache.DISABLE_VARIABLE, raising=False)
    return tmp_path / onnx_cache.CACHE_FOLDER


@pytest.fixture(scope="module")
def crops(face_detector, astronaut_rgb):
    from opendfa.faces import align_face

    face = face_detector.detect(astronaut_rgb)[0]
    crop = align_face(astronaut_rgb, face, size=224, margin=0.25).crop
    return np.stack([crop, crop[:, ::-1]])


def _probabilities(detector, crops) -> list[float]:
    return [p.fake_probability for p in predict_crops(detector, crops)]


def test_first_load_caches_the_optimised_graph_and_later_loads_use_it(cache, crops, monkeypatch):
    uncached = _probabilities(_load_without_cache(monkeypatch), crops)
    first = load_onnx_detector()
    graphs = sorted(cache.glob("*.onnx"))
    assert len(graphs) == 1 and graphs[0].with_suffix(".json").is_file()

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the cached graph should have been used")

    monkeypatch.setattr(onnx_cache, "_build_and_store", no_rebuild)
    second = load_onnx_detector()
    for detector in (first, second):
        assert _probabilities(detector, crops) == pytest.approx(uncached, abs=1e-6)


def test_a_torn_or_edited_cached_graph_is_rebuilt_not_run(cache, crops, monkeypatch):
    expected = _probabilities(load_onnx_detector(), crops)
    (graph,) = cache.glob("*.onnx")
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])  # torn
    rebuilt = []
    build = onnx_cache._build_and_store
    monkeypatch.setattr(onnx_cache, "_build_and_store", lambda *a: rebuilt.append(1) or build(*a))
    assert _probabilities(load_onnx_detector(), crops) == pytest.approx(expected, abs=1e-6)
    assert rebuilt == [1]
    assert onnx_cache._read_verified(graph) is not None  # whole again


def test_an_unwritable_cache_or_a_switched_off_one_still_loads(tmp_path, crops, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("OPENDFA_CACHE", str(blocker))
    assert len(_probabilities(load_onnx_detector(), crops)) == 2
    monkeypatch.setenv("OPENDFA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(onnx_cache.DISABLE_VARIABLE, "0")
    load_onnx_detector()
    assert not (tmp_path / "cache").exists()


def test_the_key_changes_with_the_graph_and_the_runtime(monkeypatch):
    key = onnx_cache.cache_key(onnxruntime, "a" * 64)
    assert key != onnx_cache.cache_key(onnxruntime, "b" * 64)

    class OtherVersion:
        __version__ = "0.0.1"

    assert key.split("-")[1] != onnx_cache.cache_key(OtherVersion, "a" * 64).split("-")[1]


def _load_without_cache(monkeypatch):
    with monkeypatch.context() as patch:
        patch.setenv(onnx_cache.DISABLE_VARIABLE, "0")
        return load_onnx_detector()


def test_a_cache_others_may_write_is_neither_used_nor_written(cache, crops):
    expected = _probabilities(load_onnx_detector(), crops)
    (graph,) = cache.glob("*.onnx")
    planted = graph.read_bytes()
    cache.chmod(0o777)  # a shared folder: a graph and its record there prove nothing
    for path in cache.iterdir():
        path.unlink()
    assert _probabilities(load_onnx_detector(), crops) == pytest.approx(expected, abs=1e-6)
    assert list(cache.iterdir()) == []
    cache.chmod(0o700)
    graph.write_bytes(planted)
    graph.chmod(0o666)
    assert onnx_cache._read_verified(graph) is None


def test_onnx_runtime_failing_to_write_the_graph_falls_back(cache, crops, monkeypatch):
    from contextlib import contextmanager

    @contextmanager
    def nowhere(path):
        yield cache / "missing-folder" / "graph.onnx"  # ONNX Runtime cannot write there

    monkeypatch.setattr(onnx_cache, "replacing", nowhere)
    assert len(_probabilities(load_onnx_detector(), crops)) == 2
    assert not list(cache.glob("*.json"))


def test_without_cpu_flags_to_key_on_there_is_no_cache(cache, monkeypatch):
    def unreadable():
        raise OSError("no /proc/cpuinfo")

    monkeypatch.setattr(onnx_cache, "cpu_flags", unreadable)
    load_onnx_detector()
    assert not cache.exists()


def test_only_the_graphs_used_last_are_kept(cache, monkeypatch):
    import os

    cache.mkdir(parents=True)
    for k in range(onnx_cache.MAX_GRAPHS + 2):
        old = cache / f"old{k}.json"
        old.write_text("{}")
        old.with_suffix(".onnx").write_bytes(b"x")
        os.utime(old, (1000 + k, 1000 + k))
    load_onnx_detector()
    kept = sorted(p.stem for p in cache.glob("*.json"))
    expected_old = [f"old{k}" for k in range(3, onnx_cache.MAX_GRAPHS + 2)]
    assert len(kept) == onnx_cache.MAX_GRAPHS and kept[-len(expected_old) :] == expected_old
    assert len(list(cache.glob("*.onnx"))) == onnx_cache.MAX_GRAPHS
