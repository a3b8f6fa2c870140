"""CSV files with a header, their rows and their number cells, read the same way by every CSV
loader (tables and series)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError

if TYPE_CHECKING:
    import numpy as np


#: The largest magnitude a float32 holds; features are float32, so a larger value would be inf.
FLOAT32_MAX = 3.4028234663852886e38


@contextmanager
def csv_reader(path: Path) -> Iterator[Any]:
    """A ``csv.reader`` over a UTF-8 file (a spreadsheet's byte-order mark dropped).

    Raises:
        ZooError: The file is not UTF-8 text, raised wherever the reading stops on it.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            yield csv.reader(f)
    except UnicodeDecodeError as exc:
        raise ZooError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save "
                       f"it as a UTF-8 CSV") from None


def data_rows(path: Path, reader: Any, n_columns: int) -> tuple[list[list[str]], list[int]]:
    """The rows after the header (blank lines skipped) and the file line of each.

    Args:
        path: The file, for the error messages.
        reader: A ``csv.reader`` positioned after the header.
        n_columns: Cells per row: the header's.

    Raises:
        ZooError: A row whose number of cells differs from the header's, or no rows.
    """
    rows, lines = [], []
    for row in reader:
        if not row:  # blank line
            continue
        if len(row) != n_columns:
            raise ZooError(f"{path}, row {len(rows) + 1} (line {reader.line_num}): "
                           f"{len(row)} cells, but the header has {n_columns} columns")
        rows.append(row)
        lines.append(reader.line_num)
    if not rows:
        raise ZooError(f"{path} has a header but no data rows")
    return rows, lines


def float_column(cells: Sequence[str], where: Callable[[int], str]) -> np.ndarray:
    """A column of cells as float32, every value finite.

    Args:
        cells: The column's cells, a row each.
        where: The place of the cell of a row index in an error message (file, column, row).

    Raises:
        ZooError: The first cell that is empty, not a number, NaN, infinite or beyond
            float32's range, placed by ``where``.
    """
    import numpy as np

    try:  # numpy parses the whole column at once; the cell-by-cell pass names a bad cell
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        values = None
    if values is None or not (np.abs(values) <= FLOAT32_MAX).all():  # False for NaN too
        for row, cell in enumerate(cells):
            _check_number(cell, where(row))
    return values.astype(np.float32)


def _check_number(cell: str, where: str) -> None:
    import math

    text = cell.strip()
    try:
        value = float(text)
    except ValueError:
        problem = f"value {text!r} is not a number" if text else "empty value"
        raise ZooError(f"{where}: {problem}; fill the cell with a number or drop the row"
                       ) from None
    if not math.isfinite(value):
        raise ZooError(f"{where}: value {text!r} is missing or infinite; fill the cell or drop "
                       f"the row")
    if abs(value) > FLOAT32_MAX:
        raise ZooError(f"{where}: value {text!r} is beyond float32's range (+-3.4e38); "
                       f"rescale the column")
