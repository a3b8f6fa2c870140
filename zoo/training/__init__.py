"""One trainer factory and the Lightning fit loop every gradient-trained model uses.

- accelerator / devices / nodes, DDP whenever more than one process takes part (batch norm
  synchronised across GPUs);
- a seed for everything, a budget in epochs, steps or wall time;
- early stopping on the validation loss and the parameters with the lowest validation loss
  restored at the end (:class:`BestWeights`), unless the model opts out (``keep_best=False``,
  GANs: their losses select nothing);
- a non-finite training loss stops the run with :class:`Diverged`, never a score;
- optimisers by name (:func:`build_optimizer`).

Owns: this module (trainer factory, fit loop, optimisers, device checks), `callbacks` (epoch
means, best weights, divergence, the progress bar), `batches` (in-memory batches and blocks of
them), `steps` (optimiser steps inside a block) and `progress` (progress bars on stderr). May
import: zoo.errors, zoo.plugins, zoo.data (a test checks it; imports run downward only).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Diverged is defined in zoo.errors (no cycle with zoo.training.callbacks) and re-exported here,
# where plugins have always imported it from.
from zoo.errors import Diverged as Diverged
from zoo.errors import ZooError
from zoo.plugins.specs import OPTIMIZERS

if TYPE_CHECKING:
    import torch
    from lightning.pytorch import LightningModule, Trainer

    from zoo.data.types import Splits

ACCELERATORS = ("auto", "cpu", "gpu")
#: Lightning precisions a run may train in: float32; bfloat16 autocast (CPUs with bfloat16
#: instructions and recent GPUs); float16 autocast with a gradient scaler (GPUs).
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")


@dataclass
class TrainConfig:
    """How to train, independent of the model.

    Args:
        seed: Seeds Python, numpy and torch (and the data order).
        accelerator: ``auto``, ``cpu`` or ``gpu``.
        devices: Processes per node (GPUs, or CPU processes for DDP on CPU).
        num_nodes: Machines taking part (multi-node via torchrun or SLURM).
        precision: One of :data:`PRECISIONS` (``16-mixed`` on GPUs only).
        max_epochs: Upper bound on epochs (``None``: no bound).
        max_steps: Upper bound on optimiser steps (``-1``: no bound).
        max_time: Upper bound on training wall time in seconds (``None``: no bound).
        patience: Early stopping after this many validations without improvement of the
            validation loss (``None``: off).
        run_dir: Where loggers and callbacks write (CSV logs ...); a temporary directory,
            removed after training, when ``None``.
        progress_bar: Draw the run's progress (steps, epoch, training loss) on stderr, on
            rank 0 (:class:`zoo.training.callbacks.TrainingProgress`); the CLI turns it on when
            stderr is a terminal.
        callbacks: The caller's own Lightning callbacks, added to the fit loop's (a tuner's
            pruning callback, :mod:`zoo.tuning.pruning`).
    """

    seed: int = 0
    accelerator: str = "auto"
    devices: int = 1
    num_nodes: int = 1
    precision: str = PRECISIONS[0]
    max_epochs: int | None = 20
    max_steps: int = -1
    max_time: float | None = None
    patience: int | None = 10
    run_dir: Path | None = None
    progress_bar: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    callbacks: tuple[Any, ...] = ()

    @property
    def world_size(self) -> int:
        return self.devices * self.num_nodes

    def to_dict(self) -> dict[str, Any]:
        data = asdict(replace(self, callbacks=()))  # callbacks are objects, not settings
        del data["callbacks"]
        data["run_dir"] = str(self.run_dir) if self.run_dir else None
        return data

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


#: Optimisers torch has a fused step for (one kernel over every parameter, where the default
#: loops over them in Python: 0.24 -> 0.06 ms a step of a small MLP's Adam on a CPU core), by
#: the device type the parameters are on.
FUSED_OPTIMIZERS = {"cpu": frozenset({"sgd", "momentum", "nesterov", "adagrad", "adam", "adamw"}),
                    "cuda": frozenset({"sgd", "momentum", "nesterov", "adam", "adamw"})}


def build_optimizer(name: str, params: Any, *, lr: float, weight_decay: float = 0.0,
                    momentum: float = 0.9, fused: bool = True,
                    **options: Any) -> torch.optim.Optimizer:
    """An optimiser by name: sgd, momentum, nesterov, adagrad, adadelta, rmsprop, adam, adamw.

    ``params`` are parameters or parameter groups, on the device they train on (Lightning
    moves the module before ``configure_optimizers``). ``fused``: take torch's fused step where
    it has one for that device (not under a gradient scaler, whose unscaling a fused step does
    inside itself, too late for clipping: :meth:`ZooModule.make_optimizer` decides). ``options``
    go to the torch optimiser (Adam's ``betas``).
    """
    import torch

    params = list(params)
    if fused and _fuses(name, params):
        options["fused"] = True
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, **options)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=name == "nesterov",
                               weight_decay=weight_decay, **options)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, **options)
    constructors = {"adagrad": torch.optim.Adagrad, "adadelta": torch.optim.Adadelta,
                    "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    if name not in constructors:
        raise ZooError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    return constructors[name](params, lr=lr, weight_decay=weight_decay, **options)


def _fuses(name: str, params: list[Any]) -> bool:
    """Whether torch has a fused ``name`` step for these parameters (or groups): all floating
    point, on one device type that has it."""
    tensors = [t for p in params for t in (p["params"] if isinstance(p, dict) else [p])]
    devices = {t.device.type for t in tensors}
    return (len(devices) == 1 and name in FUSED_OPTIMIZERS.get(devices.pop(), ())
            and all(t.is_floating_point() for t in tensors))


def make_trainer(config: TrainConfig, *, callbacks: list[Any] | None = None,
                 loggers: list[Any] | bool = False, has_validation: bool = True) -> Trainer:
    """The one place a Lightning ``Trainer`` is configured."""
    import lightning.pytorch as pl

    check_devices(config.accelerator, config.devices)
    check_precision(config.accelerator, config.precision)
    backend = _ddp_backend(config)
    if config.world_size > 1:
        from lightning.pytorch.strategies import DDPStrategy

        strategy: Any = DDPStrategy(process_group_backend=backend)
    else:
        strategy = "auto"
    max_time = None if config.max_time is None else {"seconds": config.max_time}
    return pl.Trainer(
        accelerator=config.accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy=strategy,
        # Batch norm over the whole global batch, as one process normalises it; torch has
        # SyncBatchNorm for GPUs only, so on CPUs each rank normalises its own share.
        sync_batchnorm=config.world_size > 1 and backend == "nccl",
        precision=config.precision,  # type: ignore[arg-type]
        max_epochs=config.max_epochs if config.max_epochs is not None else -1,
        max_steps=config.max_steps,
        max_time=max_time,
        callbacks=callbacks or [],
        logger=loggers,
        default_root_dir=str(config.run_dir) if config.run_dir else None,
        # The fit loop's BestWeights is a Checkpoint (best parameters in memory, no files);
        # without one Lightning must not add its own file-writing ModelCheckpoint either.
        enable_checkpointing=any(isinstance(c, pl.callbacks.Checkpoint) for c in callbacks or ()),
        # Lightning's own bar writes to stdout, where --json output goes; zoo's bar is a
        # callback on stderr (TrainingProgress).
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=None if has_validation else 0,
        num_sanity_val_steps=0,
        log_every_n_steps=50,
    )


@contextmanager
def _run_dir(config: TrainConfig) -> Iterator[Path]:
    """The configured run directory, or a temporary one removed after training."""
    if config.run_dir is not None:
        config.run_dir.mkdir(parents=True, exist_ok=True)
        yield config.run_dir
        return
    with tempfile.TemporaryDirectory(prefix="zoo-run-") as directory:
        yield Path(directory)


def quiet_lightning() -> None:
    """Keep Lightning's per-run banners (GPU available, tips) out of suite output."""
    import logging
    import warnings

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")


def precision_record(precision: str) -> dict[str, str]:
    """What a run's row keeps of its precision in ``extra``: nothing for the default
    ``32-true``, so that rows trained in float32 read as they always have."""
    return {} if precision == PRECISIONS[0] else {"precision": precision}


def uses_gpu(accelerator: str) -> bool:
    """Whether ``accelerator`` trains on GPUs: ``gpu``, or ``auto`` where CUDA is available."""
    import torch

    return accelerator == "gpu" or (accelerator == "auto" and torch.cuda.is_available())


def _ddp_backend(config: TrainConfig) -> str:
    return "nccl" if uses_gpu(config.accelerator) else "gloo"


def fit_lightning(module: LightningModule, splits: Splits, config: TrainConfig,
                  *, batch_size: int, keep_best: bool = True) -> dict[str, float]:
    """Train ``module`` on ``splits``; restore its best-validation parameters; return metrics.

    Args:
        module: The model to train.
        splits: ``train`` is fitted; ``val``, when present, selects the parameters kept.
        config: How to train.
        batch_size: Samples per mini-batch (per process under DDP).
        keep_best: Restore the parameters with the lowest ``val_loss`` (``train_loss`` without
            validation). ``False`` keeps the final parameters, for models whose losses rank
            nothing (a GAN's generator and discriminator losses), and returns the final value of
            every logged metric as ``final_<name>``. Divergence detection applies either way.
    """
    import lightning.pytorch as pl

    from zoo.plugins import get_host
    from zoo.training.batches import TensorDataModule
    from zoo.training.callbacks import (
        BestWeights,
        DivergenceGuard,
        EpochMeans,
        TrainingProgress,
    )

    quiet_lightning()
    pl.seed_everything(config.seed, workers=True, verbose=False)
    has_validation = splits.val is not None and len(splits.val) > 0
    monitor = "val_loss" if has_validation else "train_loss"
    best = BestWeights(monitor) if keep_best else None
    # EpochMeans first: every later callback reads this epoch's means.
    callbacks: list[Any] = [EpochMeans(), DivergenceGuard(), *([] if best is None else [best])]
    if config.progress_bar:
        callbacks.append(TrainingProgress())
    callbacks.extend(config.callbacks)
    if config.patience is not None and has_validation:
        callbacks.append(pl.callbacks.EarlyStopping(monitor, patience=config.patience,
                                                    check_finite=False))
    with _run_dir(config) as run_dir:
        host = get_host()
        for extra in host.hook.zoo_trainer_callbacks(config=config, run_dir=run_dir):
            callbacks.extend(extra)
        loggers: list[Any] = []
        for extra in host.hook.zoo_trainer_loggers(config=config, run_dir=run_dir):
            loggers.extend(extra)
        trainer = make_trainer(replace(config, run_dir=run_dir), callbacks=callbacks,
                               loggers=loggers or False, has_validation=has_validation)
        data = TensorDataModule(splits, batch_size=batch_size, seed=config.seed,
                                blocks=getattr(module, "trains_in_blocks", False))
        trainer.fit(module, datamodule=data)
    progress = {"epochs": float(trainer.current_epoch), "steps": float(trainer.global_step)}
    if best is None:
        final = {f"final_{name}": float(value) for name, value in trainer.callback_metrics.items()
                 if value.numel() == 1}
        return {**final, **progress}
    best.restore(module)
    return {"best_" + monitor: best.best_score, **progress}


def available_devices(accelerator: str) -> tuple[int, str]:
    """How many devices ``accelerator`` offers this process, and what they are, in words.

    ``gpu``: the visible CUDA devices (``CUDA_VISIBLE_DEVICES`` applies); ``cpu``: the cores
    this process may run on (its affinity mask, as ``taskset`` or a scheduler sets it), one
    DDP process each; ``auto``: the GPUs when there is one, else the cores.
    """
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if accelerator == "gpu" or (accelerator == "auto" and gpus):
        return gpus, "visible GPU" if gpus == 1 else "visible GPUs"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1, f"CPU core{'' if cores == 1 else 's'} available to this process"


def check_devices(accelerator: str, devices: int) -> None:
    """Refuse, before anything starts, more devices per node than ``accelerator`` offers.

    One DDP process is started per device: 99 of them on a 2-core machine exhaust its memory,
    and ``gpu`` without a GPU ends in a CUDA assertion deep inside Lightning.

    Raises:
        ZooError: ``accelerator`` is unknown, ``devices`` is below 1, or more than available.
    """
    if accelerator not in ACCELERATORS:
        raise ZooError(f"unknown accelerator {accelerator!r}; valid: {', '.join(ACCELERATORS)}")
    if devices < 1:
        raise ZooError(f"devices={devices} must be at least 1")
    count, what = available_devices(accelerator)
    if accelerator == "gpu" and count == 0:
        raise ZooError("accelerator 'gpu' asked for, but no GPU is visible to this process "
                       "(torch.cuda.is_available() is False); use accelerator 'cpu' or 'auto'")
    if devices > count:
        raise ZooError(f"devices={devices}: accelerator {accelerator!r} has {count} {what}; "
                       f"use devices={count} or fewer")


def check_precision(accelerator: str, precision: str) -> None:
    """Refuse a precision zoo does not train in, and ``16-mixed`` without a GPU (which
    Lightning would silently turn into ``bf16-mixed``, so the row would say the wrong one).

    Raises:
        ZooError: ``precision`` is not one of :data:`PRECISIONS`, or is ``16-mixed`` where
            no GPU trains.
    """
    if precision not in PRECISIONS:
        raise ZooError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision == "16-mixed" and not uses_gpu(accelerator):
        raise ZooError("precision '16-mixed' needs a GPU (float16 autocast is GPU-only); on "
                       "a CPU use 'bf16-mixed' or '32-true'")


def device_name(accelerator: str, devices: int = 1) -> str:
    """What the result rows record as the device: ``cpu``, or the GPU's name, times devices."""
    import torch

    name = torch.cuda.get_device_name(0) if uses_gpu(accelerator) else "cpu"
    return f"{name} x{devices}" if devices > 1 else name
