"""Dataset files: where they live, checking them, and fetching them from their source.

Every file is looked up under the data directory (``ZOO_DATA_DIR``, else the user cache dir).
A file that is there is used only if its sha256 matches; a file that is missing is downloaded
from its canonical URL beside its final place and renamed into place only once its checksum
is right, so an interrupted or corrupted download never leaves a file that looks valid.
``ZOO_OFFLINE=1`` (or ``download=False``) turns a missing file into an error that says where
to put it.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.errors import ZooError
from zoo.specs import DataFile, DatasetSpec

if TYPE_CHECKING:
    import http.client

DATA_DIR_ENV = "ZOO_DATA_DIR"
OFFLINE_ENV = "ZOO_OFFLINE"
_CHUNK_BYTES = 1 << 20
_TIMEOUT_S = 60
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


def _check_checksum(file: DataFile, what: str, actual: str, advice: str) -> None:
    if actual != file.sha256:
        raise ZooError(f"dataset file {what} has the wrong checksum: expected sha256 "
                       f"{file.sha256}, got {actual}; {advice}")


def _missing_message(file: DataFile, target: Path, reason: str) -> str:
    size = f", {file.size:,} bytes" if file.size else ""
    return (f"dataset file {file.path} (sha256 {file.sha256}{size}) is missing and {reason}; "
            f"download it from {file.url} and put it at {target}")


def _download(file: DataFile, target: Path) -> None:
    """Download ``file`` to a temporary file beside ``target``, verify it, then rename it."""
    import http.client

    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    try:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            actual = _stream(file, partial)
        except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts are OSErrors
            reason = f"could not be downloaded ({' '.join(str(exc).split()) or type(exc).__name__})"
            raise ZooError(_missing_message(file, target, reason)) from None
        _check_checksum(file, f"{file.path} downloaded from {file.url}", actual,
                        "the download was discarded")
        os.replace(partial, target)  # atomic: readers see no file or the whole verified file
    finally:
        partial.unlink(missing_ok=True)  # a failed or bad download is never left to be used


def _stream(file: DataFile, partial: Path) -> str:
    """Write the body at ``file.url`` into ``partial`` with a progress bar; return its sha256."""
    import urllib.request

    from tqdm import tqdm

    request = urllib.request.Request(file.url, headers={"User-Agent": _USER_AGENT})
    digest = hashlib.sha256()
    with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response, \
            open(partial, "wb") as out, \
            tqdm(total=file.size or _content_length(response), unit="B", unit_scale=True,
                 unit_divisor=1024, desc=file.path, file=sys.stderr, leave=False) as bar:
        while chunk := response.read(_CHUNK_BYTES):
            out.write(chunk)
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def _content_length(response: http.client.HTTPResponse) -> int | None:
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None
