"""ONNX Runtime's optimised graph, kept per machine so that later processes skip the work.

Building a session with every graph optimisation takes ONNX Runtime 130-190 ms for the
bundled detector on this project's 2-core CPU, a tenth of a one-image `opendfa analyze`
(benchmarks/RESULTS.md, "Start-up"). The optimised graph can be saved and loaded later with
the optimisations switched off: the same operators, so the same outputs, in about half the
time. It is not shipped with the model because the fully optimised graph is specific to the
CPU (its blocked-layout kernels follow the vector width) and to the ONNX Runtime version;
so it is written on first use under `$OPENDFA_CACHE/onnx/`, keyed by the source graph's
sha256, the ONNX Runtime version and the CPU's feature flags.

A cached graph is used only if its sha256 matches the record written beside it (a torn or
edited file is rebuilt, never run) and if the folder and both files belong to the user
running OpenDFA and nobody else may write them: a record beside a graph proves nothing
against someone who can write both. Any failure to find, read or write the cache falls back
to the plain session. Where the CPU's flags cannot be read (the key would not tell machines
apart) or there are no POSIX owners, the cache is off. `OPENDFA_ONNX_CACHE=0` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import stat
from pathlib import Path
from typing import Any

from opendfa.cache import cache_dir
from opendfa.safe_files import replacing, write_json_atomic

CACHE_FOLDER = "onnx"
DISABLE_VARIABLE = "OPENDFA_ONNX_CACHE"
CPU = "CPUExecutionProvider"
MAX_GRAPHS = 4  # graphs kept per machine


def cached_session(
    onnxruntime: Any, data: bytes, source_sha256: str, options: Any, providers: list[str]
) -> Any:
    """An `InferenceSession` for the ONNX graph `data` (whose sha256 is `source_sha256`),
    built with `options`; from this machine's optimised copy where one is cached, else built
    with every optimisation and its optimised graph cached for next time."""
    graph = _graph_path(onnxruntime, source_sha256) if providers == [CPU] else None
    if graph is None:
        return onnxruntime.InferenceSession(data, options, providers=providers)
    stored = _read_verified(graph)
    if stored is not None:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return onnxruntime.InferenceSession(stored, options, providers=providers)
        except Exception:  # a graph this runtime rejects: rebuild it below
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return _build_and_store(onnxruntime, data, options, providers, graph)


def _graph_path(onnxruntime: Any, source_sha256: str) -> Path | None:
    """Where this machine's optimised graph goes; None when the cache is off or unusable."""
    if os.environ.get(DISABLE_VARIABLE, "1") == "0" or not hasattr(os, "getuid"):
        return None
    try:
        key = cache_key(onnxruntime, source_sha256)
        folder = cache_dir() / CACHE_FOLDER
    except (RuntimeError, OSError):  # no flags to key on, or no home folder to cache in
        return None
    return folder / f"{key}.onnx"


def cache_key(onnxruntime: Any, source_sha256: str) -> str:
    """The source graph, the runtime and the CPU: what the optimised graph depends on."""
    machine = hashlib.sha256(
        f"{onnxruntime.__version__}|{platform.machine()}|{cpu_flags()}".encode()
    ).hexdigest()
    return f"{source_sha256[:24]}-{machine[:16]}"


def cpu_flags() -> str:
    """The CPU's feature flags (Linux's /proc/cpuinfo); OSError where they cannot be read."""
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith(("flags", "Features")):
                return " ".join(sorted(line.split(":", 1)[1].split()))
    raise OSError("no CPU flags in /proc/cpuinfo")


def _read_verified(graph: Path) -> bytes | None:
    """The cached graph's bytes if only this user can have written it and its record is
    there with a matching sha256."""
    record_path = graph.with_suffix(".json")
    try:
        if not all(_private(p) for p in (graph.parent, graph, record_path)):
            return None
        record = json.loads(record_path.read_text(encoding="utf-8"))
        data = graph.read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or hashlib.sha256(data).hexdigest() != record.get("sha256"):
        return None
    with contextlib.suppress(OSError):
        os.utime(record_path)  # last used: what pruning keeps
    return data


def _prune(folder: Path, keep: Path) -> None:
    """Keep the `MAX_GRAPHS` graphs used last (each export of a new model adds one, about
    15 MB for the bundled detector); delete the others with their records."""
    records = sorted(
        (p for p in folder.glob("*.json") if p != keep.with_suffix(".json")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for record in records[MAX_GRAPHS - 1 :]:
        with contextlib.suppress(OSError):
            record.with_suffix(".onnx").unlink(missing_ok=True)
            record.unlink()


def _private(path: Path) -> bool:
    """Owned by this user, and neither its group nor others may write it."""
    status = path.stat()
    return status.st_uid == os.getuid() and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _build_and_store(
    onnxruntime: Any, data: bytes, options: Any, providers: list[str], graph: Path
) -> Any:
    """A fully optimised session; its optimised graph saved to `graph` when possible."""
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        graph.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(graph.parent):
            raise PermissionError(f"{graph.parent} may be written by others")
        with replacing(graph) as temporary:
            options.optimized_model_filepath = str(temporary)
            session = onnxruntime.InferenceSession(data, options, providers=providers)
            digest = hashlib.sha256(temporary.read_bytes()).hexdigest()
        write_json_atomic(graph.with_suffix(".json"), {"sha256": digest})
        _prune(graph.parent, keep=graph)
        return session
    except Exception:  # a read-only, full or shared cache (ONNX Runtime raises its own types)
        options.optimized_model_filepath = ""
        return onnxruntime.InferenceSession(data, options, providers=providers)
