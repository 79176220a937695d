"""ONNX Runtime's optimised graph, kept per machine so that later processes skip the work.

Building a session with every graph optimisation takes ONNX Runtime 130-190 ms for the
bundled detector on this project's 2-core CPU, a tenth of a one-image `opendfa analyze`
(benchmarks/RESULTS.md, "Start-up"). The optimised graph can be saved and loaded later with
the optimisations switched off: the same operators, so the same outputs, in about half the
time. It is not shipped with the model because the fully optimised graph is specific to the
CPU (its blocked-layout kernels follow the vector width) and to the ONNX Runtime version;
so it is written on first use under `$OPENDFA_CACHE/onnx/`, keyed by the source graph's
sha256, the ONNX Runtime version and the CPU's feature flags.

A cached graph is used only if its sha256 matches the record written beside it, so a torn
or edited file is rebuilt, never run. Any failure to read or write the cache falls back to
the plain session. `OPENDFA_ONNX_CACHE=0` turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

from opendfa.cache import cache_dir
from opendfa.safe_files import replacing, write_json_atomic

CACHE_FOLDER = "onnx"
DISABLE_VARIABLE = "OPENDFA_ONNX_CACHE"


def cached_session(
    onnxruntime: Any, data: bytes, source_sha256: str, options: Any, providers: list[str]
) -> Any:
    """An `InferenceSession` for the ONNX graph `data` (whose sha256 is `source_sha256`),
    built with `options`; from this machine's optimised copy where one is cached, else built
    with every optimisation and its optimised graph cached for next time."""
    if os.environ.get(DISABLE_VARIABLE, "1") == "0" or providers != ["CPUExecutionProvider"]:
        return onnxruntime.InferenceSession(data, options, providers=providers)
    graph = cache_dir() / CACHE_FOLDER / f"{cache_key(onnxruntime, source_sha256)}.onnx"
    stored = _read_verified(graph)
    if stored is not None:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return onnxruntime.InferenceSession(stored, options, providers=providers)
        except Exception:  # a graph this runtime rejects: rebuild it below
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return _build_and_store(onnxruntime, data, options, providers, graph)


def cache_key(onnxruntime: Any, source_sha256: str) -> str:
    """The source graph, the runtime and the CPU: what the optimised graph depends on."""
    machine = hashlib.sha256(
        f"{onnxruntime.__version__}|{platform.machine()}|{_cpu_flags()}".encode()
    ).hexdigest()
    return f"{source_sha256[:24]}-{machine[:16]}"


def _cpu_flags() -> str:
    """The CPU's feature flags (Linux), else the processor's name."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(("flags", "Features")):
                    return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return platform.processor()


def _read_verified(graph: Path) -> bytes | None:
    """The cached graph's bytes if its record is there and its sha256 matches."""
    try:
        record = json.loads(graph.with_suffix(".json").read_text(encoding="utf-8"))
        data = graph.read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or hashlib.sha256(data).hexdigest() != record.get("sha256"):
        return None
    return data


def _build_and_store(
    onnxruntime: Any, data: bytes, options: Any, providers: list[str], graph: Path
) -> Any:
    """A fully optimised session; its optimised graph saved to `graph` when possible."""
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        graph.parent.mkdir(parents=True, exist_ok=True)
        with replacing(graph) as temporary:
            options.optimized_model_filepath = str(temporary)
            session = onnxruntime.InferenceSession(data, options, providers=providers)
            digest = hashlib.sha256(temporary.read_bytes()).hexdigest()
        write_json_atomic(graph.with_suffix(".json"), {"sha256": digest})
        return session
    except OSError:  # a read-only or full cache: run without it
        options.optimized_model_filepath = ""
        return onnxruntime.InferenceSession(data, options, providers=providers)
