"""Benchmark suites: datasets x protocol (splits, seeds, budget) x metrics -> result rows."""

from __future__ import annotations

from zoo.suites.base import Budget, Cell, Suite
from zoo.suites.runner import run_suite

__all__ = ["Budget", "Cell", "Suite", "run_suite"]
