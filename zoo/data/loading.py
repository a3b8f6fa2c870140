"""One entry point for data: a registered dataset's name, or the path of the user's own file."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from pathlib import Path

from zoo.data.files import fetch_dataset, sha256
from zoo.data.types import Dataset
from zoo.data.user_files import SUFFIXES, load_user_file
from zoo.plugins import get_host
from zoo.plugins.specs import import_implementation


def is_user_file(name_or_path: str) -> bool:
    """Whether a dataset argument names a file rather than a registered dataset.

    Registry names never contain a path separator or end in ``.npz`` / ``.csv``, so any such
    string is a path (even a missing one, which then fails as "no such data file").
    """
    separators = {"/", os.sep, os.altsep} - {None}
    return (name_or_path.lower().endswith(SUFFIXES)
            or any(sep in name_or_path for sep in separators)
            or Path(name_or_path).is_file())


def load_dataset(name_or_path: str, *, data_dir: str | Path | None = None,
                 download: bool = True) -> Dataset:
    """Load a registered dataset by name, or a user's ``.npz`` / ``.csv`` file (or a folder of
    series files) by path.

    A registered dataset's files are found under ``data_dir`` (default ``ZOO_DATA_DIR`` or the
    user cache dir), verified by sha256 and downloaded when missing (unless ``download`` is
    false or ``ZOO_OFFLINE=1``), then read by the spec's loader.

    Raises:
        UnknownNameError: No registered dataset has that name (the message lists close ones).
        ZooError: A file is missing offline, fails its checksum, or cannot be read.
    """
    if is_user_file(name_or_path):
        return load_user_file(name_or_path)
    spec = get_host().dataset(name_or_path)
    files = fetch_dataset(spec, data_dir=data_dir, download=download)
    loader = import_implementation("dataset", spec.name, spec.plugin, spec.loader)
    dataset: Dataset = loader(files, **spec.options)
    dataset.name = spec.name  # one loader serves several specs; the registry name wins
    return dataset


def data_reference(name_or_path: str) -> str:
    """What a run records as its data: a registered dataset's name as it is, a user's file
    or folder as its absolute path, so that the run can be evaluated from any folder."""
    return str(Path(name_or_path).resolve()) if is_user_file(name_or_path) else name_or_path


def data_fingerprint(name_or_path: str) -> str | None:
    """The sha256 of a user's file (for a folder of series, of its ``.csv`` files' names and
    hashes), or ``None`` for a registered dataset, whose files the registry's checksums pin."""
    path = Path(name_or_path)
    if not is_user_file(name_or_path) or not path.exists():
        return None
    if path.is_file():
        return _file_sha256(path)
    listing = "".join(f"{file.name}\t{_file_sha256(file)}\n"
                      for file in sorted(path.glob("*.csv")))
    return hashlib.sha256(listing.encode()).hexdigest()


def dataset_fingerprint(name_or_path: str) -> str | None:
    """What identifies the content of a dataset, for a suite cell's key: a user's file's
    :func:`data_fingerprint`; for a registered dataset, the sha256 of its files' paths and
    registered checksums (the files it loads are verified against them), which changes when
    a plugin ships new files; ``None`` for data embedded in a package (scikit-learn's
    tables, generators), for a missing user file and for a name no plugin registers."""
    if is_user_file(name_or_path):
        return data_fingerprint(name_or_path)
    host = get_host()
    if name_or_path not in host.datasets():
        return None
    files = sorted((file.path, file.sha256) for file in host.dataset(name_or_path).files)
    if not files:
        return None
    listing = "".join(f"{path}\t{digest}\n" for path, digest in files)
    return hashlib.sha256(listing.encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    """A file's sha256, hashed once per process while its size and mtime stay the same (a
    bench's cells, its tracker and evaluate all ask for the same user file's)."""
    stat = path.stat()
    return _hashed(path.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.cache
def _hashed(path: Path, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # part of the cache key: a changed file is hashed again
    return sha256(path)


def warn_if_changed(name_or_path: str, trained_sha256: str | None) -> None:
    """Warn, in one line on stderr, when a user's data differs from what a run trained on
    (its scores then come from other rows than the ones the run held out)."""
    if trained_sha256 is None:
        return
    now = data_fingerprint(name_or_path)
    if now is not None and now != trained_sha256:
        logging.getLogger("zoo").warning(
            "warning: %s has changed since the run was trained on it (sha256 %s..., now "
            "%s...); its test split is not the one held out then", name_or_path,
            trained_sha256[:12], now[:12])
