"""The data rows of a CSV file with a header, read the same way by every CSV loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.errors import ZooError


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
