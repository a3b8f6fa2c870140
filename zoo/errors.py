"""Errors the CLI reports as one line, without a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ZooError(Exception):
    """A problem with the user's input or environment, reported as one line."""


class Diverged(ZooError):
    """Training produced a non-finite loss; the run is recorded as ``diverged``."""


class Pruned(ZooError):
    """A tuner stopped a trial whose epoch curve was worse than the other trials'; the run is
    recorded as ``pruned``, with the metrics it had reached.

    Args:
        message: When and why, one line (``pruned at epoch 2: val_loss 0.9 ...``).
        metrics: The scores at the epoch it was stopped, stored in its row.
    """

    def __init__(self, message: str, metrics: dict[str, float]) -> None:
        super().__init__(message)
        self.metrics = metrics


class UnknownNameError(ZooError, KeyError):
    """An unknown model, dataset, suite or plugin name."""

    def __init__(self, what: str, name: str, valid: Iterable[str]) -> None:
        self.what, self.name = what, name
        self.valid = sorted(valid)
        super().__init__(unknown_name_message(what, name, self.valid))

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def unknown_name_message(what: str, name: str, valid: Iterable[str], where: str = "") -> str:
    """``unknown model 'vea'; did you mean 'vae'? valid: ...`` in one line.

    ``where`` follows the name: ``unknown hyperparameter 'lrr' for model 'mlp'; ...``.
    """
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ";"
    shown = ", ".join(valid) if valid else "(none registered)"
    return f"unknown {what} {name!r}{where}{hint} valid: {shown}"


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (a library's may span several), or its type's name."""
    return " ".join(str(exc).split()) or type(exc).__name__


def describe(exc: BaseException) -> str:
    """One line saying what went wrong, for a result row or a broken plugin: a
    :class:`ZooError`'s message as it is; any other exception's type, then its message (a
    ``SyntaxError`` with its file and line)."""
    if isinstance(exc, ZooError):
        return one_line(exc)
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} ({exc.filename}, line {exc.lineno})"
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
