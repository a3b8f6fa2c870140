"""The user's own data: a ``.npz`` or MATLAB ``.mat`` (arrays ``X`` and optional ``y``, as
ADBench, ODDS and PyOD ship their tables), a ``.csv`` with a header,
time series (a ``timestamp,value[,label]`` CSV or a folder of them, :mod:`zoo.data.series`) or
a ``.txt`` text (characters, for language models).

Every problem is a one-line :class:`~zoo.errors.ZooError` that names the file and, for a CSV,
the column and row, so a bad cell can be found without a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.data.csv_rows import FLOAT32_MAX, csv_reader, data_rows, float_column
from zoo.data.series import is_series_csv, load_series_files
from zoo.data.types import Arrays, DataInfo, Dataset
from zoo.errors import ZooError, one_line
from zoo.plugins.specs import TASKS

if TYPE_CHECKING:
    import numpy as np

#: Column names (any case) taken as the label column of a CSV when none is given.
LABEL_COLUMNS = ("label", "y", "target", "class", "is_anomaly")
#: Binary 0/1 labels whose share of 1s is at most this default to anomaly labels (``detect``);
#: any share serves ``detect`` when a model or suite asks for it (:func:`supported_tasks`).
MAX_ANOMALY_SHARE = 0.2
#: How to write an array file each reader takes, for the error messages.
ARRAY_FILES = {".npz": "numpy.savez(path, X=features, y=labels)",
               ".mat": "scipy.io.savemat(path, {'X': features, 'y': labels}) or MATLAB's save"}
SUFFIXES = (*ARRAY_FILES, ".csv", ".txt")


def load_user_file(path: str | Path, *, task: str | None = None,
                   label_column: str | None = None) -> Dataset:
    """Load a user's ``.npz``, ``.mat``, ``.csv`` or ``.txt`` file, or a folder of series files.

    ``.npz`` or ``.mat`` (MATLAB v5 or v7.3, :mod:`zoo.data.mat_files`): array ``X``
    (``(n, features)`` for a table, ``(n, height, width)`` or ``(n, channels, height, width)``
    for images; ``uint8`` images are scaled to [0, 1]) and optional labels ``y`` (or the
    array named by ``label_column``).
    ``.csv``: a header row, numeric feature columns, and optional labels in the column named
    by ``label_column``, else in the first column called ``label``, ``y``, ``target``,
    ``class`` or ``is_anomaly`` (any case).
    A ``.csv`` whose first column is ``timestamp`` is a series (``timestamp,value`` and an
    optional 0/1 ``label`` column, a step per row), and so is each ``.csv`` of a folder: the
    dataset is ``timeseries`` data for detection, its series in ``meta["series"]``
    (:func:`zoo.data.series.load_series_files`).
    ``.txt``: UTF-8 text as one sequence of character ids, its vocabulary its own sorted
    characters (:func:`zoo.data.loaders.characters`), for ``generate``.

    Args:
        path: The file or folder.
        task: The task the labels are for; when ``None``, ``info.task`` is inferred: 0/1
            labels with at most 20% ones -> ``detect`` (1 = anomaly); other integer or text
            labels -> ``classify``; float labels -> ``regress``; no labels -> ``detect``
            (unlabelled; the caller decides what to do with it), and ``Dataset.tasks`` lists
            the other tasks the data serves too (:func:`supported_tasks`).
        label_column: The label column (CSV) or array (npz).

    Raises:
        ZooError: A missing or unreadable file, an unsupported extension, a non-numeric, empty
            or NaN feature value (naming its column and row), no rows, or labels that do not
            fit ``task``.
    """
    path = Path(path)
    if not path.is_file() and not path.is_dir():
        raise ZooError(f"no such data file: {path}")
    if task is not None and task not in TASKS:
        raise ZooError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")
    suffix = path.suffix.lower()
    if path.is_dir() or (suffix == ".csv" and is_series_csv(path)):
        if task not in (None, "detect"):
            raise ZooError(f"{path} holds time series, data for task 'detect', not {task!r}")
        return load_series_files(path)
    if suffix == ".txt":
        return _read_text(path, task)
    if suffix in ARRAY_FILES:
        x, labels, meta = _read_arrays(path, label_column or "y",
                                       required=label_column is not None)
    elif suffix == ".csv":
        x, labels, meta = _read_csv(path, label_column)
    else:
        raise ZooError(f"unsupported data file {path}: use .npz or .mat (arrays X, y), .csv "
                       f"(a header row, numeric columns) or .txt (text)")
    modality = "tabular" if x.ndim == 2 else "image"
    tasks = (task,) if task else supported_tasks(labels)
    task = tasks[0]
    y, n_classes, label_meta = _encode_labels(path, labels, task)
    value_range = (0.0, 1.0) if modality == "image" and _within_unit_range(x) else None
    info = DataInfo(modality, tuple(x.shape[1:]), task, n_classes=n_classes,
                    target_dim=1 if task == "regress" else None, value_range=value_range)
    return Dataset(str(path), info, data=Arrays(x, y),
                   meta={**meta, **label_meta, "tasks": tasks})


def _read_text(path: Path, task: str | None) -> Dataset:
    from zoo.data.loaders import characters

    if task not in (None, "generate"):
        raise ZooError(f"{path} is text, data for task 'generate', not {task!r}")
    try:
        dataset = characters([path])
    except UnicodeDecodeError as exc:
        raise ZooError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not len(dataset.data):
        raise ZooError(f"{path} is empty; a language model needs text to train on")
    dataset.name = str(path)
    return dataset


def infer_task(labels: np.ndarray | None) -> str:
    """The task labels are most likely for (see :func:`load_user_file`)."""
    import numpy as np

    if labels is None:
        return "detect"
    if labels.dtype.kind in "biu":
        is_binary = set(np.unique(labels).tolist()) <= {0, 1}
        if is_binary and np.mean(labels == 1) <= MAX_ANOMALY_SHARE:
            return "detect"
        return "classify"
    return "regress" if labels.dtype.kind == "f" else "classify"


def supported_tasks(labels: np.ndarray | None) -> tuple[str, ...]:
    """Every task a table or images with these labels serve, the inferred one first.

    The inferred task is only the default: 0/1 labels serve ``detect`` and ``classify``
    whatever their share of ones (ADBench's yeast has 34% anomalies), and any data serves
    ``generate``, so that what a model or a suite asks for decides.
    """
    import numpy as np

    inferred = infer_task(labels)
    binary = (labels is not None and labels.dtype.kind in "biu"
              and set(np.unique(labels).tolist()) <= {0, 1})
    others = ("detect", "classify", "generate") if binary else ("generate",)
    return (inferred, *(task for task in others if task != inferred))


# -- arrays: npz and mat ---------------------------------------------------------------------

def _read_arrays(path: Path, label_array: str,
                 required: bool) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """``X`` and the labels of an ``.npz`` or ``.mat`` file, checked alike."""
    suffix = path.suffix.lower()
    if suffix == ".mat":
        from zoo.data.mat_files import read_mat

        x, labels, names = read_mat(path, "X", label_array)
    else:
        x, labels, names = _read_npz(path, label_array)
    if x is None or (required and labels is None):
        missing = "X" if x is None else label_array
        raise ZooError(f"{path} has no array {missing!r} (it has {', '.join(names) or 'none'}); "
                       f"save it with {ARRAY_FILES[suffix]}")
    x = _array_features(path, x)
    if labels is not None:
        _check_array_labels(path, labels, len(x))
        if labels.dtype.kind == "b":
            labels = labels.astype("int64")
    return x, labels, {}


def _read_npz(path: Path, label_array: str
              ) -> tuple[np.ndarray | None, np.ndarray | None, list[str]]:
    import zipfile

    import numpy as np

    if not zipfile.is_zipfile(path):  # np.load would guess at other formats, even pickles
        raise ZooError(f"{path} is not an .npz file (a zip of arrays from numpy.savez)")
    try:
        with np.load(path, allow_pickle=False) as arrays:  # never unpickle a user's file
            names = list(arrays.files)
            x = arrays["X"] if "X" in names else None
            labels = arrays[label_array] if label_array in names else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ZooError(f"{path} is not a readable .npz file ({one_line(exc)})") from None
    return x, labels, names


def _array_features(path: Path, x: np.ndarray) -> np.ndarray:
    """``X`` as float32 (n, features) or (n, channels, height, width), checked."""
    import numpy as np

    if x.dtype.kind not in "biuf":
        raise ZooError(f"{path}: X holds {x.dtype} values, expected numbers")
    if x.ndim not in (2, 3, 4):
        raise ZooError(f"{path}: X has shape {x.shape}; expected (samples, features) for a "
                       f"table or (samples, [channels,] height, width) for images")
    if 0 in x.shape:
        raise ZooError(f"{path}: X has shape {x.shape}, so no " +
                       ("rows" if len(x) == 0 else "features"))
    # Features are float32, so a finite float64 beyond its range would become inf.
    bad = np.argwhere(~(np.abs(x) <= FLOAT32_MAX)) if x.dtype.kind == "f" else ()
    if len(bad):
        index = tuple(int(i) for i in bad[0])
        advice = ("fill or drop missing values" if not np.isfinite(x[index]) else
                  "beyond float32's range (+-3.4e38); rescale X")
        raise ZooError(f"{path}: X{list(index)} is {x[index]}; {advice}")
    scale = 255.0 if x.dtype == np.uint8 else 1.0  # 8-bit images -> [0, 1]
    x = x.astype(np.float32) / np.float32(scale)
    return x[:, None] if x.ndim == 3 else x


def _check_array_labels(path: Path, labels: np.ndarray, n: int) -> None:
    import numpy as np

    if labels.shape != (n,):
        raise ZooError(f"{path}: labels have shape {labels.shape}, expected ({n},) to match X")
    if labels.dtype.kind not in "biufU":
        raise ZooError(f"{path}: labels hold {labels.dtype} values, expected numbers or text")
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        row = int(np.flatnonzero(~np.isfinite(labels))[0])
        raise ZooError(f"{path}: label {row} is {labels[row]}; every sample needs a label")


# -- csv --------------------------------------------------------------------------------------

def _read_csv(path: Path, label_column: str | None
              ) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    with csv_reader(path) as reader:  # its rows are read by data_rows, inside the with
        header = [name.strip() for name in next(reader, [])]
        if not any(header):
            raise ZooError(f"{path} is empty; expected a header row of column names")
        label_index = _label_index(path, header, label_column)
        rows, lines = data_rows(path, reader, len(header))
    features = [j for j in range(len(header)) if j != label_index]
    if not features:
        raise ZooError(f"{path} has no feature columns besides the label {header[label_index]!r}")
    x = _csv_features(path, header, features, rows, lines)
    meta: dict[str, Any] = {"feature_names": [header[j] for j in features]}
    if label_index is None:
        return x, None, meta
    meta["label_column"] = header[label_index]
    return x, _csv_labels(path, header[label_index], label_index, rows, lines), meta


def _label_index(path: Path, header: list[str], label_column: str | None) -> int | None:
    lowered = [name.lower() for name in header]
    if label_column is not None:
        if label_column.lower() not in lowered:
            raise ZooError(f"{path} has no column {label_column!r}; columns: {', '.join(header)}")
        return lowered.index(label_column.lower())
    return next((lowered.index(name) for name in LABEL_COLUMNS if name in lowered), None)


def _csv_features(path: Path, header: list[str], columns: list[int], rows: list[list[str]],
                  lines: list[int]) -> np.ndarray:
    import numpy as np

    def where(column: int) -> Callable[[int], str]:
        return lambda row: f"{path}, column {header[column]!r}, row {row + 1} (line {lines[row]})"

    return np.column_stack([float_column([row[j] for row in rows], where(j)) for j in columns])


def _csv_labels(path: Path, name: str, index: int, rows: list[list[str]],
                lines: list[int]) -> np.ndarray:
    """The label column as int64 (all integers), float64 (all numbers) or text."""
    import numpy as np

    cells = [row[index].strip() for row in rows]
    for number, (cell, line) in enumerate(zip(cells, lines, strict=True), start=1):
        if not cell or cell.lower() in {"nan", "na", "null", "none"}:
            raise ZooError(f"{path}, column {name!r}, row {number} (line {line}): missing "
                           f"label; every row needs one")
    for parse, dtype in ((int, np.int64), (float, np.float64)):
        try:
            return np.array([parse(c) for c in cells], dtype=dtype)
        except ValueError:
            continue
    return np.array(cells)


# -- labels -----------------------------------------------------------------------------------

def _encode_labels(path: Path, labels: np.ndarray | None, task: str
                   ) -> tuple[np.ndarray | None, int | None, dict[str, Any]]:
    """Labels as the task needs them: ``(y, n_classes, meta)``.

    Class labels (``classify``, and integer or text labels for ``generate``) become
    0..K-1 with the original values in ``meta["class_names"]``; ``detect`` labels must be 0/1;
    ``regress`` targets become float32.
    """
    import numpy as np

    if labels is None:
        if task in ("classify", "regress"):
            raise ZooError(f"{path} has no labels for task {task!r}: add a column named "
                           f"{', '.join(LABEL_COLUMNS)} or name it with label_column")
        return None, None, {}
    numeric = labels.dtype.kind in "biuf"
    integral = numeric and bool(np.all(labels == np.round(labels)))
    if task == "detect":
        if not integral or not set(np.unique(labels).tolist()) <= {0, 1}:
            raise ZooError(f"{path}: detect labels must be 0 (normal) or 1 (anomaly); got "
                           f"{_some_values(labels)}")
        return labels.astype(np.int64), None, {}
    if task == "regress" or (task == "generate" and not integral and numeric):
        if not numeric:
            raise ZooError(f"{path}: regress targets must be numbers; got "
                           f"{_some_values(labels)}")
        return labels.astype(np.float32), None, {}
    if numeric and not integral:
        raise ZooError(f"{path}: classify labels must be integers or text; got "
                       f"{_some_values(labels)} (use task 'regress' for numeric targets)")
    classes, y = np.unique(labels, return_inverse=True)
    names = [str(c) for c in classes.tolist()]
    n_classes = len(classes) if task == "classify" else None
    return y.astype(np.int64), n_classes, {"class_names": names}


def _some_values(labels: np.ndarray) -> str:
    import numpy as np

    values = np.unique(labels)
    shown = ", ".join(str(v) for v in values[:5].tolist())
    return f"{shown}, ..." if len(values) > 5 else shown


def _within_unit_range(x: np.ndarray) -> bool:
    return bool(x.min() >= 0.0 and x.max() <= 1.0)
