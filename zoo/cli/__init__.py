"""The ``zoo`` command line.

Listing and parsing import no torch: heavy modules are imported inside the commands that
train or evaluate. Errors in the user's input end the command with one line naming what
was wrong and what is valid (exit status 2).

Owns: the command line, thin over the packages below. May import: zoo.errors, zoo.plugins,
zoo.data, zoo.training, zoo.models, zoo.evaluation, zoo.runs, zoo.tuning, zoo.suites,
zoo.tracking, zoo.reporting, zoo.serving (a test checks it; imports run downward only).
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import click

from zoo import plugins
from zoo.cli.common import (
    ACCELERATOR_HELP,
    DB_OPTION,
    JSON_HELP,
    NORMAL_CLASS_OPTION,
    _check_names,
    _echo_json,
    _interruptible,
    _open_store,
    _report,
    _table,
    _use_trackers,
    tracker_options,
)
from zoo.cli.ensemble import ensemble_command
from zoo.cli.executor_options import executor_options, opened_executor
from zoo.cli.export import export_command
from zoo.cli.serve import serve_command
from zoo.cli.tune import tune_command
from zoo.errors import ZooError
from zoo.training import ACCELERATORS, PRECISIONS

QUIET_OPTION = click.option("--quiet", "-q", is_flag=True,
                            help="No progress on stderr (a bar is drawn only on a terminal).")
DEVICES_HELP = ("Processes per node, one per device (GPU, or CPU core); more than one trains "
                "with DDP. At most what the accelerator has.")
NUM_NODES_OPTION = click.option(
    "--num-nodes", type=click.IntRange(min=1), default=1, show_default=True,
    help="Machines taking part in each training run, --devices processes each, launched by "
         "torchrun or SLURM (docs/scale.md).")


class ZooGroup(click.Group):
    """Reports :class:`ZooError` as one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZooError as exc:
            raise UserError(str(exc)) from None


class UserError(click.ClickException):
    exit_code = 2


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zoo")
@click.option("--plugins-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              envvar="ZOO_PLUGINS_DIR", help="Also load every *.py plugin file in DIR.")
def cli(plugins_dir: Path | None) -> None:
    """zoo: train, evaluate and benchmark generative and anomaly-detection models."""
    if plugins_dir is not None:
        plugins.configure(plugins_dir=plugins_dir)


# Commands in their own modules.
for _command in (ensemble_command, export_command, serve_command, tune_command):
    cli.add_command(_command)


# -- listing ---------------------------------------------------------------------------------
@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def plugins_command(as_json: bool) -> None:
    """Every plugin: version, distribution, hooks, models, status."""
    infos = list(plugins.get_host().plugins.values())
    if as_json:
        _echo_json([info.to_dict() for info in infos])
        return
    rows = [[i.name, i.version or "", i.distribution or i.source, ",".join(i.hooks) or "-",
             ",".join(i.models) or "-", i.status if i.status == "ok" else f"broken: {i.reason}"]
            for i in infos]
    click.echo(_table(rows, ["plugin", "version", "distribution", "hooks", "models", "status"]))


@cli.command("models")
@click.argument("pattern", default="*")
@click.option("--task", help="Only models that do this task (classify, regress, detect, generate).")
@click.option("--modality",
              help="Only models for this modality (tabular, image, text, timeseries).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def models_command(pattern: str, task: str | None, modality: str | None, as_json: bool) -> None:
    """Registered models matching PATTERN (shell-style, e.g. 'vae*'); a model's exact name
    shows it in detail, with its hyperparameters."""
    from zoo.models import list_models
    from zoo.plugins.specs import MODALITIES, TASKS

    if task and task not in TASKS:
        raise ZooError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")
    if modality and modality not in MODALITIES:
        raise ZooError(f"unknown modality {modality!r}; valid: {', '.join(MODALITIES)}")
    host = plugins.get_host()
    specs = [host.model(n) for n in list_models(pattern, task=task, modality=modality)]
    if as_json:
        _echo_json([s.to_dict() for s in specs])
        return
    if not specs:
        click.echo(_no_model_matches(pattern, task, modality), err=True)
        return
    if [s.name for s in specs] == [pattern]:
        click.echo(_model_detail(specs[0]))
        return
    rows = [[s.name, s.kind, ",".join(s.tasks), ",".join(s.modalities), s.plugin, s.summary]
            for s in specs]
    click.echo(_table(rows, ["model", "kind", "tasks", "modalities", "plugin", "summary"]))


def _model_detail(spec: Any) -> str:
    """One model: what it is, its hyperparameters (type, default, valid values, search space,
    help) and the defaults the spec sets per modality and backbone."""
    from zoo.plugins.specs import format_value

    lines = [f"{spec.name}: {spec.summary}",
             f"  kind: {spec.kind}    plugin: {spec.plugin}",
             f"  tasks: {', '.join(spec.tasks)}    modalities: {', '.join(spec.modalities)}"]
    if spec.default_backbones:
        lines.append("  backbones: " + ", ".join(f"{modality}={backbone}" for modality, backbone
                                                 in spec.default_backbones.items()))
    if spec.paper:
        lines.append(f"  paper: {spec.paper}")
    rows = [[h.name, h.type_name(), format_value(h.default), h.valid_range(), h.search_text(),
             h.help] for h in spec.hparams]
    lines += ["", _table(rows, ["hyperparameter", "type", "default", "valid", "search", "help"])
              if rows else "no hyperparameters"]
    for key, values in spec.defaults.items():
        settings = " ".join(f"{name}={format_value(value)}" for name, value in values.items())
        lines.append(f"defaults for {'every modality' if key == '*' else key}: {settings}")
    lines += ["(set with `zoo train MODEL --set KEY=VALUE`, tuples as --set hidden=128,64; "
              "search: what a tuner explores)"] if rows else []
    return "\n".join(lines)


def _no_model_matches(pattern: str, task: str | None, modality: str | None) -> str:
    """One line for an empty listing: what the filters left out, or a mistyped name's close
    matches."""
    from zoo.models import list_models

    if matching := list_models(pattern):
        filters = " and ".join(f"{key} {value!r}" for key, value in
                               (("task", task), ("modality", modality)) if value)
        return (f"no model matching {pattern!r} has {filters}; "
                f"without the filters: {', '.join(matching)}")
    if not list_models():
        return ("no model is registered: no plugin that registers models is loaded "
                "('zoo plugins' lists what is; ZOO_PLUGINS and ZOO_DISABLE_PLUGINS choose)")
    close = difflib.get_close_matches(pattern, list_models(), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"no model matches {pattern!r}{hint} ('zoo models' lists them all)"


@cli.command("datasets")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def datasets_command(as_json: bool) -> None:
    """Registered datasets and whether their files are present."""
    from zoo.data.files import present

    specs = sorted(plugins.get_host().datasets().values(), key=lambda s: s.name)
    entries = [{**s.to_dict(), "present": present(s)} for s in specs]
    if as_json:
        _echo_json(entries)
        return
    rows = [[e["name"], e["modality"], ",".join(e["tasks"]), e["size"],
             "embedded" if e["embedded"] else ("yes" if e["present"] else "no"), e["source"]]
            for e in entries]
    click.echo(_table(rows, ["dataset", "modality", "tasks", "size", "present", "source"]))


@cli.command("suites")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def suites_command(as_json: bool) -> None:
    """Registered benchmark suites."""
    specs = sorted(plugins.get_host().suites().values(), key=lambda s: s.name)
    if as_json:
        _echo_json([s.to_dict() for s in specs])
        return
    rows = [[s.name, ",".join(s.tasks), ",".join(s.modalities), s.plugin, s.summary]
            for s in specs]
    click.echo(_table(rows, ["suite", "tasks", "modalities", "plugin", "summary"]))


# -- training and evaluation -----------------------------------------------------------------
def parse_sets(values: Iterable[str]) -> dict[str, str]:
    """``--set key=value`` options as a dict of strings (``create_model`` converts them)."""
    parsed = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ZooError(f"--set {item!r} is not key=value")
        parsed[key.strip()] = value.strip()
    return parsed


def _read_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ZooError(f"cannot read config {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ZooError(f"config {path} must be a mapping of options")
    valid = {"model", "data", "normal_class", "backbone", "set", "seed", "max_epochs",
             "accelerator", "devices", "precision"}
    unknown = set(data) - valid
    if unknown:
        raise ZooError(f"config {path}: unknown keys {sorted(unknown)}; valid: {sorted(valid)}")
    return {key: _config_value(path, key, value) for key, value in data.items()}


def _config_value(path: Path, key: str, value: Any) -> Any:
    """A config value checked and converted as its command-line option would be."""
    if key == "set":
        if not isinstance(value, dict):
            raise ZooError(f"config {path}: set must be a mapping of hyperparameters "
                           "(key: value)")
        return value
    if value is None or isinstance(value, list | dict):
        raise ZooError(f"config {path}: {key} must be one value, not {value!r}")
    option = {param.name: param for param in click.get_current_context().command.params}[key]
    # Converted from its text, as typed after the option: click would turn a YAML 1.5 or
    # true into the integer 1 where --seed 1.5 is refused.
    text = str(value).lower() if isinstance(value, bool) else str(value)
    try:
        return option.type.convert(text, option, None)
    except click.BadParameter as exc:
        raise ZooError(f"config {path}: {key}: {exc.message}") from None


@contextmanager
def _open_stores(dbs: tuple[Path, ...]) -> Iterator[list[Any]]:
    """Every ``--db`` given (the default store when none is), read-only; their rows merge
    with :func:`zoo.runs.merge.merge_runs`."""
    with ExitStack() as stack:
        yield [stack.enter_context(_open_store(db, readonly=True)) for db in dbs or (None,)]


DBS_OPTION = click.option("--db", "dbs", multiple=True,
                          type=click.Path(dir_okay=False, path_type=Path),
                          help="Results database (default: $ZOO_DB or the user data dir); "
                               "repeatable: the stores' rows merge, each run and suite cell "
                               "counted once.")


@cli.command("train")
@click.argument("model", required=False)
@click.option("--data", help="Registered dataset name, or a .npz / .csv file.")
@NORMAL_CLASS_OPTION
@click.option("--backbone", help="Backbone for a method (e.g. cnn for vae).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Hyperparameter override; repeatable.")
@click.option("--config", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="YAML file with any of: model, data, normal_class, backbone, set, seed, "
                   "max_epochs, accelerator, devices, precision.")
@click.option("--accelerator", type=click.Choice(ACCELERATORS), help=ACCELERATOR_HELP)
@click.option("--devices", type=click.IntRange(min=1), help=DEVICES_HELP)
@NUM_NODES_OPTION
@click.option("--precision", type=click.Choice(PRECISIONS),
              help="Train in float32 (32-true, the default), with bfloat16 autocast "
                   "(bf16-mixed) or float16 autocast (16-mixed, GPUs only).")
@click.option("--max-epochs", type=click.IntRange(min=1))
@click.option("--seed", type=click.IntRange(min=0),
              help="Seed of the split and the training (default 0).")
@click.option("--cv", type=click.IntRange(min=2),
              help="K-fold cross-validation on the non-test rows instead: one run per fold, "
                   "scored on its validation fold; prints the mean +/- std.")
@click.option("--ensemble", "ensemble_size", type=click.IntRange(min=2), metavar="N",
              help="Train N members (seeds SEED, SEED+1000, ...) on one split and store them "
                   "as one model too.")
@click.option("--init-from", metavar="RUN|PACKAGE",
              help="Start from the tensors of a trained run or package that match in name "
                   "and shape.")
@click.option("--freeze", type=click.Choice(["encoder", "backbone"]),
              help="With --init-from: keep these parameters as loaded.")
@click.option("--backbone-lr-scale", type=click.FloatRange(min=0, min_open=True),
              default=1.0, show_default=True,
              help="With --init-from: learning rate of all but the head, times lr.")
@DB_OPTION
@tracker_options
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@QUIET_OPTION
def train_command(model: str | None, data: str | None, normal_class: int | None,
                  backbone: str | None, sets: tuple[str, ...], config: Path | None,
                  accelerator: str | None,
                  devices: int | None, num_nodes: int, precision: str | None,
                  max_epochs: int | None, seed: int | None, cv: int | None,
                  ensemble_size: int | None, init_from: str | None, freeze: str | None,
                  backbone_lr_scale: float,
                  db: Path | None, trackers: str, wandb_project: str | None,
                  wandb_entity: str | None, as_json: bool, quiet: bool) -> None:
    """Train MODEL on --data and store the run.

    Models that select on validation keep their best-validation parameters.
    """
    if (freeze or backbone_lr_scale != 1.0) and not init_from:
        raise ZooError("--freeze and --backbone-lr-scale fine-tune a model; give --init-from")
    options = _read_config(config)
    model = model or options.get("model")
    data = data or options.get("data")
    if not model or not data:
        raise ZooError("train needs a MODEL and --data (on the command line or in --config)")
    backbone = backbone or options.get("backbone")
    normal_class = normal_class if normal_class is not None else options.get("normal_class")
    hparams = {**options.get("set", {}), **parse_sets(sets)}
    _check_names(model, data, {**({"backbone": backbone} if backbone else {}), **hparams})
    accelerator = accelerator or options.get("accelerator", "auto")
    devices = devices or options.get("devices", 1)
    from zoo.runs.single import FineTune, train_ensemble_run, train_run
    from zoo.training import check_devices, check_precision
    from zoo.training.progress import wanted

    precision = precision or options.get("precision", PRECISIONS[0])
    check_devices(accelerator, devices)
    check_precision(accelerator, precision)
    seed = seed if seed is not None else options.get("seed", 0)
    max_epochs = max_epochs or options.get("max_epochs", 20)
    if cv and devices * num_nodes > 1:
        raise ZooError(f"--cv trains its folds one at a time on one device; "
                       f"{devices * num_nodes} devices are for a single run")
    if cv and (ensemble_size or init_from):
        raise ZooError("--cv trains plain folds; it does not combine with --ensemble or "
                       "--init-from")
    fine_tune = None if not init_from else FineTune(init_from, freeze, backbone_lr_scale)
    train = {"model": model, "data": data, "backbone": backbone, "hparams": hparams,
             "seed": seed, "accelerator": accelerator, "devices": devices,
             "num_nodes": num_nodes, "max_epochs": max_epochs, "progress_bar": wanted(quiet),
             "fine_tune": fine_tune, "precision": precision, "normal_class": normal_class}
    with _open_store(db) as store, _interruptible():
        _use_trackers(store, trackers, wandb_project, wandb_entity)
        if cv:
            _cross_validate(store, model, data, backbone, hparams, cv=cv, seed=seed,
                            accelerator=accelerator, max_epochs=max_epochs,
                            precision=precision, as_json=as_json, normal_class=normal_class)
            return
        if ensemble_size:
            rows = train_ensemble_run(store, ensemble_size, **train)
        else:
            row = train_run(store, **train)
            rows = [] if row is None else [row]
    if not rows:  # a non-zero DDP rank: rank 0 reports
        return
    if as_json:  # one row, or with --ensemble the list of them, members first
        _echo_json([row.to_row() for row in rows] if ensemble_size else rows[0].to_row())
    for row in rows if not as_json else ():
        if "init_from" in row.extra:
            from zoo.models.transfer import TransferReport

            click.echo(TransferReport(**row.extra["init_from"]).summary())
        _report(row, as_json=False)
    if any(row.status != "ok" for row in rows):
        sys.exit(1)


def _cross_validate(store: Any, model: str, data: str, backbone: str | None,
                    hparams: dict[str, Any], *, cv: int, seed: int, accelerator: str,
                    max_epochs: int, precision: str, as_json: bool,
                    normal_class: int | None) -> None:
    """``zoo train --cv K``: one stored run per fold, then each metric's mean +/- std; exit
    status 1 unless every fold ended ok."""
    from zoo.runs.single import training_data
    from zoo.tuning.cv import cross_validate, fold_summary

    rows = cross_validate(store, training_data(model, data, backbone, seed, normal_class),
                          hparams, k=cv,
                          seed=seed, accelerator=accelerator, max_epochs=max_epochs,
                          precision=precision)
    summary = fold_summary([row for row in rows if row.status == "ok"])
    if as_json:
        _echo_json({"folds": [row.to_row() for row in rows],
                    "summary": {name: {"mean": mean, "std": std}
                                for name, (mean, std) in summary.items()}})
    else:
        for row in rows:
            _report(row, as_json=False)
        done = sum(row.status == "ok" for row in rows)
        click.echo(f"{cv}-fold cross-validation ({done} of {cv} folds ok): " +
                   ", ".join(f"{name}={mean:.4g} +/- {std:.2g}"
                             for name, (mean, std) in summary.items()))
    if len(rows) < cv or any(row.status != "ok" for row in rows):
        sys.exit(1)


@cli.command("evaluate")
@click.argument("run")
@click.option("--data", help="Registered dataset name, or a .npz / .csv file "
                              "(default: the run's own dataset).")
@DB_OPTION
@tracker_options
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def evaluate_command(run: str, data: str | None, db: Path | None, trackers: str,
                     wandb_project: str | None, wandb_entity: str | None,
                     as_json: bool) -> None:
    """Evaluate a trained model (RUN id or checkpoint directory) on the test split of the
    data it was trained on, or on --data."""
    _check_names(data=data)
    from zoo.runs.single import evaluate_run

    with _open_store(db) as store:
        _use_trackers(store, trackers, wandb_project, wandb_entity)
        row = evaluate_run(store, run, data)
    if row is None:  # a non-zero rank of a distributed launch: rank 0 reports
        return
    _report(row, as_json)
    if row.status != "ok":
        sys.exit(1)


# -- benchmarks ------------------------------------------------------------------------------
def _split_list(value: str | None, option: str) -> list[str] | None:
    """A comma-separated option as a list; ``None`` when not given (the suite's default)."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:  # an empty --models must not mean "every model"
        raise ZooError(f"{option} {value!r} names nothing; give a comma-separated list or "
                       f"leave {option} out for the suite's default")
    return items


@cli.command("bench")
@click.argument("suite")
@click.option("--models", help="Comma-separated models, e.g. mlp,vae[cnn] (default: all that fit).")
@click.option("--datasets", help="Comma-separated datasets or files (default: the suite's).")
@click.option("--seeds", type=click.IntRange(min=1), help="Seeds per cell (default: the suite's).")
@click.option("--first-seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Run seeds FIRST_SEED .. FIRST_SEED + seeds - 1 (spread seeds over machines).")
@click.option("--budget", default="quick", show_default=True,
              help="The suite's budget: smoke (seconds), quick (minutes on a CPU) or full "
                   "(paper-comparable); 'zoo suites' lists each suite's.")
@click.option("--setting", help="Protocol variant of the suite (e.g. semi, unsup).")
@click.option("--classes", help="Comma-separated normal classes of a one-class suite "
                                "(image-ad), e.g. 0,3 (default: every class).")
@click.option("--accelerator", type=click.Choice(ACCELERATORS), default="auto",
              help=ACCELERATOR_HELP)
@click.option("--devices", type=click.IntRange(min=1), default=1, help=DEVICES_HELP)
@NUM_NODES_OPTION
@executor_options
@DB_OPTION
@tracker_options
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@QUIET_OPTION
def bench_command(suite: str, models: str | None, datasets: str | None, seeds: int | None,
                  first_seed: int, budget: str, setting: str | None, classes: str | None,
                  accelerator: str, devices: int, num_nodes: int, executor: str | None,
                  jobs: int | None, ray_address: str | None, cpus_per_cell: float | None,
                  gpus_per_cell: float | None, runs_dir: Path | None, db: Path | None,
                  trackers: str, wandb_project: str | None, wandb_entity: str | None,
                  as_json: bool, quiet: bool) -> None:
    """Run SUITE: every cell not already stored; one result row per cell."""
    from zoo.runs.lifecycle import global_rank
    from zoo.suites.runner import run_suite
    from zoo.training import check_devices
    from zoo.training.progress import SuiteProgress, wanted

    host = plugins.get_host()
    suite_spec = host.suite(suite)
    if budget not in suite_spec.budgets:
        raise ZooError(f"unknown budget {budget!r} for suite {suite!r}; valid: "
                       f"{', '.join(suite_spec.budgets)}")
    model_names = _split_list(models, "--models")
    dataset_names = _split_list(datasets, "--datasets")
    normal_classes = _split_list(classes, "--classes")
    for name in model_names or []:
        _check_names(model=name)
    for name in dataset_names or []:
        _check_names(data=name)
    check_devices(accelerator, devices)
    suite_obj = suite_spec.load()(accelerator=accelerator, devices=devices, num_nodes=num_nodes)
    # Under DDP every rank runs this command; rank 0 alone prints, draws and reports.
    primary = global_rank() == 0

    with (SuiteProgress(draw=primary and wanted(quiet)) as progress, _open_store(db) as store,
          _interruptible()):
        def cell_done(row: Any, skipped: bool) -> None:
            if primary and not (quiet or as_json):
                progress.echo(_cell_line(row, skipped))
            progress.advance(ran=not skipped)

        _use_trackers(store, trackers, wandb_project, wandb_entity)
        with opened_executor(executor, jobs=jobs, ray_address=ray_address,
                             cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell,
                             devices=devices * num_nodes) as workers:
            rows = run_suite(suite_obj, store, models=model_names, datasets=dataset_names,
                             seeds=seeds, first_seed=first_seed, budget=budget,
                             setting=setting, classes=normal_classes, on_plan=progress.plan,
                             on_result=cell_done, executor=workers, root=runs_dir)
        if not primary:
            return
        from zoo.reporting.leaderboard import suite_leaderboard
        from zoo.reporting.render import to_json

        board = suite_leaderboard(suite_spec, store.runs(suite=suite))
        host.hook.zoo_suite_finished(suite=suite, leaderboard=to_json(board),
                                     figures=_suite_figures(host, board, store))
    if as_json:
        _echo_json([row.to_row() for row in rows])
    else:
        elsewhere = sum(row.status == "running" for row in rows)
        failed = sum(row.status != "ok" for row in rows) - elsewhere
        click.echo(f"{len(rows)} cells, {failed} not ok"
                   f"{f', {elsewhere} running in another process' if elsewhere else ''}. "
                   f"`zoo leaderboard {suite}` shows the table.", err=True)


def _suite_figures(host: plugins.PluginHost, board: Any, store: Any) -> dict[str, Path]:
    """The leaderboard's figures for ``zoo_suite_finished``, drawn (into the runs folder
    beside the store) only when an implementation to be called takes ``figures``."""
    from zoo.runs.lifecycle import runs_dir

    if not any("figures" in impl.argnames
               for impl in host.hook.zoo_suite_finished.get_hookimpls()):
        return {}
    from zoo.errors import describe
    from zoo.reporting.report import board_figures

    try:
        return board_figures(board, runs_dir(store) / "leaderboard-figures" / board.suite)
    except Exception as exc:  # an extra for trackers: the suite's rows are stored already
        click.echo(f"warning: the leaderboard's figures were not drawn: {describe(exc)}",
                   err=True)
        return {}


def _cell_line(row: Any, skipped: bool) -> str:
    """One line per finished cell: what a log (or a terminal above the bar) keeps."""
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(row.metrics.items()))
    state = "stored" if skipped and row.status != "running" else row.status
    return (f"[{state:>8}] {row.display_model:<24} {row.dataset:<18} {row.setting or '':<8} "
            f"seed={row.seed}  {metrics or row.error or ''}")


@cli.command("leaderboard")
@click.argument("suite")
@DBS_OPTION
@click.option("--format", "fmt", type=click.Choice(["table", "md", "csv", "json"]),
              default="table", show_default=True)
def leaderboard_command(suite: str, dbs: tuple[Path, ...], fmt: str) -> None:
    """Mean +/- std over seeds per model and dataset, with published reference rows and the
    models not significantly worse than the best marked."""
    from zoo.reporting.leaderboard import suite_leaderboard
    from zoo.reporting.render import render
    from zoo.runs.merge import merge_runs

    spec = plugins.get_host().suite(suite)
    with _open_stores(dbs) as stores:
        merged = merge_runs([store.runs(suite=suite) for store in stores])
    click.echo(render(suite_leaderboard(spec, merged.rows, notes=merged.notes), fmt))


@cli.command("report")
@click.argument("suite")
@click.option("--db", "dbs", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Results database; repeat it to merge stores (default: $ZOO_DB or the "
                   "user data dir).")
@click.option("--setting", help="Only runs of this setting (default: every setting).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the page and its figures (default: reports/SUITE).")
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="html",
              show_default=True, help="html: index.html; md: index.md with linked PNGs.")
@click.option("--open", "open_page", is_flag=True, help="Open the page in the web browser.")
def report_command(suite: str, dbs: tuple[Path, ...], setting: str | None, out: Path | None,
                   fmt: str, open_page: bool) -> None:
    """A static report of the suite's runs: leaderboard, significance, figures, samples."""
    import shlex
    import webbrowser

    from zoo.reporting.report import read_stores, write_report

    spec = plugins.get_host().suite(suite)
    page = write_report(read_stores(list(dbs), suite=suite), spec,
                        out=out or Path("reports") / suite, setting=setting, fmt=fmt,
                        command=shlex.join(["zoo", *sys.argv[1:]]))
    click.echo(page)
    if open_page:
        webbrowser.open(page.resolve().as_uri())


# -- browsing runs ---------------------------------------------------------------------------
@cli.group("runs", cls=ZooGroup, invoke_without_command=True)
@click.option("--suite", help="Only runs of this suite.")
@click.option("--model", help="Only runs of this model (vae: any backbone; vae[cnn]: that one).")
@click.option("--dataset", help="Only runs on this dataset.")
@click.option("--status", help="Only runs that ended so: running, ok, failed, diverged, or "
                               "interrupted (the failed runs that were stopped).")
@click.option("--kind", help="Only runs of this kind: train, evaluate or bench.")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="At most this many runs, the newest; 0 for all.")
@DBS_OPTION
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def runs_command(ctx: click.Context, suite: str | None, model: str | None,
                 dataset: str | None, status: str | None, kind: str | None, limit: int,
                 dbs: tuple[Path, ...], as_json: bool) -> None:
    """Stored runs, newest first: id, kind, model, dataset, seed, status, headline metric,
    seconds and when; `zoo runs show RUN_ID` shows one."""
    if ctx.invoked_subcommand is not None:
        given = [param.opts[0] for param in ctx.command.params if param.name in ctx.params
                 and ctx.get_parameter_source(param.name)
                 is not click.core.ParameterSource.DEFAULT]
        if given:
            raise ZooError(f"{given[0]} before `{ctx.invoked_subcommand}` "
                           f"is an option of the listing; give `zoo runs "
                           f"{ctx.invoked_subcommand}` its own options after it")
        return
    from zoo.reporting.runs import (
        LISTING_HEADERS,
        describe_filters,
        listing_entry,
        listing_rows,
        select_runs,
    )

    filters = {"suite": suite, "model": model, "dataset": dataset, "status": status,
               "kind": kind}
    with _open_stores(dbs) as stores:
        merged = select_runs(stores, **filters)
        if not merged.rows:
            click.echo(describe_filters(stores, **filters), err=True)
    rows = merged.rows
    for note in merged.notes:
        click.echo(f"note: {note}", err=True)
    shown = rows[:limit or None]
    if as_json:
        _echo_json([listing_entry(row) for row in shown])
    elif shown:
        click.echo(_table(listing_rows(shown), LISTING_HEADERS))
    if len(shown) < len(rows):
        click.echo(f"{len(rows) - len(shown)} older runs not shown (--limit 0 shows all)",
                   err=True)


@runs_command.command("show")
@click.argument("run_id")
@DB_OPTION
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def runs_show_command(run_id: str, db: Path | None, as_json: bool) -> None:
    """One run: its config, metrics, per-epoch curves, files, error and tracker links.
    RUN_ID may be a unique prefix of 6 characters or more."""
    from zoo.reporting.runs import format_detail, run_detail

    with _open_store(db, readonly=True) as store:
        detail = run_detail(store, run_id)
    if as_json:
        _echo_json(detail)
    else:
        click.echo(format_detail(detail))


def _add_plugin_commands() -> None:
    plugins.get_host().hook.zoo_register_commands(cli=cli)


def main() -> None:
    """The command line: parse ``sys.argv`` and run the command (it raises ``SystemExit``)."""
    _configure_plugins_dir_early(sys.argv[1:])
    _add_plugin_commands()
    cli()


def script() -> None:
    """Entry point of the ``zoo`` script and of ``python -m zoo``: :func:`main`, then the
    process ends without the interpreter's teardown (:func:`_exit_without_teardown`)."""
    try:
        main()
    except SystemExit as done:
        if isinstance(done.code, int | None):
            _exit_without_teardown(done.code or 0)
        raise


def _exit_without_teardown(code: int) -> None:
    """End the finished command now: run the exit handlers (the W&B writer's join, logging's
    flush, temporary folders' removal ...), flush the output, and skip the interpreter's
    teardown of every module it imported, about 0.9 s once torch and Lightning are in
    (measured), which a finished command does not need. Where another non-daemon thread still
    runs, the interpreter's own exit (which waits for it) is kept instead."""
    import atexit
    import threading

    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate()
           if thread is not threading.main_thread()):
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed or broken pipe
            stream.flush()
    os._exit(code)


def _configure_plugins_dir_early(args: list[str]) -> None:
    """Plugin commands must exist before click parses, so read --plugins-dir by hand."""
    for i, arg in enumerate(args):
        if arg == "--plugins-dir" and i + 1 < len(args):
            plugins.configure(plugins_dir=args[i + 1])
        elif arg.startswith("--plugins-dir="):
            plugins.configure(plugins_dir=arg.split("=", 1)[1])
        elif not arg.startswith("-"):
            return
