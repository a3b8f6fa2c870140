"""Datasets: registered names or the user's own files, loaded to numpy arrays.

Files resolve under ``ZOO_DATA_DIR`` and are verified by sha256; a missing file is downloaded
from its canonical URL, or, offline, reported with its checksum and where to put it.

Owns: registered and user datasets, files and downloads, splits, preprocessing. May import:
zoo.errors, zoo.plugins (a test checks it; imports run downward only).
"""

from __future__ import annotations

from zoo.data.loading import load_dataset
from zoo.data.splits import make_splits, standardize
from zoo.data.types import Arrays, DataInfo, Dataset, Splits

__all__ = ["Arrays", "DataInfo", "Dataset", "Splits", "load_dataset", "make_splits",
           "standardize"]
