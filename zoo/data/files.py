"""Dataset files: where they live, checking them, and fetching them from their source.

Every file is looked up under the data directory (``ZOO_DATA_DIR``, else the user cache dir).
A file that is there is used only if its sha256 matches; a file that is missing is downloaded
by pooch (the downloader of SciPy's and scikit-image's datasets) from its canonical URL beside
its final place and moved into place only once its checksum is right, so an interrupted or
corrupted download never leaves a file that looks valid.
``ZOO_OFFLINE=1`` (or ``download=False``) turns a missing file into an error that says where
to put it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from pathlib import Path

from zoo.errors import ZooError, one_line
from zoo.plugins.specs import DataFile, DatasetSpec

DATA_DIR_ENV = "ZOO_DATA_DIR"
OFFLINE_ENV = "ZOO_OFFLINE"
_CHUNK_BYTES = 1 << 20
_TIMEOUT_S = 60
_RETRIES = 2  # pooch waits 1 s, then 2 s, between tries
_USER_AGENT = "zoo-data-fetch/0.1"  # some hosts refuse urllib's default agent


def data_dir() -> Path:
    """The directory dataset files are read from and downloaded to.

    ``ZOO_DATA_DIR`` when set, else ``<user cache dir>/zoo/data`` (``~/.cache/zoo/data`` on
    Linux).
    """
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("zoo")) / "data"


def _root(directory: str | Path | None) -> Path:
    return data_dir() if directory is None else Path(directory).expanduser()


def sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks so large files need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def offline() -> bool:
    """Whether ``ZOO_OFFLINE`` forbids downloading."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def present(spec: DatasetSpec, data_dir: str | Path | None = None) -> bool:
    """Whether every file of a dataset is in the data directory.

    Only checks that the files exist (hashing them all would make ``zoo datasets`` slow);
    :func:`fetch` verifies each one when it is loaded.
    """
    root = _root(data_dir)
    return all((root / file.path).is_file() for file in spec.files)


def fetch(file: DataFile, *, data_dir: str | Path | None = None,
          download: bool = True) -> Path:
    """The verified local path of a dataset file, downloading it when it is missing.

    Args:
        file: The file to resolve.
        data_dir: Directory to look in and download to; default :func:`data_dir`.
        download: Whether a missing file may be downloaded (``ZOO_OFFLINE=1`` also forbids it).

    Raises:
        ZooError: The file's checksum is wrong, or it is missing and cannot be downloaded;
            the message names the file, its sha256, its URL and where to put it.
    """
    target = _root(data_dir) / file.path
    if target.is_file():
        _check_checksum(file, f"{file.path} at {target}", sha256(target),
                        f"delete it to download it again from {file.url}")
        return target
    if not download or offline():
        reason = f"{OFFLINE_ENV}=1 forbids downloading" if offline() else "downloading is off"
        raise ZooError(_missing_message(file, target, reason))
    _download(file, target)
    return target


def fetch_dataset(spec: DatasetSpec, *, data_dir: str | Path | None = None,
                  download: bool = True) -> list[Path]:
    """The verified local paths of every file of a dataset (:func:`fetch` on each in turn).

    Raises:
        ZooError: As :func:`fetch`, for the first file that is corrupt or cannot be had.
    """
    return [fetch(file, data_dir=data_dir, download=download) for file in spec.files]


def _check_checksum(file: DataFile, what: str, actual: str, advice: str) -> None:
    if actual != file.sha256:
        raise ZooError(f"dataset file {what} has the wrong checksum: expected sha256 "
                       f"{file.sha256}, got {actual}; {advice}")


def _missing_message(file: DataFile, target: Path, reason: str) -> str:
    size = f", {file.size:,} bytes" if file.size else ""
    return (f"dataset file {file.path} (sha256 {file.sha256}{size}) is missing and {reason}; "
            f"download it from {file.url} and put it at {target}")


def _download(file: DataFile, target: Path) -> None:
    """Download ``file`` with pooch, which writes a temporary file beside ``target``, checks
    its sha256 and only then moves it into place (retrying a failed or corrupted transfer)."""
    import pooch
    import requests
    from tqdm import tqdm

    fetcher = pooch.create(path=target.parent, base_url="", retry_if_failed=_RETRIES,
                           registry={target.name: f"sha256:{file.sha256}"},
                           urls={target.name: file.url})
    bar = tqdm(total=file.size, unit="B", unit_scale=True, unit_divisor=1024, desc=file.path,
               file=sys.stderr, leave=False)
    downloader = pooch.HTTPDownloader(progressbar=bar, timeout=_TIMEOUT_S,
                                      headers={"User-Agent": _USER_AGENT})
    logger = pooch.get_logger()
    level = logger.level
    # pooch logs each try at INFO; the bar shows progress and a failure is our one line
    logger.setLevel(logging.WARNING)
    try:
        fetcher.fetch(target.name, downloader=downloader)
    except ValueError as exc:  # pooch's checksum mismatch; it has removed the download
        raise ZooError(f"dataset file {file.path} downloaded from {file.url} has the wrong "
                       f"checksum ({one_line(exc)}); the download was discarded") from None
    except (OSError, requests.RequestException) as exc:
        reason = f"could not be downloaded ({one_line(exc)})"
        raise ZooError(_missing_message(file, target, reason)) from None
    finally:
        bar.close()
        logger.setLevel(level)
