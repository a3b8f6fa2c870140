"""Progress on stderr for long work: the steps of a training run, the cells of a suite.

Bars are drawn only where someone watches them: when stderr is a terminal and ``--quiet`` was
not given. Logs and pipes get no bar (``zoo bench`` prints one line per cell there), and the
``--json`` output on stdout never mixes with either. Under DDP only rank 0 draws.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tqdm import tqdm

REFRESH_SECONDS = 1.0  # the elapsed time keeps moving while a long cell runs


def wanted(quiet: bool) -> bool:
    """Whether to draw bars: stderr is a terminal and the user did not ask for quiet."""
    return not quiet and sys.stderr.isatty()


def bar(total: float | None, *, unit: str, bar_format: str | None = None) -> tqdm:
    """A bar on stderr in the zoo's one style; it stays on screen when closed."""
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True,
                bar_format=bar_format)


def format_seconds(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``: short enough for the end of a bar."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class SuiteProgress:
    """A suite's progress: cells done out of planned, the elapsed time and the time left.

    The estimate is the mean time of the cells that ran here times the cells left; cells
    found already stored take no time and are left out of the mean. Lines about finished
    cells go above the bar, or alone on stderr when no bar is drawn.

    Args:
        draw: Draw the bar (see :func:`wanted`); ``False`` only echoes lines.
    """

    def __init__(self, draw: bool) -> None:
        self.draw = draw
        self._bar: tqdm | None = None
        self._ran = 0
        self._ran_seconds = 0.0
        self._since = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the ticking thread never refreshes a closed bar

    def __enter__(self) -> SuiteProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def plan(self, total: int) -> None:
        """Start the bar over ``total`` cells."""
        if not self.draw:
            return
        self._bar = bar(total, unit="cell", bar_format="{desc}{percentage:3.0f}%|{bar}| "
                                                       "{n_fmt}/{total_fmt} cells "
                                                       "[{elapsed}{postfix}]")
        self._bar.set_postfix_str("estimating the time left", refresh=True)
        threading.Thread(target=self._tick, daemon=True).start()

    def advance(self, *, ran: bool) -> None:
        """One cell is done; ``ran``: it ran here (``False``: it was already stored)."""
        now = time.monotonic()
        if ran:
            self._ran += 1
            self._ran_seconds += now - self._since
        self._since = now
        if self._bar is None:
            return
        self._bar.update(1)
        left = self._bar.total - self._bar.n
        if left and self._ran:
            estimate = format_seconds(self._ran_seconds / self._ran * left)
            self._bar.set_postfix_str(f"~{estimate} left")
        elif not left:
            self._bar.set_postfix_str("done")

    def echo(self, line: str) -> None:
        """``line`` on stderr, above the bar when one is drawn."""
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def _tick(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            with self._lock:
                if self._bar is not None:
                    self._bar.refresh()


class StepBar:
    """A training run's bar: steps of all epochs, the epoch, the current losses.

    Fed by the Lightning callback :class:`zoo.training.callbacks.TrainingProgress`, kept here so
    that every bar of the zoo is drawn in one place.

    Args:
        total: Steps planned (``None`` when only a time limit bounds the run).
        epochs: Epochs planned (``None``: unbounded).
    """

    LOSS_EVERY_SECONDS = 0.5  # reading the loss synchronises a GPU: not on every step

    def __init__(self, total: float | None, epochs: int | None) -> None:
        self.epochs = epochs
        self._bar = bar(total, unit="step")
        self._shown: dict[str, float] = {}
        self._loss_read = 0.0

    def epoch(self, index: int) -> None:
        """Epoch ``index`` (from 0) starts."""
        planned = f"/{self.epochs}" if self.epochs else ""
        self._bar.set_description_str(f"epoch {index + 1}{planned}", refresh=False)

    def step(self, loss: Any = None, batches: int = 1) -> None:
        """``batches`` steps are done; the last one's ``loss`` (a number or a scalar tensor)
        is shown now and then."""
        self._bar.update(batches)
        now = time.monotonic()
        if loss is not None and now - self._loss_read >= self.LOSS_EVERY_SECONDS:
            self._loss_read = now
            self.show(loss=loss)

    def show(self, **values: Any) -> None:
        """Show these numbers (``loss=``, ``val_loss=``) beside the bar; ``None`` keeps the
        last one."""
        self._shown.update({k: float(v) for k, v in values.items() if v is not None})
        self._bar.set_postfix_str(" ".join(f"{k}={v:.4g}" for k, v in self._shown.items()),
                                  refresh=False)

    def close(self) -> None:
        self._bar.close()
