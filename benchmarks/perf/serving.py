"""Throughput and latency of ``zoo serve``'s ``/v1/score``, eager and ONNX, in one run.

Starts the real ``zoo serve`` (the script beside this interpreter) on a free loopback port for
each runtime, and measures, after a warm-up, requests/s, rows/s and the p50 / p99 latency of:

- ``batch 1, 1 client``: single-row requests one after another (no batching possible);
- ``batch 1, C clients``: C threads sending single-row requests at once, batched on the
  server (rows per model call from ``GET /v1/stats``);
- ``batch 1, C clients, no batching``: the same against a server started with
  ``--max-batch 1``, so every request is its own model call (eager only);
- ``batch 256, 1 client``: 256-row requests one after another.

Clients keep their HTTP connection open (keep-alive), so connection set-up is not timed.
The rows are seeded standard-normal rows of the package's input shape (the scores' values do
not matter here). Client threads share the machine with the server: on few cores the
figures are the pair's, not the server's alone.

    python benchmarks/perf/serving.py PACKAGE [--clients 16] [--seconds 10] [--json out.json]

``PACKAGE`` must have an ONNX export (``zoo export RUN --out DIR --onnx``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(package: Path, runtime: str, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    zoo = Path(sys.executable).parent / "zoo"
    process = subprocess.Popen([str(zoo), "serve", str(package), "--port", str(port),
                                "--runtime", runtime, *extra],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if get(port, "/ready")[0] == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"zoo serve --runtime {runtime} did not become ready")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def get(port: int, path: str) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def client(port: int, bodies: list[bytes], until: float, latencies: list[float]) -> None:
    """Send ``bodies`` round-robin over one kept-alive connection until ``until``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    i = 0
    while time.perf_counter() < until:
        began = time.perf_counter()
        connection.request("POST", "/v1/score", bodies[i % len(bodies)], headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"/v1/score answered {response.status}")
        latencies.append(time.perf_counter() - began)
        i += 1


def measure(port: int, rows: np.ndarray, batch: int, clients: int,
            seconds: float) -> dict[str, Any]:
    bodies = [json.dumps({"inputs": rows[i:i + batch].tolist()}).encode()
              for i in range(0, len(rows) - batch + 1, batch)][:64]
    warm: list[float] = []
    client(port, bodies, time.perf_counter() + 1.0, warm)
    before = get(port, "/v1/stats")[1]
    per_client: list[list[float]] = [[] for _ in range(clients)]
    began = time.perf_counter()
    until = began + seconds
    threads = [threading.Thread(target=client, args=(port, bodies, until, per_client[i]))
               for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    after = get(port, "/v1/stats")[1]
    latencies = sorted(t for times in per_client for t in times)
    requests = len(latencies)
    calls = after["model_calls"] - before["model_calls"]
    return {"batch": batch, "clients": clients, "requests": requests,
            "requests_per_s": requests / elapsed, "rows_per_s": requests * batch / elapsed,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(requests - 1, int(0.99 * requests))],
            "rows_per_model_call": (after["rows"] - before["rows"]) / max(1, calls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package", type=Path)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    card = json.loads((args.package / "card.json").read_text())
    if "onnx" not in card.get("package", {}):
        raise SystemExit(f"{args.package} has no ONNX export: zoo export RUN --out DIR --onnx")
    shape = card["package"]["input"]["shape"]
    rows = np.random.default_rng(0).normal(size=(64 * 256, *shape)).astype(np.float32)
    scenarios = [(1, 1), (1, args.clients), (256, 1)]
    results = []
    for runtime in ("eager", "onnx"):
        process, port = start(args.package, runtime)
        try:
            for batch, clients in scenarios:
                results.append({"runtime": runtime, "batching": True,
                                **measure(port, rows, batch, clients, args.seconds)})
        finally:
            stop(process)
    process, port = start(args.package, "eager", "--max-batch", "1")
    try:
        results.append({"runtime": "eager", "batching": False,
                        **measure(port, rows, 1, args.clients, args.seconds)})
    finally:
        stop(process)
    print(f"zoo serve /v1/score, model {card['model']}, rows of shape {shape}; "
          f"{os.cpu_count()} CPUs, {platform.python_version()}, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, {args.seconds:g} s per scenario")
    print("| runtime | batch | clients | server batching | requests/s | rows/s | p50 ms | "
          "p99 ms | rows per model call |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['runtime']} | {r['batch']} | {r['clients']} | "
              f"{'yes' if r['batching'] else 'no (--max-batch 1)'} | {r['requests_per_s']:.0f} | "
              f"{r['rows_per_s']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
              f"{r['rows_per_model_call']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
