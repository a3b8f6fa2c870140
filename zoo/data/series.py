"""Time series in ``timestamp,value[,label]`` CSV files (NAB's format), read as checked steps.

Rows are steps in file order, as NAB's own detectors read them; timestamps place the anomaly
windows and check the order. Every problem is a one-line :class:`~zoo.errors.ZooError`
naming the file and the row:

- a value that is empty, not a number, NaN or infinite (fill or drop it first);
- a timestamp that is not a date-time (ISO 8601, such as NAB's ``2014-07-01 00:00:00``);
- a timestamp more than an hour before an earlier row's: the rows are out of time order.
  A clock set back by at most an hour is accepted, because NAB has it: daylight saving time
  ending repeats the timestamps of an hour (six NAB series repeat timestamps, and
  ``realKnownCause/machine_temperature_system_failure.csv`` repeats 02:00-02:55 on
  2014-01-07 after 02:55). Sorting such a file would interleave two hours of readings, so
  file order is kept;
- a label that is not 0 (normal) or 1 (anomaly).

numpy is imported inside the functions, as everywhere in ``zoo.data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.data.csv_rows import csv_reader, data_rows, float_column
from zoo.data.types import Arrays, DataInfo, Dataset
from zoo.errors import ZooError

if TYPE_CHECKING:
    import numpy as np

TIME_COLUMN = "timestamp"
VALUE_COLUMN = "value"
#: Names (any case) of the optional third column holding 0/1 anomaly labels per step.
LABEL_COLUMNS = ("label", "is_anomaly", "anomaly")
#: How far a timestamp may fall behind an earlier row's: a clock set back at the end of
#: daylight saving time.
CLOCK_SET_BACK_SECONDS = 3600


@dataclass
class Series:
    """One series: a step per row, in file order.

    Args:
        timestamps: ``datetime64[s]`` per step.
        values: float32 per step, all finite.
        labels: int64 0/1 per step (1 = anomaly), or ``None`` when the file has none.
    """

    timestamps: np.ndarray
    values: np.ndarray
    labels: np.ndarray | None = None


def is_series_csv(path: Path) -> bool:
    """Whether ``path`` is a CSV whose header starts with a ``timestamp`` column."""
    with csv_reader(path) as reader:
        header = next(reader, [])
    return bool(header) and header[0].strip().lower() == TIME_COLUMN


def read_series_csv(path: Path) -> Series:
    """Read a ``timestamp,value[,label]`` file (see the module docstring for the checks).

    Raises:
        ZooError: A bad header, a bad value, timestamp or label (naming its row), rows out
            of time order, or no rows.
    """
    with csv_reader(path) as reader:
        header = [name.strip().lower() for name in next(reader, [])]
        has_labels = _check_header(path, header)
        rows, lines = data_rows(path, reader, len(header))
    timestamps = _timestamps(path, [row[0] for row in rows], lines)
    _check_time_order(path, timestamps, lines)
    values = _values(path, [row[1] for row in rows], lines)
    labels = _labels(path, [row[2] for row in rows], lines) if has_labels else None
    return Series(timestamps, values, labels)


def _check_header(path: Path, header: list[str]) -> bool:
    """Whether the header has a label column; a ZooError unless it is a series header."""
    valid = header[:2] == [TIME_COLUMN, VALUE_COLUMN] and (
        len(header) == 2 or (len(header) == 3 and header[2] in LABEL_COLUMNS))
    if not valid:
        raise ZooError(f"{path}: header {','.join(header) or '(empty)'!r} is not a series "
                       f"header; expected 'timestamp,value' or 'timestamp,value,label'")
    return len(header) == 3


def _where(path: Path, row: int, lines: list[int]) -> str:
    return f"{path}, row {row + 1} (line {lines[row]})"


def _timestamps(path: Path, cells: list[str], lines: list[int]) -> np.ndarray:
    import numpy as np

    try:  # numpy parses the whole column at once; the cell-by-cell pass names a bad cell
        timestamps = np.array(cells, dtype="datetime64[s]")
    except ValueError:
        timestamps = None
    if timestamps is None or np.isnat(timestamps).any():  # numpy reads "" and "NaT" as NaT
        for row, cell in enumerate(cells):
            _check_timestamp(cell, _where(path, row, lines))
    return timestamps


def _check_timestamp(cell: str, where: str) -> None:
    import numpy as np

    text = cell.strip()
    try:
        missing = np.isnat(np.datetime64(text, "s"))
    except ValueError:
        missing = True
    if missing:
        raise ZooError(f"{where}: timestamp {text!r} is not a date-time such as "
                       f"2014-07-01 00:00:00")


def _check_time_order(path: Path, timestamps: np.ndarray, lines: list[int]) -> None:
    import numpy as np

    latest = np.maximum.accumulate(timestamps)
    behind = (latest - timestamps).astype("timedelta64[s]").astype(np.int64)
    late = np.flatnonzero(behind > CLOCK_SET_BACK_SECONDS)
    if len(late):
        row = int(late[0])
        raise ZooError(f"{_where(path, row, lines)}: timestamp {timestamps[row]} is before "
                       f"an earlier row's {latest[row]}; rows are steps in file order, so sort "
                       f"the file by time (a clock set back by at most an hour is accepted)")


def _values(path: Path, cells: list[str], lines: list[int]) -> np.ndarray:
    return float_column(cells, lambda row: _where(path, row, lines))


def _labels(path: Path, cells: list[str], lines: list[int]) -> np.ndarray:
    import numpy as np

    for row, cell in enumerate(cells):
        if cell.strip() not in ("0", "1"):
            raise ZooError(f"{_where(path, row, lines)}: label {cell.strip()!r} is not 0 "
                           f"(normal) or 1 (anomaly)")
    return np.array([int(cell) for cell in cells], dtype=np.int64)


def window_labels(timestamps: np.ndarray, windows: list[list[str]]) -> np.ndarray:
    """1 at every step inside one of the anomaly windows (``[start, end]``, inclusive), else 0."""
    import numpy as np

    labels = np.zeros(len(timestamps), dtype=np.int64)
    for start, end in windows:
        labels[(timestamps >= np.datetime64(start)) & (timestamps <= np.datetime64(end))] = 1
    return labels


def series_dataset(name: str, series: dict[str, dict[str, Any]]) -> Dataset:
    """A dataset of named series (each a dict of ``timestamps``, ``values``, ``labels`` and
    ``category``), as ``meta["series"]``; ``data`` is every step of every series concatenated,
    one row (one channel) per step, labelled when every series is."""
    import numpy as np

    x = np.concatenate([s["values"] for s in series.values()])[:, None]
    labelled = all(s["labels"] is not None for s in series.values())
    y = np.concatenate([s["labels"] for s in series.values()]) if labelled else None
    return Dataset(name, DataInfo("timeseries", (1,), "detect"), data=Arrays(x, y),
                   meta={"series": series})


def load_series_files(path: Path) -> Dataset:
    """A user's series: one ``timestamp,value[,label]`` file, or a folder of them (every
    ``*.csv`` directly in it, by name). Series are keyed by file name and have no category.

    Raises:
        ZooError: A folder without ``.csv`` files, or any problem of :func:`read_series_csv`.
    """
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if not files:
        raise ZooError(f"folder {path} has no .csv series files (timestamp,value[,label])")
    series = {}
    for file in files:
        read = read_series_csv(file)
        series[file.name] = {"timestamps": read.timestamps, "values": read.values,
                             "labels": read.labels, "category": None}
    return series_dataset(str(path), series)
