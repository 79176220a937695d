"""Start-up cost: help and argument errors must not import the heavy libraries.

Module lists, not timings: a test that counts seconds would fail on a busy machine and pass
on a slow import that happens to be cached. What makes `opendfa --help` slow is importing
torch, scikit-learn, SciPy, MediaPipe or matplotlib, and that is what these tests catch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parent.parent / "src/opendfa/assets/samples/astronaut.jpg"
HEAVY = ("torch", "sklearn", "scipy", "mediapipe", "matplotlib", "cv2", "PIL", "transformers")


def _modules_after(code: str) -> set[str]:
    """Top-level module names imported by running `code` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


def _after_cli(*argv: str) -> set[str]:
    call = (
        "import contextlib, io\nfrom opendfa.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    try:\n        main({list(argv)!r})\n    except SystemExit:\n        pass"
    )
    return _modules_after(call)


@pytest.mark.parametrize(
    "argv",
    [
        ("--help",),
        ("--version",),
        ("analyze", "--help"),
        ("chat", "--help"),
        ("data", "import", "--help"),
        ("bench", "--help"),
        ("train", "detector", "--help"),
        ("serve", "--help"),
    ],
)
def test_help_imports_no_heavy_library(argv):
    assert not _after_cli(*argv) & set(HEAVY)


def test_package_names_stay_importable_and_load_on_first_use():
    loaded = _modules_after(
        "import opendfa.evidence, opendfa.faces, opendfa.bench, opendfa.metrics, opendfa.data, "
        "opendfa.explain, opendfa.instruct"
    )
    assert not loaded & set(HEAVY)
    from opendfa.evidence import Analyzer
    from opendfa.faces import REGION_NAMES, FaceDetector
    from opendfa.metrics import detection_metrics

    assert callable(detection_metrics) and Analyzer.__name__ == "Analyzer"
    assert FaceDetector.__module__ == "opendfa.faces.detect" and "mouth" in REGION_NAMES
    import opendfa.faces

    assert "FaceDetector" in dir(opendfa.faces)
    with pytest.raises(AttributeError):
        opendfa.faces.NoSuchName  # noqa: B018


LAZY_PACKAGES = ("data", "evidence", "explain", "faces", "instruct", "metrics")


def _exports_shadowed_by_a_submodule() -> list[tuple[str, str]]:
    """(package, name) for every export named like a submodule of its package."""
    import importlib
    import pkgutil

    pairs = []
    for package in (*LAZY_PACKAGES, "media", "forge"):
        module = importlib.import_module(f"opendfa.{package}")
        submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
        pairs += [(package, name) for name in module.__all__ if name in submodules]
    return pairs


def test_every_exported_name_resolves():
    import importlib

    for package in LAZY_PACKAGES:
        module = importlib.import_module(f"opendfa.{package}")
        for name in module.__all__:
            assert getattr(module, name) is not None, f"opendfa.{package}.{name}"


def test_every_exported_name_is_the_intended_object_after_its_submodule_was_imported():
    """An export named like its submodule (`opendfa.instruct.describe`) stays the export.

    Importing a submodule binds it on its package; if that replaced a lazily exported name,
    `from opendfa.instruct import describe` would return the module instead of the function.
    """
    import importlib
    import importlib.util
    import types

    for package in LAZY_PACKAGES:
        module = importlib.import_module(f"opendfa.{package}")
        for name, source in module._EXPORTS.items():
            importlib.import_module(source)  # the submodule first, as another import may
            if importlib.util.find_spec(f"opendfa.{package}.{name}") is not None:
                importlib.import_module(f"opendfa.{package}.{name}")
        for name, source in module._EXPORTS.items():
            intended = getattr(importlib.import_module(source), name)
            assert not isinstance(intended, types.ModuleType), f"opendfa.{package}.{name}"
            assert getattr(module, name) is intended, f"opendfa.{package}.{name}"
            namespace: dict[str, object] = {}
            exec(f"from opendfa.{package} import {name}", namespace)
            assert namespace[name] is intended, f"from opendfa.{package} import {name}"
    for package in ("media", "forge"):  # eager packages: no export may be a module either
        module = importlib.import_module(f"opendfa.{package}")
        for name in module.__all__:
            value = getattr(module, name)
            assert not isinstance(value, types.ModuleType), f"opendfa.{package}.{name}"


@pytest.mark.parametrize("submodule_first", [True, False])
def test_exports_named_like_their_submodule_win_in_a_fresh_interpreter(submodule_first):
    pairs = _exports_shadowed_by_a_submodule()
    assert ("instruct", "describe") in pairs  # the case this guards; others are checked too
    lines = ["import importlib, types"]
    for package, name in pairs:
        submodule = f"import opendfa.{package}.{name}"
        export = f"from opendfa.{package} import {name} as value"
        lines += [submodule, export] if submodule_first else [export, submodule]
        lines += [
            f"import opendfa.{package}.{name}",  # a later import must not rebind it either
            f"from opendfa.{package} import {name} as again",
            "assert not isinstance(value, types.ModuleType), value",
            f"assert value is again is vars(importlib.import_module('opendfa.{package}.{name}'))"
            f"[{name!r}]",
        ]
    done = subprocess.run(
        [sys.executable, "-c", "\n".join(lines)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_face_detector_builds_mediapipe_graphs_on_first_use_without_matplotlib():
    code = "from opendfa.faces import FaceDetector\nFaceDetector()"
    assert "mediapipe" not in _modules_after(code)  # constructed, never used
    used = _modules_after(
        "import numpy as np\nfrom opendfa.faces import FaceDetector\n"
        "FaceDetector().detect(np.zeros((64, 64, 3), np.uint8))"
    )
    assert "mediapipe" in used and "matplotlib" not in used


def test_mediapipe_drawing_helpers_still_work_when_asked_for():
    loaded = _modules_after(
        "from opendfa.faces.mediapipe_import import import_solutions\n"
        "solutions = import_solutions()\n"
        "assert solutions.drawing_utils.draw_landmarks is not None"
    )
    assert "matplotlib" in loaded


def test_faces_package_loads_scipy_only_for_video_tracks():
    assert "scipy" not in _modules_after("import opendfa.faces.tracks")


def test_graphs_built_on_first_use_stay_silent_when_the_first_image_has_no_face():
    script = (
        "import cv2, numpy as np\nfrom opendfa.faces import FaceDetector\n"
        f"face = cv2.cvtColor(cv2.imread({str(SAMPLE)!r}), cv2.COLOR_BGR2RGB)\n"
        "with FaceDetector() as detector:\n"
        "    assert detector.detect(np.zeros((64, 64, 3), np.uint8)) == []\n"
        "    assert len(detector.detect(face)) == 1\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENDFA_VERBOSE_NATIVE"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # MediaPipe's C++ start-up lines (the mesh runs on image two)


def test_analyzing_one_image_imports_no_torch_when_the_model_has_an_onnx_export():
    loaded = _after_cli("analyze", str(SAMPLE), "--json")
    assert "onnxruntime" in loaded and "mediapipe" in loaded
    assert "torch" not in loaded and "matplotlib" not in loaded


def test_a_model_without_an_onnx_export_still_analyses_on_torch(tiny_model):
    loaded = _after_cli("analyze", str(SAMPLE), "--json", "--model", tiny_model)
    assert "torch" in loaded
