"""MATLAB ``.mat`` tables, as ODDS and PyOD ship their anomaly datasets: a matrix ``X`` (a
row per sample) and a column ``y`` (1 = anomaly).

Both flavours MATLAB writes are read: v4-v7 files through :func:`scipy.io.loadmat`, v7.3 files
(HDF5 with a 512-byte MATLAB header, ``save -v7.3``, which ODDS uses for its largest tables)
through h5py. MATLAB is column-major, so a v7.3 file holds every matrix transposed; the
arrays returned here are in numpy's order, with MATLAB's column vectors of doubles
(``y`` as ``(n, 1)`` float64) made flat and, when every value is whole, integer.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.errors import ZooError, one_line

if TYPE_CHECKING:
    import numpy as np


def read_mat(path: Path, features: str, labels: str
             ) -> tuple[np.ndarray | None, np.ndarray | None, list[str]]:
    """The feature matrix and the label vector of a ``.mat`` file (``None`` where it lacks
    them), and the names of all its variables.

    Raises:
        ZooError: The file is no MATLAB file, or a wanted variable is not a numeric matrix
            (a struct, cell array or v7.3 sparse matrix).
    """
    import h5py

    read = _read_hdf5 if h5py.is_hdf5(path) else _read_v5
    found, names = read(path, (features, labels))
    y = found.get(labels)
    return found.get(features), None if y is None else _flat_labels(y), names


def _read_v5(path: Path, wanted: Iterable[str]) -> tuple[dict[str, np.ndarray], list[str]]:
    import scipy.io
    import scipy.sparse

    try:
        variables = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises any of a dozen errors on a damaged file
        raise ZooError(f"{path} is not a readable MATLAB .mat file ({one_line(exc)})") from None
    names = [name for name in variables if not name.startswith("__")]  # __header__ ...
    found = {}
    for name in wanted:
        if name in names:
            value = variables[name]
            found[name] = value.toarray() if scipy.sparse.issparse(value) else value
    return found, names


def _read_hdf5(path: Path, wanted: Iterable[str]) -> tuple[dict[str, np.ndarray], list[str]]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            names = [name for name in f if not name.startswith("#")]  # '#refs#' of cells
            found = {}
            for name in wanted:
                if name in names:
                    found[name] = _hdf5_matrix(path, name, f[name])
    except OSError as exc:
        raise ZooError(f"{path} is not a readable MATLAB v7.3 file ({one_line(exc)})") from None
    return found, names


def _hdf5_matrix(path: Path, name: str, node: object) -> np.ndarray:
    import h5py

    if not isinstance(node, h5py.Dataset) or node.dtype.kind not in "biuf":
        kind = node.attrs.get("MATLAB_class", b"")
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        what = f"a MATLAB {kind} value" if kind else "an HDF5 group"
        raise ZooError(f"{path}: {name} is {what}, not a numeric matrix; save it with "
                       f"full(double({name})) first")
    return node[()].T  # MATLAB writes column-major: its (n, features) is stored (features, n)


def _flat_labels(array: np.ndarray) -> np.ndarray:
    """A MATLAB vector (``(n, 1)`` or ``(1, n)``) as a flat array; whole doubles as int64."""
    import numpy as np

    if array.ndim == 2 and 1 in array.shape and array.shape != (1, 1):
        array = array.ravel()
    if array.ndim == 1 and array.dtype.kind == "f" and np.isfinite(array).all() \
            and np.array_equal(array, np.round(array)):
        array = array.astype(np.int64)
    return array
