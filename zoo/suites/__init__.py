"""Benchmark suites: datasets x protocol (splits, seeds, budget) x metrics -> result rows.

Owns: the `Suite` base, the runner of a suite's cells, and one module per suite, each owning
its protocol. May import: zoo.errors, zoo.plugins, zoo.data, zoo.training, zoo.models,
zoo.evaluation, zoo.runs (a test checks it; imports run downward only).
"""

from __future__ import annotations

from zoo.suites.base import Budget, Cell, Suite
from zoo.suites.runner import run_suite

__all__ = ["Budget", "Cell", "Suite", "run_suite"]
