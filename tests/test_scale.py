"""Multi-node training: two torchrun "nodes" on this machine train as one process does."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# mlp on wine: 124 training rows; a global batch of 32 is 3 steps an epoch. Without dropout
# the two runs differ only in the order of floating-point sums.
TRAIN = ("train", "mlp", "--data", "wine", "--accelerator", "cpu", "--max-epochs", "3",
         "--set", "dropout=0", "--json")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow  # about 40 s; tests/test_ddp.py runs a torchrun group by default
def test_two_torchrun_nodes_equal_one_process_and_store_one_row(tmp_path: Path) -> None:
    """``torchrun --nnodes 2 --nproc-per-node 1`` twice, node ranks 0 and 1, rendezvous on
    127.0.0.1 (gloo): each "node" runs ``zoo train --num-nodes 2`` with half the global batch.
    The best validation loss equals the single process's within 0.1 % (measured: equal to
    the last digit)."""
    db = tmp_path / "runs.db"
    port = str(free_port())
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo"}
    nodes = [subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node",
         "1", "--node-rank", str(rank), "--master-addr", "127.0.0.1", "--master-port", port,
         "-m", "zoo", *TRAIN, "--devices", "1", "--num-nodes", "2", "--set", "batch_size=16",
         "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for rank in (0, 1)]
    outputs = [node.communicate(timeout=300) for node in nodes]
    for node, (_, stderr) in zip(nodes, outputs, strict=True):
        assert node.returncode == 0, stderr
    assert outputs[1][0] == ""  # rank 1 reports nothing
    two_nodes: dict[str, Any] = json.loads(outputs[0][0])
    single = json.loads(subprocess.run(
        [sys.executable, "-m", "zoo", *TRAIN, "--set", "batch_size=32", "--db", str(db)],
        capture_output=True, text=True, check=True, timeout=300).stdout)
    assert two_nodes["status"] == single["status"] == "ok"
    assert two_nodes["metrics"]["steps"] == single["metrics"]["steps"] == 9
    assert two_nodes["metrics"]["best_val_loss"] == pytest.approx(
        single["metrics"]["best_val_loss"], rel=1e-3)
    with sqlite3.connect(db) as conn:  # one row each, the two nodes' written by rank 0
        assert conn.execute("SELECT device FROM runs ORDER BY created").fetchall() == [
            ("cpu x2",), ("cpu",)]
