"""Bounded concurrent load on `opendfa serve` over loopback: no errors, no lost cases.

    .venv/bin/python benchmarks/serve_load.py [--clients 32] [--seconds 60] [--write RESULTS.md]

Starts the server in a subprocess (127.0.0.1, a fresh case store), then `--clients` threads
upload the bundled samples (and chat about each case) for `--seconds`, while a probe asks
`/api/health` and `/api/cases` every 0.1 s. An upload refused with 503 (full queue) is shed
load, not an error: the client waits its Retry-After and tries again. Reports requests/s,
p50/p95 latency per route (probes included), errors, shed uploads, that every 201 upload is
a stored case, and the server's peak resident memory (from /proc) against its memory after
warm-up.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

from results_section import write_section

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "src" / "opendfa" / "assets" / "samples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def request(url: str, data: bytes | None = None, content_type: str | None = None, method="GET"):
    """(status, body, seconds, Retry-After header or None)."""
    req = urllib.request.Request(url, data=data, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=300) as response:
            body, status, retry = response.read(), response.status, None
    except urllib.error.HTTPError as err:
        body, status, retry = err.read(), err.code, err.headers.get("Retry-After")
    return status, body, time.perf_counter() - start, retry


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--model", default="opendfa-lite0")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args(argv)
    port, data_dir = free_port(), tempfile.mkdtemp(prefix="opendfa-load-")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "opendfa.cli",
            "serve",
            "--port",
            str(port),
            "--data",
            data_dir,
            "--model",
            args.model,
        ],
        env={**os.environ, "OPENDFA_API_KEY": ""},
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if request(base + "/api/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        photos = [(p.name, p.read_bytes()) for p in sorted(SAMPLES.glob("*.jpg"))]
        request(base + "/api/analyze", *multipart(*photos[0]), method="POST")  # warm-up
        baseline_rss = rss_mb(server.pid)
        timings: dict[str, list[float]] = {"upload": [], "chat": [], "health": [], "list": []}
        errors: list[str] = []
        shed = [0]
        created: list[str] = []
        peak = [baseline_rss]
        lock = threading.Lock()
        deadline = time.time() + args.seconds

        def client(k: int) -> None:
            n = 0
            while time.time() < deadline:
                name, data = photos[(k + n) % len(photos)]
                status, body, seconds, retry = request(
                    base + "/api/analyze", *multipart(name, data), method="POST"
                )
                if status == 503:
                    with lock:
                        shed[0] += 1
                    time.sleep(min(5.0, float(retry or 1)))
                    continue
                with lock:
                    timings["upload"].append(seconds)
                    if status != 201:
                        errors.append(f"upload {status}")
                        continue
                    case_id = json.loads(body)["case"]["id"]
                    created.append(case_id)
                status, _, seconds, _ = request(
                    f"{base}/api/cases/{case_id}/chat",
                    json.dumps({"question": "why?"}).encode(),
                    "application/json",
                    method="POST",
                )
                with lock:
                    timings["chat"].append(seconds)
                    if status != 200:
                        errors.append(f"chat {status}")
                n += 1

        def probe() -> None:
            """Health and listing while the uploads run: these must stay fast."""
            while time.time() < deadline:
                for route, path in (("health", "/api/health"), ("list", "/api/cases?limit=50")):
                    status, _, seconds, _ = request(base + path)
                    with lock:
                        timings[route].append(seconds)
                        if status != 200:
                            errors.append(f"{route} {status}")
                time.sleep(0.1)

        def watch() -> None:
            while time.time() < deadline + 5:
                peak[0] = max(peak[0], rss_mb(server.pid))
                time.sleep(0.5)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        threads.append(threading.Thread(target=probe))
        watcher = threading.Thread(target=watch, daemon=True)
        started = time.time()
        watcher.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.time() - started
        listed = json.loads(request(base + "/api/cases?limit=1")[1])["total"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    requests_done = sum(len(values) for values in timings.values()) + shed[0]
    lines = [
        "## Server under load (benchmarks/serve_load.py)",
        "",
        f"Run {datetime.date.today().isoformat()}: {args.clients} client threads for "
        f"{args.seconds:.0f} s against `opendfa serve` on 127.0.0.1 (model {args.model}); each "
        "client uploads a bundled sample, then asks `why?` about the new case; a probe asks "
        "`/api/health` and `/api/cases?limit=50` every 0.1 s meanwhile.",
        "",
        f"- requests: {requests_done} in {elapsed:.0f} s = {requests_done / elapsed:.2f} /s; "
        f"errors: {len(errors)}" + (f" ({', '.join(sorted(set(errors)))})" if errors else ""),
        f"- uploads shed with 503 + Retry-After (queue full, retried): {shed[0]}",
        f"- cases: {len(created)} uploads answered 201, {listed - 1} stored (plus the warm-up): "
        + ("none lost" if listed - 1 == len(created) else "MISMATCH"),
        f"- server memory: {baseline_rss:.0f} MB after warm-up, peak {peak[0]:.0f} MB",
        "",
        "| route | requests | p50 s | p95 s |",
        "| --- | --- | --- | --- |",
    ]
    for route, values in timings.items():
        if values:
            p95 = statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]
            lines.append(
                f"| {route} | {len(values)} | {statistics.median(values):.2f} | {p95:.2f} |"
            )
    body = "\n".join(lines)
    print(body)
    if args.write:
        write_section(args.write, "serve", body)
    return 1 if errors or listed - 1 != len(created) else 0


if __name__ == "__main__":
    raise SystemExit(main())
