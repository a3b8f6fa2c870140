"""Training throughput of zoo's ``mlp`` beside a hand-written PyTorch loop on the same network.

Both loops train the same ``zoo_mlp.torch_model.MLP`` (identical initial weights), on the same
in-memory data, in the same order (one ``randperm`` per epoch seeded with ``seed + epoch``,
index-slice batches, the last partial batch dropped), with Adam (lr 1e-3), the same batch size
and number of epochs, in one process with a fixed number of torch threads. Each epoch ends
with a validation pass (loss and accuracy, batches of ``max(batch, 1024)`` like zoo's) and the
best-validation parameters are kept, as zoo's ``BestWeights`` does. The hand loop also keeps the
epoch's mean training loss and accuracy (plain tensor sums) and checks the loss is finite once
per epoch.

Reported per batch size: training steps per second over the whole ``fit`` call (median of
``--repeats`` interleaved repetitions), the ratio zoo / hand (of the medians, paired per
repetition, best-of, and per CPU second) and the extra milliseconds per step; the time before
the first training batch is printed apart. Beside zoo as it is, the same run with one change
monkeypatched in at a time (``--variants``: no core file is edited) quantifies concrete fixes,
and a bare LightningModule through the same Trainer (``--floor``) shows what Lightning's loop
alone costs. Last, a profile of zoo runs and one hand run (``--profiler``) with self time per
layer (torch kernels, torch Python, Lightning, torchmetrics, zoo, stdlib) and the cumulative
time of the known overhead points (``self.log``, torchmetrics forward, hooks, optimizer-step
wrappers ...), and (``--breakdown``) the same zoo runs timed by plain wall-clock wrappers around
zoo's hooks and Lightning's pieces, free of profiler inflation.

Run ``python benchmarks/perf/train_throughput.py --help`` for the size flags; for a GPU:
``--accelerator gpu --samples 200000 --batch-sizes 512 4096 --hidden 1024 1024``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import logging
import math
import os
import platform
import pstats
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

import zoo
from zoo.data.types import Arrays, DataInfo, Splits
from zoo.training import TrainConfig

# -- data ------------------------------------------------------------------------------------


def make_splits(args: argparse.Namespace) -> Splits:
    """Synthetic classification table (a random teacher network labels Gaussian features) or
    scikit-learn's digits; standardised features; a fixed validation tail."""
    rng = np.random.default_rng(args.seed)
    if args.data == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = digits.data.astype(np.float32)
        y = digits.target.astype(np.int64)
        order = rng.permutation(len(x))
        x, y = x[order], y[order]
    else:
        x = rng.standard_normal((args.samples, args.features), dtype=np.float32)
        w1 = rng.standard_normal((args.features, 32), dtype=np.float32)
        w2 = rng.standard_normal((32, args.classes), dtype=np.float32)
        y = (np.tanh(x @ w1) @ w2).argmax(1).astype(np.int64)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    n_val = max(1, int(len(x) * args.val_fraction))
    info = DataInfo("tabular", (x.shape[1],), "classify", n_classes=int(y.max()) + 1)
    train = Arrays(np.ascontiguousarray(x[:-n_val]), y[:-n_val])
    val = Arrays(np.ascontiguousarray(x[-n_val:]), y[-n_val:])
    return Splits(train, val, val, info)


def initial_state(info: DataInfo, hidden: tuple[int, ...], seed: int) -> dict[str, torch.Tensor]:
    """The one set of initial weights both loops start from, after checking that the hand
    loop's ``MLP`` is the very architecture zoo builds for ``mlp``."""
    from zoo_mlp.torch_model import MLP

    torch.manual_seed(seed)
    net = MLP(info.n_features, info.n_classes or 1, hidden, dropout=0.0)
    zoo_net = zoo.create_model("mlp", info, hidden=hidden, dropout=0.0).network
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    if str(zoo_net) != str(net) or shapes != {k: tuple(v.shape) for k, v in
                                              zoo_net.state_dict().items()}:
        raise SystemExit(f"zoo's mlp network differs from the hand loop's:\n{zoo_net}\n{net}")
    return {k: v.clone() for k, v in net.state_dict().items()}


# -- timing helpers --------------------------------------------------------------------------


@dataclass
class Measurement:
    runner: str
    batch_size: int
    steps: int
    wall_s: float  # the whole fit call
    loop_s: float  # from the first training batch to the end of fit
    cpu_s: float  # process CPU time of the whole fit call
    best_val_loss: float
    threads: int

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.wall_s

    @property
    def loop_steps_per_s(self) -> float:
        return self.steps / self.loop_s

    @property
    def cpu_steps_per_s(self) -> float:
        """Per CPU second of this process: less sensitive to other load on the machine."""
        return self.steps / self.cpu_s


_LOOP_START: list[float] = []  # perf_counter() when each training epoch drew its permutation


def _install_epoch_clock() -> None:
    """Timestamp zoo's first training batch (once per epoch, no per-step cost)."""
    from zoo.training.batches import IndexBatches

    original = IndexBatches._indices
    if getattr(original, "_perf_clock", False):
        return

    def _indices(self: IndexBatches) -> torch.Tensor:
        if self.shuffle:
            _LOOP_START.append(time.perf_counter())
        return original(self)

    _indices._perf_clock = True  # type: ignore[attr-defined]
    IndexBatches._indices = _indices  # type: ignore[method-assign]


def _start(profiler: Any) -> None:
    """Start a cProfile or pyinstrument profiler (or nothing)."""
    if isinstance(profiler, cProfile.Profile):
        profiler.enable()
    elif profiler is not None:
        profiler.start()


def _stop(profiler: Any) -> None:
    if isinstance(profiler, cProfile.Profile):
        profiler.disable()
    elif profiler is not None:
        profiler.stop()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- zoo -------------------------------------------------------------------------------------


@dataclass
class Variant:
    """One change to zoo's training path, monkeypatched in for one run."""

    name: str
    summary: str
    patch: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext
    configure: Callable[[Any], None] | None = None
    equivalent: bool = True  # same outputs as zoo today (else: an upper bound of a cost)


def zoo_run(splits: Splits, state: dict[str, torch.Tensor], args: argparse.Namespace,
            batch_size: int, variant: Variant | None = None,
            profiler: Any = None) -> Measurement:
    variant = variant or VARIANTS["baseline"]
    model = zoo.create_model("mlp", splits.info, hidden=tuple(args.hidden), dropout=0.0,
                             batch_size=batch_size, optimizer="adam", lr=1e-3)
    model.network.load_state_dict(state)
    if variant.configure is not None:
        variant.configure(model)
    with contextlib.ExitStack() as stack:
        config = TrainConfig(seed=args.seed, max_epochs=args.epochs, patience=None,
                             accelerator=args.accelerator)
        stack.enter_context(variant.patch())
        device = _device(args)
        _LOOP_START.clear()
        threads = torch.get_num_threads()
        _sync(device)
        c0, t0 = time.process_time(), time.perf_counter()
        _start(profiler)
        result = model.fit(splits, config)
        _sync(device)
        t1, c1 = time.perf_counter(), time.process_time()
        _stop(profiler)
    loop_start = _LOOP_START[0] if _LOOP_START else t0
    return Measurement(f"zoo:{variant.name}", batch_size, int(result["steps"]), t1 - t0,
                       t1 - loop_start, c1 - c0, float(result["best_val_loss"]), threads)


def _device(args: argparse.Namespace) -> torch.device:
    return torch.device("cuda" if args.accelerator == "gpu" else "cpu")


# -- the hand-written loop -------------------------------------------------------------------


def hand_run(splits: Splits, state: dict[str, torch.Tensor], args: argparse.Namespace,
             batch_size: int, profiler: Any = None) -> Measurement:
    """Plain PyTorch: what zoo's loop does, written out."""
    from zoo_mlp.torch_model import MLP

    device = _device(args)
    info = splits.info
    threads = torch.get_num_threads()
    _sync(device)
    c0, t0 = time.process_time(), time.perf_counter()
    _start(profiler)
    net = MLP(info.n_features, info.n_classes or 1, tuple(args.hidden), dropout=0.0)
    net.load_state_dict(state)
    net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    assert splits.val is not None and splits.train.y is not None and splits.val.y is not None
    x = torch.from_numpy(splits.train.x).to(device)
    y = torch.from_numpy(splits.train.y).to(device)
    x_val = torch.from_numpy(splits.val.x).to(device)
    y_val = torch.from_numpy(splits.val.y).to(device)
    n = len(x)
    batch_size = min(batch_size, n)
    n_batches = n // batch_size if n > batch_size else 1  # drop_last, as zoo's IndexBatches
    val_batch = max(batch_size, 1024)
    best_loss, best_state, steps = math.inf, None, 0
    history: list[dict[str, float]] = []  # what zoo logs each epoch, computed the same way
    loop_start = time.perf_counter()
    for epoch in range(args.epochs):
        net.train()
        generator = torch.Generator().manual_seed(args.seed + epoch)
        order = torch.randperm(n, generator=generator).to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        for b in range(n_batches):
            index = order[b * batch_size:(b + 1) * batch_size]
            xb, yb = x[index], y[index]
            outputs = net(xb)
            loss = F.cross_entropy(outputs, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(yb)
            correct += (outputs.detach().argmax(1) == yb).sum()
            steps += 1
        seen = n_batches * batch_size
        train_loss = float(loss_sum) / seen
        if not math.isfinite(train_loss):
            raise RuntimeError(f"training loss became {train_loss} in epoch {epoch}")
        net.eval()
        with torch.inference_mode():
            val_sum = torch.zeros((), device=device)
            val_correct = torch.zeros((), dtype=torch.long, device=device)
            for i in range(0, len(x_val), val_batch):
                xb, yb = x_val[i:i + val_batch], y_val[i:i + val_batch]
                outputs = net(xb)
                val_sum += F.cross_entropy(outputs, yb) * len(yb)
                val_correct += (outputs.argmax(1) == yb).sum()
        val_loss = float(val_sum) / len(x_val)
        history.append({"train_loss": train_loss, "train_metric": float(correct) / seen,
                        "val_loss": val_loss, "val_metric": float(val_correct) / len(x_val)})
        if math.isfinite(val_loss) and val_loss < best_loss:
            best_loss = val_loss
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    if best_state is not None:
        net.load_state_dict(best_state)
    _sync(device)
    t1, c1 = time.perf_counter(), time.process_time()
    _stop(profiler)
    return Measurement("hand", batch_size, steps, t1 - t0, t1 - loop_start, c1 - c0, best_loss,
                       threads)


# -- Lightning's floor: the same loop with no zoo features -----------------------------------


def floor_run(splits: Splits, state: dict[str, torch.Tensor], args: argparse.Namespace,
              batch_size: int) -> Measurement:
    """A bare LightningModule (no self.log, no metrics, no callbacks, no logger) through zoo's
    Trainer and TensorDataModule: what Lightning's loop alone costs. Not equivalent to zoo (no
    best weights, no early stopping possible): a lower bound."""
    import lightning.pytorch as pl
    from zoo_mlp.torch_model import MLP

    from zoo.training import make_trainer
    from zoo.training.batches import TensorDataModule

    info = splits.info

    class Bare(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.network = MLP(info.n_features, info.n_classes or 1, tuple(args.hidden),
                               dropout=0.0)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            return F.cross_entropy(self.network(x), y)

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            F.cross_entropy(self.network(x), y)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    module = Bare()
    module.network.load_state_dict(state)
    config = TrainConfig(seed=args.seed, max_epochs=args.epochs, patience=None,
                         accelerator=args.accelerator)
    device = _device(args)
    _LOOP_START.clear()
    threads = torch.get_num_threads()
    _sync(device)
    c0, t0 = time.process_time(), time.perf_counter()
    pl.seed_everything(args.seed, verbose=False)
    trainer = make_trainer(config)
    trainer.fit(module, datamodule=TensorDataModule(splits, batch_size=batch_size,
                                                    seed=args.seed))
    _sync(device)
    t1, c1 = time.perf_counter(), time.process_time()
    loop_start = _LOOP_START[0] if _LOOP_START else t0
    return Measurement("lightning-floor", batch_size, trainer.global_step, t1 - t0,
                       t1 - loop_start, c1 - c0, math.nan, threads)


# -- variants: one change at a time, monkeypatched --------------------------------------------


@contextlib.contextmanager
def _patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    missing = object()
    old = owner.__dict__.get(name, missing)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if old is missing:
            delattr(owner, name)
        else:
            setattr(owner, name, old)


@contextlib.contextmanager
def _per_step_log_patch() -> Iterator[None]:
    """zoo's training step before commit fe6d1c4: ``train_metric(...)`` (torchmetrics forward,
    which also computes each batch's own value) and two ``self.log`` calls every step, for the
    same epoch values as today's running sums logged once per epoch."""

    def training_step(self: Any, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        outputs = self(x)
        loss = self._loss(outputs, y)
        self.train_metric(*self._metric_inputs(outputs, y))
        self.log("train_metric", self.train_metric, on_step=False, on_epoch=True)
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    with _training_step_replaced(training_step):
        yield


@contextlib.contextmanager
def _training_step_replaced(training_step: Any) -> Iterator[None]:
    """``SupervisedModule.training_step`` replaced, with ``ZooModule``'s epoch-end logging."""
    from zoo.models.module import ZooModule
    from zoo.models.supervised import SupervisedModule

    with contextlib.ExitStack() as stack:
        stack.enter_context(_patched(SupervisedModule, "training_step", training_step))
        stack.enter_context(_patched(SupervisedModule, "on_train_epoch_end",
                                     ZooModule.on_train_epoch_end))
        yield


@contextlib.contextmanager
def _train_metric_sums_patch() -> Iterator[None]:
    """The training metric as one more running mean (``log_epoch_mean`` of each batch's
    accuracy, or MSE, weighted by the batch size: the same epoch value) instead of a
    torchmetrics ``update`` per step; ``train_metric`` is then logged with ``train_loss``."""

    def training_step(self: Any, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        outputs = self(x)
        loss = self._loss(outputs, y)
        if self.classifies:
            value = (outputs.detach().argmax(1) == y).float().mean()
        else:
            predicted, target = self._metric_inputs(outputs.detach(), y)
            value = F.mse_loss(predicted, target)
        self.log_epoch_mean("train_metric", value, len(x))
        self.log_epoch_mean("train_loss", loss, len(x))
        return loss

    with _training_step_replaced(training_step):
        yield


@contextlib.contextmanager
def _val_epoch_log_patch() -> Iterator[None]:
    """Validation logs once per epoch: the loss summed in a tensor, the metric only updated,
    both logged in ``on_validation_epoch_end``. Lightning calls that hook on callbacks before
    the module, so ``BestWeights`` moves to ``on_validation_end`` to see this epoch's value."""
    from zoo.models.supervised import SupervisedModule
    from zoo.training.callbacks import BestWeights

    def on_validation_epoch_start(self: Any) -> None:
        self.__dict__["_val_sums"] = {"loss": torch.zeros((), device=self.device), "n": 0}

    def validation_step(self: Any, batch: Any, batch_idx: int) -> None:
        x, y = batch
        outputs = self(x)
        sums = self.__dict__["_val_sums"]
        sums["loss"] += self._loss(outputs, y) * len(x)
        sums["n"] += len(x)
        self.val_metric.update(*self._metric_inputs(outputs, y))

    def on_validation_epoch_end(self: Any) -> None:
        sums = self.__dict__["_val_sums"]
        if sums["n"]:
            self.log("val_loss", sums["loss"] / sums["n"], sync_dist=True)
            self.log("val_metric", self.val_metric.compute())
        self.val_metric.reset()

    def best_on_validation_end(self: Any, trainer: Any, module: Any) -> None:
        if not trainer.sanity_checking and self.monitor.startswith("val"):
            self._consider(trainer, module)

    def nothing(self: Any, trainer: Any, module: Any) -> None:
        return None

    with contextlib.ExitStack() as stack:
        for name, value in (("on_validation_epoch_start", on_validation_epoch_start),
                            ("validation_step", validation_step),
                            ("on_validation_epoch_end", on_validation_epoch_end)):
            stack.enter_context(_patched(SupervisedModule, name, value))
        stack.enter_context(_patched(BestWeights, "on_validation_epoch_end", nothing))
        stack.enter_context(_patched(BestWeights, "on_validation_end", best_on_validation_end))
        yield


def _manual_optimization_patch() -> contextlib.AbstractContextManager[Any]:
    """``automatic_optimization = False``: zero_grad / manual_backward / step written in
    ``training_step``, skipping the automatic loop's closure machinery. Wraps whichever
    ``training_step`` is installed when the variant is entered."""
    from zoo.models.supervised import SupervisedModule

    inner = SupervisedModule.__dict__["training_step"]

    def training_step(self: Any, batch: Any, batch_idx: int) -> torch.Tensor:
        optimizer = self.optimizers()
        loss = inner(self, batch, batch_idx)
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()
        return loss.detach()

    return _patched(SupervisedModule, "training_step", training_step)


def _manual(model: Any) -> None:
    model.automatic_optimization = False


def _no_validate_args(model: Any) -> None:
    """torchmetrics' input checks off (``validate_args=False``): they run ``torch.unique`` on
    every batch's targets, a host sync per step on a GPU."""
    for metric in (model.train_metric, model.val_metric):
        metric.validate_args = False


def _no_divergence_guard_patch() -> contextlib.AbstractContextManager[Any]:
    """No per-step finiteness check (an upper bound of the guard's cost)."""
    from lightning.pytorch.callbacks import Callback

    import zoo.training.callbacks

    class NoGuard(Callback):
        pass

    return _patched(zoo.training.callbacks, "DivergenceGuard", NoGuard)


def _epoch_guard_patch() -> contextlib.AbstractContextManager[Any]:
    """The guard checks the epoch's last training loss once per epoch, not every step."""
    from lightning.pytorch.callbacks import Callback

    import zoo.training.callbacks

    check = zoo.training.callbacks.DivergenceGuard()  # zoo's own check, called once per epoch

    class EpochGuard(Callback):
        last: Any = None

        def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any,
                               batch_idx: int) -> None:
            self.last = outputs

        def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
            check.on_train_batch_end(trainer, module, self.last, None, 0)

    return _patched(zoo.training.callbacks, "DivergenceGuard", EpochGuard)


def _no_best_clone_patch() -> contextlib.AbstractContextManager[Any]:
    """BestWeights keeps references instead of clones (an upper bound of the copy's cost)."""
    from zoo.training.callbacks import BestWeights

    def _consider(self: Any, trainer: Any, module: Any) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if value is not None and math.isfinite(float(value)) and float(value) < self.best_score:
            self.best_score = float(value)
            self.best_state = module.state_dict()

    return _patched(BestWeights, "_consider", _consider)


def _no_logger_patch() -> contextlib.AbstractContextManager[Any]:
    """The Trainer gets no logger (zoo attaches a CSV logger to every fit)."""
    import zoo.training

    original = zoo.training.make_trainer

    def make_trainer(*a: Any, **kw: Any) -> Any:
        return original(*a, **{**kw, "loggers": False})

    return _patched(zoo.training, "make_trainer", make_trainer)


def _log_every_patch(steps: int) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    def patch() -> contextlib.AbstractContextManager[Any]:
        import zoo.training

        original = zoo.training.make_trainer

        def make_trainer(*a: Any, **kw: Any) -> Any:
            trainer = original(*a, **kw)
            trainer.log_every_n_steps = steps
            return trainer

        return _patched(zoo.training, "make_trainer", make_trainer)

    return patch


def _combined_patch() -> contextlib.AbstractContextManager[Any]:
    stack = contextlib.ExitStack()
    stack.enter_context(_train_metric_sums_patch())
    stack.enter_context(_val_epoch_log_patch())
    stack.enter_context(_epoch_guard_patch())
    return stack


VARIANTS: dict[str, Variant] = {v.name: v for v in [
    Variant("baseline", "zoo as it is"),
    Variant("no-logger", "no CSV logger on the Trainer (an upper bound of the logger's cost)",
            patch=_no_logger_patch, equivalent=False),
    Variant("log-every-1e9", "Trainer log_every_n_steps=10**9 instead of 50",
            patch=_log_every_patch(10**9)),
    Variant("metric-no-validate", "torchmetrics validate_args=False (no torch.unique per step)",
            configure=_no_validate_args),
    Variant("per-step-log", "zoo before fe6d1c4: train_metric(...) forward and self.log "
            "of loss and metric every training step", patch=_per_step_log_patch),
    Variant("train-metric-sums", "train_metric as a running mean like train_loss, no "
            "torchmetrics update per step", patch=_train_metric_sums_patch),
    Variant("val-epoch-log", "validation: sum loss, update metric, log at epoch end "
            "(BestWeights reads it in on_validation_end)", patch=_val_epoch_log_patch),
    Variant("manual-optimization", "automatic_optimization=False, step in training_step",
            patch=_manual_optimization_patch, configure=_manual),
    Variant("epoch-guard", "DivergenceGuard checks once per epoch, not every step",
            patch=_epoch_guard_patch),
    Variant("no-divergence-guard", "DivergenceGuard removed (upper bound of its cost)",
            patch=_no_divergence_guard_patch, equivalent=False),
    Variant("no-best-clone", "BestWeights keeps references, no clone (upper bound)",
            patch=_no_best_clone_patch, equivalent=False),
    Variant("combined", "train-metric-sums + val-epoch-log + epoch-guard + metric-no-validate "
            "(the remaining equivalent changes together)", patch=_combined_patch,
            configure=_no_validate_args),
]}


# -- profiling -------------------------------------------------------------------------------

LAYERS = ("torch kernels (C++)", "torch Python", "Lightning", "torchmetrics", "zoo",
          "Python stdlib", "other")

# (label, a fragment of the file's path, function name) of the profile's cumulative-time rows.
HOTSPOTS: list[tuple[str, str, str]] = [
    ("LightningModule.log (all self.log calls)", "lightning/pytorch/core/module.py", "log"),
    ("  _ResultCollection.log", "logger_connector/result.py", "log"),
    ("    _ResultMetric.to (apply_to_collection per log call)", "logger_connector/result.py",
     "to"),
    ("torchmetrics Metric.forward (metric(...) calls)", "torchmetrics/metric.py", "forward"),
    ("  Metric._forward_reduce_state_update", "torchmetrics/metric.py",
     "_forward_reduce_state_update"),
    ("torchmetrics update / compute wrappers (every call)", "torchmetrics/metric.py",
     "wrapped_func"),
    ("callback hooks (_call_callback_hooks)", "lightning/pytorch/trainer/call.py",
     "_call_callback_hooks"),
    ("  DivergenceGuard.on_train_batch_end", "zoo/training/callbacks.py", "on_train_batch_end"),
    ("  BestWeights.on_validation_epoch_end", "zoo/training/callbacks.py",
     "on_validation_epoch_end"),
    ("batch to device (Strategy.batch_to_device)", "lightning/pytorch/strategies/strategy.py",
     "batch_to_device"),
    ("optimizer step wrappers (LightningOptimizer.step)", "lightning/pytorch/core/optimizer.py",
     "step"),
    ("  closure: training_step + backward (Closure.closure)",
     "loops/optimization/automatic.py", "closure"),
    ("    zoo SupervisedModule.training_step (0 where a variant replaces it)",
     "zoo/models/supervised.py", "training_step"),
    ("    Strategy.backward (hooks + loss.backward)", "lightning/pytorch/strategies/strategy.py",
     "backward"),
    ("  torch.optim.adam.adam (the update itself)", "torch/optim/adam.py", "adam"),
    ("logger connector (update_train_step_metrics)", "logger_connector/logger_connector.py",
     "update_train_step_metrics"),
    ("hook signature inspection (is_param_in_hook_signature)",
     "utilities/signature_utils.py", "is_param_in_hook_signature"),
    ("nn.Module.__setattr__ (hook bookkeeping, torchmetrics state)",
     "torch/nn/modules/module.py", "__setattr__"),
    ("validation loop (_EvaluationLoop.run)", "loops/evaluation_loop.py", "run"),
    ("Trainer.__init__", "lightning/pytorch/trainer/trainer.py", "__init__"),
    ("torch.autograd.backward", "torch/autograd/__init__.py", "backward"),
]


def _layer(filename: str, function: str) -> str | None:
    """The layer a profiled function belongs to; None for a builtin without its own layer."""
    if filename == "~":
        return "torch kernels (C++)" if "torch" in function else None
    path = filename.replace(os.sep, "/")
    if "/lightning/" in path or "/lightning_utilities/" in path or "/lightning_fabric/" in path:
        return "Lightning"
    if "/torchmetrics/" in path:
        return "torchmetrics"
    if "/torch/" in path:
        return "torch Python"
    if "/zoo/" in path or "/zoo_" in path or path.startswith("zoo/"):
        return "zoo"
    if "site-packages" not in path and ("/lib/python" in path or path.startswith("<frozen")):
        return "Python stdlib"
    return "other"


def layer_times(stats: pstats.Stats) -> dict[str, float]:
    """Self time per layer; a builtin (isinstance, getattr ...) counts for its callers."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    totals = dict.fromkeys(LAYERS, 0.0)
    for (filename, _line, function), (_cc, _nc, tt, _ct, callers) in raw.items():
        layer = _layer(filename, function)
        if layer is not None:
            totals[layer] += tt
            continue
        caller_tt = {c: v[2] for c, v in callers.items()}
        share_total = sum(caller_tt.values())
        if share_total <= 0:
            totals["other"] += tt
            continue
        for (c_file, _c_line, c_func), c_tt in caller_tt.items():
            totals[_layer(c_file, c_func) or "other"] += tt * c_tt / share_total
    return totals


def hotspot_times(stats: pstats.Stats) -> list[tuple[str, int, float]]:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    rows = []
    for label, file_part, function in HOTSPOTS:
        calls, cumulative = 0, 0.0
        for (filename, _line, name), (_cc, nc, _tt, ct, _callers) in raw.items():
            if name == function and file_part in filename.replace(os.sep, "/"):
                calls += nc
                cumulative += ct
        rows.append((label, calls, cumulative))
    return rows


# (label, module, attribute path) of the calls timed by ``--breakdown``.
BREAKDOWN: list[tuple[str, str, str]] = [
    ("Trainer.fit (everything)", "lightning.pytorch", "Trainer.fit"),
    ("validation loop, per epoch (_EvaluationLoop.run)",
     "lightning.pytorch.loops.evaluation_loop", "_EvaluationLoop.run"),
    ("zoo training_step", "zoo.models.supervised", "SupervisedModule.training_step"),
    ("zoo validation_step", "zoo.models.supervised", "SupervisedModule.validation_step"),
    ("LightningModule.log (every self.log call)", "lightning.pytorch", "LightningModule.log"),
    ("zoo on_train_epoch_end (epoch means, train_metric)", "zoo.models.supervised",
     "SupervisedModule.on_train_epoch_end"),
    ("torchmetrics Metric.forward (metric(...))", "torchmetrics", "Metric.forward"),
    ("torchmetrics MulticlassStatScores.update (inside Metric's wrapper)",
     "torchmetrics.classification.stat_scores", "MulticlassStatScores.update"),
    ("torchmetrics MulticlassAccuracy.compute", "torchmetrics.classification",
     "MulticlassAccuracy.compute"),
    ("DivergenceGuard.on_train_batch_end", "zoo.training.callbacks",
     "DivergenceGuard.on_train_batch_end"),
    ("BestWeights._consider (clone on improvement)", "zoo.training.callbacks",
     "BestWeights._consider"),
    ("CSV logger: write the metrics file", "lightning.fabric.loggers.csv_logs",
     "_ExperimentWriter.save"),
    ("Lightning optimizer step (incl. closure: training_step, backward)",
     "lightning.pytorch.core.optimizer", "LightningOptimizer.step"),
    ("  Adam.step (incl. closure)", "torch.optim", "Adam.step"),
    ("  loss.backward", "torch", "Tensor.backward"),
]


@contextlib.contextmanager
def _timed_calls(totals: dict[str, list[float]]) -> Iterator[None]:
    """Wrap each ``BREAKDOWN`` attribute with a perf_counter; ``totals[label] = [calls, s]``.
    About a microsecond per call, so the figures are wall-clock, not profiler-inflated."""
    import importlib

    with contextlib.ExitStack() as stack:
        for label, module_name, path in BREAKDOWN:
            owner: Any = importlib.import_module(module_name)
            *owners, name = path.split(".")
            for part in owners:
                owner = getattr(owner, part)
            original = owner.__dict__.get(name) if isinstance(owner, type) else None
            if original is None:
                continue
            slot = totals.setdefault(label, [0, 0.0])

            def timed(*a: Any, _f: Any = original, _slot: list[float] = slot,
                      **kw: Any) -> Any:
                start = time.perf_counter()
                try:
                    return _f(*a, **kw)
                finally:
                    _slot[0] += 1
                    _slot[1] += time.perf_counter() - start

            stack.enter_context(_patched(owner, name, timed))
        yield


def breakdown_runs(splits: Splits, state: dict[str, torch.Tensor], args: argparse.Namespace,
                   batch_size: int) -> dict[str, Any]:
    """Wall-clock time inside zoo's hooks and Lightning's pieces, for the ``--profile-variants``
    (median of ``--repeats`` runs, no profiler); printed and returned."""
    report: dict[str, Any] = {}
    for name in args.profile_variants:
        runs = []
        for _ in range(args.repeats):
            totals: dict[str, list[float]] = {}
            with _timed_calls(totals):
                measurement = zoo_run(splits, state, args, batch_size, VARIANTS[name])
            runs.append((measurement, totals))
        runs.sort(key=lambda r: r[0].wall_s)
        measurement, totals = runs[len(runs) // 2]
        report[name] = {"wall_s": measurement.wall_s, "steps": measurement.steps,
                        "calls": {k: v for k, v in totals.items() if v[0]}}
    epochs = args.epochs
    print(f"\n## Wall-clock breakdown, batch {batch_size} (no profiler; the median run; "
          "nested rows are part of the row above)\n")
    print("| call | " + " | ".join(f"{n}: calls | ms per call | ms per epoch"
                                   for n in args.profile_variants) + " |")
    print("|---|" + "---:|---:|---:|" * len(args.profile_variants))
    for label, _, _ in BREAKDOWN:
        cells = []
        for name in args.profile_variants:
            calls, seconds = report[name]["calls"].get(label, [0, 0.0])
            cells.append(f"{calls} | {1e3 * seconds / calls:.3f} | {1e3 * seconds / epochs:.1f}"
                         if calls else "0 | | ")
        print(f"| {label.replace('  ', '&nbsp;&nbsp;')} | " + " | ".join(cells) + " |")
    return report


def _profiled_runners(args: argparse.Namespace) -> list[tuple[str, Callable[..., Measurement]]]:
    runners: list[tuple[str, Callable[..., Measurement]]] = []
    for name in args.profile_variants:
        def run(*a: Any, _variant: Variant = VARIANTS[name], **kw: Any) -> Measurement:
            return zoo_run(*a, variant=_variant, **kw)

        runners.append((f"zoo {name}", run))
    runners.append(("hand", hand_run))
    return runners


def profile_runs(splits: Splits, state: dict[str, torch.Tensor], args: argparse.Namespace,
                 batch_size: int, unprofiled: dict[str, float]) -> dict[str, Any]:
    """The ``--profile-variants`` zoo runs and one hand run under the profiler; printed and
    returned. ``unprofiled``: median fit seconds by runner, to show the profiler's own cost."""
    report: dict[str, Any] = {"profiler": args.profiler, "batch_size": batch_size}
    runners = _profiled_runners(args)

    def inflation(name: str, seconds: float) -> str:
        base = unprofiled.get(name.removeprefix("zoo "))
        return f" ({seconds / base:.1f}x its unprofiled median)" if base else ""

    if args.profiler == "pyinstrument":
        from pyinstrument import Profiler

        for name, run in runners:
            profiler = Profiler(interval=0.0005)
            measurement = run(splits, state, args, batch_size, profiler=profiler)
            print(f"\n## pyinstrument: {name}, batch {batch_size}, {measurement.steps} steps, "
                  f"{measurement.wall_s:.2f} s under the profiler"
                  f"{inflation(name, measurement.wall_s)}\n")
            text = profiler.output_text(unicode=False, color=False, show_all=False)
            print("```")
            print("\n".join(text.splitlines()[:args.top * 3]))
            print("```")
            report[name] = {"text": text, "wall_s": measurement.wall_s}
        return report

    layers: dict[str, dict[str, float]] = {}
    steps: dict[str, int] = {}
    hotspots: dict[str, list[tuple[str, int, float]]] = {}
    first_stats: pstats.Stats | None = None
    for name, run in runners:
        profiler = cProfile.Profile()
        measurement = run(splits, state, args, batch_size, profiler=profiler)
        stats = pstats.Stats(profiler, stream=io.StringIO())
        layers[name], steps[name] = layer_times(stats), measurement.steps
        report[name] = {"wall_s": measurement.wall_s, "steps": measurement.steps,
                        "layers_s": layers[name]}
        print(f"\ncProfile: {name}, {measurement.wall_s:.2f} s under the profiler"
              f"{inflation(name, measurement.wall_s)}")
        if name != "hand":
            hotspots[name] = report[name]["hotspots"] = hotspot_times(stats)
            first_stats = first_stats or stats
    names = [name for name, _ in runners]
    print(f"\n## cProfile, batch {batch_size}: self time by layer, ms per training step "
          "(builtins such as isinstance counted for their callers)\n")
    print("| layer | " + " | ".join(names) + " | first - hand |")
    print("|---|" + "---:|" * (len(names) + 1))
    per_step = {n: {k: 1e3 * v / steps[n] for k, v in layers[n].items()} for n in names}
    for layer in (*LAYERS, "total"):
        values = [per_step[n][layer] if layer != "total" else sum(per_step[n].values())
                  for n in names]
        print(f"| {layer} | " + " | ".join(f"{v:.3f}" for v in values)
              + f" | {values[0] - values[-1]:+.3f} |")
    zoo_names = [n for n in names if n != "hand"]
    print(f"\n## cProfile, batch {batch_size}: zoo's overhead points, ms per training step "
          "(cumulative; indented rows are part of the row above; calls of the first run)\n")
    print("| where | calls | " + " | ".join(zoo_names) + " |")
    print("|---|---:|" + "---:|" * len(zoo_names))
    for i, (label, calls, _) in enumerate(hotspots[zoo_names[0]]):
        cells = " | ".join(f"{1e3 * hotspots[n][i][2] / steps[n]:.3f}" for n in zoo_names)
        print(f"| {label.replace('  ', '&nbsp;&nbsp;')} | {calls} | {cells} |")
    if first_stats is not None:
        out = io.StringIO()
        first_stats.stream = out  # type: ignore[attr-defined]
        first_stats.sort_stats("tottime").print_stats(args.top)
        print(f"\n## cProfile, batch {batch_size}: {zoo_names[0]}, top {args.top} functions by "
              "self time\n")
        print("```")
        print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))
        print("```")
    return report


# -- driver ----------------------------------------------------------------------------------


def _quiet() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", choices=["synthetic", "digits"], default="synthetic")
    parser.add_argument("--samples", type=int, default=20_000,
                        help="synthetic rows (train + validation)")
    parser.add_argument("--features", type=int, default=64, help="synthetic features")
    parser.add_argument("--classes", type=int, default=10, help="synthetic classes")
    parser.add_argument("--val-fraction", type=float, default=0.2,
                        help="share of the rows held out for the per-epoch validation")
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256],
                        help="hidden layer widths of the MLP")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="median of this many runs")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads for both loops (0: leave torch's default)")
    parser.add_argument("--accelerator", choices=["cpu", "gpu"], default="cpu",
                        help="gpu: data, network and both loops on the first CUDA device")
    parser.add_argument("--seed", type=int, default=0,
                        help="data, initial weights and the per-epoch permutations")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS)[1:],
                        choices=list(VARIANTS)[1:],
                        help="zoo variants to time beside the baseline (the flag alone, with no "
                             "names: the baseline only)")
    parser.add_argument("--floor", action=argparse.BooleanOptionalAction, default=True,
                        help="also time a bare LightningModule (Lightning's own floor)")
    parser.add_argument("--profiler", choices=["cprofile", "pyinstrument", "none"],
                        default="cprofile",
                        help="profile one zoo and one hand run after the timings "
                             "(pyinstrument: pip install pyinstrument)")
    parser.add_argument("--profile-batch-size", type=int,
                        help="batch size of the profiled runs (default: the first)")
    parser.add_argument("--profile-variants", nargs="+", default=["baseline"],
                        choices=list(VARIANTS),
                        help="zoo variants profiled (beside one hand run)")
    parser.add_argument("--breakdown", action=argparse.BooleanOptionalAction, default=True,
                        help="time zoo's hooks and Lightning's pieces in the --profile-variants "
                             "runs with plain wall-clock wrappers (no profiler)")
    parser.add_argument("--top", type=int, default=25, help="rows of the function listing")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    return parser.parse_args(argv)


def environment(args: argparse.Namespace) -> dict[str, Any]:
    import lightning
    import torchmetrics

    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "python": platform.python_version(),
            "torch": torch.__version__, "lightning": lightning.__version__,
            "torchmetrics": torchmetrics.__version__, "numpy": np.__version__,
            "zoo": zoo.__version__, "machine": platform.machine(), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_avg_at_start": [round(v, 2) for v in os.getloadavg()],
            "accelerator": args.accelerator,
            "gpu": torch.cuda.get_device_name() if args.accelerator == "gpu" else None,
            "argv": sys.argv[1:]}


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _quiet()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    _install_epoch_clock()
    splits = make_splits(args)
    state = initial_state(splits.info, tuple(args.hidden), args.seed)
    env = environment(args)
    print("# zoo training throughput: mlp through zoo vs a hand-written PyTorch loop\n")
    print(", ".join(f"{k}={v}" for k, v in env.items()))
    n_train = len(splits.train)
    print(f"data: {args.data}, {n_train} train + {len(splits.val or [])} validation rows x "
          f"{splits.info.n_features} features, {splits.info.n_classes} classes; hidden "
          f"{tuple(args.hidden)}; {args.epochs} epochs; Adam lr 1e-3; median of "
          f"{args.repeats}\n")

    # Warm-up: imports, first-call initialisation, allocator.
    warm = argparse.Namespace(**{**vars(args), "epochs": 1})
    zoo_run(splits, state, warm, args.batch_sizes[0])
    hand_run(splits, state, warm, args.batch_sizes[0])

    names = ["hand", "baseline", *args.variants] + (["lightning-floor"] if args.floor else [])
    results: dict[int, dict[str, list[Measurement]]] = {}
    for batch_size in args.batch_sizes:
        results[batch_size] = {name: [] for name in names}
        for rep in range(args.repeats):
            # Interleave the runners, rotating the order so drift hits all alike.
            order = names[rep % len(names):] + names[:rep % len(names)]
            for name in order:
                if name == "hand":
                    m = hand_run(splits, state, args, batch_size)
                elif name == "lightning-floor":
                    m = floor_run(splits, state, args, batch_size)
                else:
                    m = zoo_run(splits, state, args, batch_size, VARIANTS[name])
                results[batch_size][name].append(m)
                print(f"  batch {batch_size} rep {rep + 1} {name:<20} {m.steps} steps "
                      f"{m.wall_s:.3f} s ({m.steps_per_s:.0f} steps/s, loop "
                      f"{m.loop_steps_per_s:.0f}), best val loss {m.best_val_loss:.5f}",
                      file=sys.stderr, flush=True)

    print("## Throughput\n")
    print("steps/s: training steps over the whole fit call (validation included), median of "
          "the repetitions. Ratios to the hand loop: of the medians; paired: median over "
          "repetitions of the ratio to the hand run of the same repetition; best-of: of the "
          "fastest runs; CPU: per process CPU second (less sensitive to other load at 1 "
          "thread). ms/step vs hand: extra wall time per training step, from the medians; saved vs "
          "baseline: median over repetitions of the time per step saved against the baseline "
          "run of the same repetition.\n")
    print("| batch | runner | steps | fit s | steps/s | /hand | /hand paired | /hand best-of | "
          "/hand CPU | ms/step vs hand | ms/step saved vs baseline | best val loss |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    summary: dict[str, Any] = {}
    setup_lines = []
    for batch_size, by_name in results.items():
        hands = by_name["hand"]
        hand_rate = _median([m.steps_per_s for m in hands])
        hand_loop = _median([m.loop_steps_per_s for m in hands])
        hand_cpu = _median([m.cpu_steps_per_s for m in hands])
        hand_best = max(m.steps_per_s for m in hands)
        bases = by_name["baseline"]
        for name, ms in by_name.items():
            rate = _median([m.steps_per_s for m in ms])
            loop = _median([m.loop_steps_per_s for m in ms])
            cpu = _median([m.cpu_steps_per_s for m in ms])
            best = max(m.steps_per_s for m in ms)
            paired = _median([h.wall_s / m.wall_s for m, h in zip(ms, hands, strict=True)])
            saved = _median([1e3 * (b.wall_s - m.wall_s) / m.steps
                             for m, b in zip(ms, bases, strict=True)])
            row = {"steps": ms[0].steps, "fit_s": _median([m.wall_s for m in ms]),
                   "setup_s": _median([m.wall_s - m.loop_s for m in ms]),
                   "steps_per_s": rate, "loop_steps_per_s": loop, "cpu_steps_per_s": cpu,
                   "best_steps_per_s": best, "ratio": rate / hand_rate, "paired_ratio": paired,
                   "loop_ratio": loop / hand_loop, "best_ratio": best / hand_best,
                   "cpu_ratio": cpu / hand_cpu,
                   "extra_ms_per_step": 1e3 * (1 / rate - 1 / hand_rate),
                   "saved_ms_per_step_paired": saved,
                   "best_val_loss": ms[0].best_val_loss, "threads": ms[0].threads,
                   "runs": [asdict(m) for m in ms]}
            summary[f"{batch_size}/{name}"] = row
            label = name if name in ("hand", "lightning-floor") else f"zoo {name}"
            print(f"| {batch_size} | {label} | {row['steps']} | {row['fit_s']:.3f} | "
                  f"{rate:.0f} | {row['ratio']:.2f} | {paired:.2f} | {row['best_ratio']:.2f} | "
                  f"{row['cpu_ratio']:.2f} | {row['extra_ms_per_step']:+.2f} | "
                  f"{saved:+.2f} | {row['best_val_loss']:.5f} |")
            if name in ("hand", "baseline"):
                setup_lines.append(f"batch {batch_size} {label}: {1e3 * row['setup_s']:.0f} ms "
                                   f"before the first training batch; {loop:.0f} steps/s "
                                   "from there on")
    print()
    for line in setup_lines:
        print(f"- {line}")
    print()
    for name in names:
        if name in VARIANTS:
            variant = VARIANTS[name]
            note = "" if variant.equivalent else " (not equivalent: an upper bound)"
            print(f"- zoo {name}: {variant.summary}{note}")
    if args.floor:
        print("- lightning-floor: bare LightningModule, no logging/metrics/callbacks/logger "
              "(not equivalent: Lightning's own floor)")
    print("- hand: plain PyTorch loop, same network, data order, optimiser and validation")

    profile: dict[str, Any] | None = None
    breakdown: dict[str, Any] | None = None
    if args.profiler != "none":
        profile_batch = args.profile_batch_size or args.batch_sizes[0]
        unprofiled = {name.split("/", 1)[1]: row["fit_s"] for name, row in summary.items()
                      if name.startswith(f"{profile_batch}/")}
        profile = profile_runs(splits, state, args, profile_batch, unprofiled)
    if args.breakdown:
        breakdown = breakdown_runs(splits, state, args,
                                   args.profile_batch_size or args.batch_sizes[0])

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"environment": env, "results": summary,
                                         "profile": profile, "breakdown": breakdown},
                                        indent=2, default=str))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
