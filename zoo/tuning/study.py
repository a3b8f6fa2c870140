"""``zoo tune``: an Optuna study whose every trial is a stored run.

- The study lives in Optuna's journal file (default ``tune/STUDY.journal`` beside the runs
  store) or an RDB URL, so a killed ``zoo tune`` resumes where it stopped (a trial whose
  process died keeps the value of its runs that finished ``ok``, else is marked failed and
  does not count: finished trials are neither lost nor repeated), and machines sharing the
  storage work on one study (:func:`search`); trials also run on an executor's workers
  (``--jobs``, ``--executor ray``), this process asking the study for each and telling it
  the result.
- The first trial is the model's defaults (where they lie in the space; not on a grid), so
  the best trial is never worse on validation than the defaults.
- Each trial is a ``tune`` run (``extra``: study, trial number, parameters), or one per fold
  with ``--cv K`` (the objective is then the folds' mean); trials are pruned on their epoch
  curve of the validation loss (:class:`zoo.tuning.pruning.ReportToTrial`).
- At the end (:func:`conclude`, once every process is done): the best parameters, a retrain
  with them exactly as ``zoo train`` trains (on the training split, the validation split
  selecting the parameters kept), and one evaluation of it on the test split, both stored;
  a study already concluded gives the same two runs.
"""

from __future__ import annotations

import functools
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.data.splits import check_fold_count, cross_validation_folds, sealed_test
from zoo.errors import ZooError
from zoo.models import resolve_hparams
from zoo.plugins import get_host
from zoo.runs.lifecycle import runs_dir
from zoo.runs.results import new_run_id
from zoo.runs.single import (
    TrainingData,
    evaluate_run,
    one_class_setting,
    train_run,
    training_data,
)
from zoo.runs.store import current_owner, owner_is_gone
from zoo.tuning import PRUNERS, SAMPLERS
from zoo.tuning.cv import CV_KEY, cross_validate
from zoo.tuning.scoring import Objective, choose_objective, scored_run
from zoo.tuning.space import SearchSpace, search_space

if TYPE_CHECKING:
    from zoo.runs.executors import Executor
    from zoo.runs.results import Outcome, RunResult
    from zoo.runs.store import Store

#: The ``extra`` key of a trial's rows: ``{"name": study, "trial": number, "params": {...}}``.
STUDY_KEY = "study"
SEALED = "zoo tune chooses on validation rows only"
#: What a study may be called: its name is a file name in ``tune/``.
_STUDY_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_SETTINGS = ("model", "data", "normal_class", "backbone", "metric", "cv", "seed", "max_epochs")


@dataclass(frozen=True)
class TuneRequest:
    """What ``zoo tune`` was asked (its options, checked by the CLI)."""

    model: str
    data: str
    backbone: str | None = None
    normal_class: int | None = None
    trials: int = 20
    sampler: str = "tpe"
    pruner: str = "median"
    space: Path | None = None
    metric: str | None = None
    timeout: float | None = None
    study: str | None = None
    storage: str | None = None
    cv: int | None = None
    max_epochs: int = 20
    seed: int = 0
    accelerator: str = "auto"
    #: Where the trials' and the retrain's run folders go (default: beside the store).
    runs_dir: Path | None = None


@dataclass
class TuneResult:
    """A study's outcome: its best trial, and the retrain and test evaluation of it."""

    study: str
    storage: str
    objective: Objective
    best_trial: int
    best_value: float
    best_params: dict[str, Any]
    trials: dict[str, int] = field(default_factory=dict)
    train_run: str | None = None
    evaluate_run: str | None = None
    test_metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_study_name(model: str, data: str, backbone: str | None,
                       normal_class: int | None = None) -> str:
    """``autoencoder-cardio``, ``vae-cnn-digits``, ``autoencoder-cnn-mnist-class-0``: the
    model, its backbone, the data's name (a file's stem) and the normal class, in the
    characters a file name keeps."""
    stem = Path(data).stem if ("/" in data or "." in data) else data
    name = "-".join(part for part in (model, backbone, stem, one_class_setting(normal_class))
                    if part)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)


def storage_location(store: Store, study: str, storage: str | None) -> str:
    """``storage`` (a journal file's path or an RDB URL), by default the journal file
    ``tune/STUDY.journal`` beside the runs store.

    Raises:
        ZooError: ``study`` is not a plain name (it names files in ``tune/`` whatever the
            storage: the journal, the conclusion lock).
    """
    if not _STUDY_NAME.fullmatch(study):
        raise ZooError(f"study name {study!r} is not a plain name; valid: letters, digits, "
                       f"'-', '_' and '.', not starting with '.'")
    if storage:
        return storage
    return str(runs_dir(store).parent / "tune" / f"{study}.journal")


def open_storage(location: str) -> Any:
    """Optuna's storage at ``location``: an RDB for a URL (``sqlite:///s.db``), else a journal
    file (created with its folder).

    Raises:
        ZooError: One line naming ``location``, why it cannot be opened and what is valid
            (an existing file that is not a journal is left as it is).
    """
    import optuna
    import sqlalchemy.exc
    from optuna.storages.journal import JournalFileBackend

    try:
        if "://" in location:
            return optuna.storages.RDBStorage(location)
        path = Path(location)
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, OSError, ValueError) as exc:
        raise ZooError(f"--storage {location}: {_storage_failure(exc)}; valid: a journal "
                       f"file's path, or an RDB URL such as sqlite:///FILE with its driver "
                       f"installed") from None


def _storage_failure(exc: Exception) -> str:
    """Why a storage did not open, in a few words (SQLAlchemy's messages run over lines)."""
    if isinstance(exc, ImportError):  # Optuna's wraps the driver's own, which names it
        return f"no database driver ({exc.__cause__ or exc})"
    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
        return "the file is not an Optuna journal"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return " ".join(str(exc).splitlines()[0].split()) if str(exc) else type(exc).__name__


def tune(store: Store, request: TuneRequest, on_trial: Callable[[Any], None] | None = None, *,
         executor: Executor | None = None) -> TuneResult:
    """:func:`search`, then :func:`conclude`: the whole of ``zoo tune``."""
    search(store, request, on_trial, executor=executor)
    return conclude(store, request)


@dataclass
class _Study:
    """An opened study and what it is about."""

    loaded: TrainingData
    objective: Objective
    space: SearchSpace
    location: str
    study: Any


def _open_study(store: Store, request: TuneRequest) -> _Study:
    """Load the data, choose the objective, read the search space and open (or create) the
    study of ``request``; refuse a study started with other settings. Bad input is refused
    before the study is created, so it leaves no study behind."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    loaded = training_data(request.model, request.data, request.backbone, request.seed,
                           request.normal_class)
    objective = choose_objective(loaded, request.metric)
    space = _space(loaded, request.space)
    if request.cv is not None:
        check_fold_count(loaded.splits, request.cv)
    name = request.study or default_study_name(loaded.model, loaded.data, loaded.backbone,
                                               loaded.normal_class)
    location = storage_location(store, name, request.storage)
    study = optuna.create_study(study_name=name, storage=open_storage(location),
                                direction=objective.direction, load_if_exists=True)
    _check_settings(study, request, loaded, objective)
    return _Study(loaded, objective, space, location, study)


def search(store: Store, request: TuneRequest,
           on_trial: Callable[[Any], None] | None = None, *,
           executor: Executor | None = None) -> None:
    """Run (or resume) the study of ``request`` until it holds ``request.trials`` finished
    (complete or pruned) trials or ``request.timeout`` seconds have passed.

    Without ``executor`` the trials run here one after the other (every machine sharing the
    storage may run this at once); with one, this process asks the study for each trial's
    parameters as a worker frees, the workers train (reporting their epoch curves to the
    storage, which prunes them) and this process alone writes the store and tells the study
    the results.
    ``on_trial`` is called with each finished Optuna trial.
    """
    opened = _open_study(store, request)
    study, loaded, objective, space = opened.study, opened.loaded, opened.objective, opened.space
    _settle_dead_trials(study, store, request, objective)
    study.sampler = make_sampler(request, space, len(study.trials), in_loop=executor is None)
    study.pruner = make_pruner(request.pruner, request.trials)
    first = space.defaults_trial(_defaults(loaded))
    # A grid tries its own points only (Optuna's GridSampler refuses a partial point).
    if first and request.sampler != "grid" and not _has_defaults(study, first):
        study.enqueue_trial(first)
    if executor is not None:
        _search_on(executor, store, request, opened, on_trial)
    elif _finished(study) < request.trials:
        study.optimize(_objective(store, request, loaded, objective, space, study.study_name),
                       timeout=request.timeout, gc_after_trial=False,
                       callbacks=[_stop_when_done(request.trials),
                                  *([lambda _, trial: on_trial(trial)] if on_trial else [])])


def _has_defaults(study: Any, first: dict[str, Any]) -> bool:
    """Whether a trial of ``study`` with the default parameters ``first`` finished, waits
    or runs. Run after :func:`_settle_dead_trials`, so a running one is alive (another
    process's, or soon this one's); one that failed, its process killed, does not count and
    the defaults are tried again."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.WAITING, TrialState.RUNNING)
    # An enqueued trial keeps its fixed parameters, the ones it was asked with.
    return any(trial.system_attrs.get("fixed_params", trial.params) == first
               for trial in study.get_trials(deepcopy=False, states=states))


def _space(loaded: TrainingData, path: Path | None) -> SearchSpace:
    spec = get_host().model(loaded.model)
    return search_space(spec, _defaults(loaded), path)


def _defaults(loaded: TrainingData) -> dict[str, Any]:
    """The model's resolved defaults for the data (its modality, its backbone)."""
    spec = get_host().model(loaded.model)
    return resolve_hparams(spec, loaded.splits.info,
                           {"backbone": loaded.backbone} if loaded.backbone else {})


def _settings(request: TuneRequest, loaded: TrainingData, objective: Objective) -> dict[str, Any]:
    return {"model": loaded.model, "data": loaded.data, "normal_class": loaded.normal_class,
            "backbone": loaded.backbone,
            "metric": objective.metric, "cv": request.cv, "seed": request.seed,
            "max_epochs": request.max_epochs}


def _check_settings(study: Any, request: TuneRequest, loaded: TrainingData,
                    objective: Objective) -> None:
    """Record the study's settings when it is new; refuse to resume it with others (its
    trials would not be comparable)."""
    wanted = _settings(request, loaded, objective)
    stored = {key: study.user_attrs[key] for key in _SETTINGS if key in study.user_attrs}
    if not stored:
        for key, value in wanted.items():
            study.set_user_attr(key, value)
        return
    different = [f"{key}={stored.get(key)!r} (asked: {wanted[key]!r})" for key in _SETTINGS
                 if stored.get(key) != wanted[key]]
    if different:
        raise ZooError(f"study {study.study_name!r} was started with {', '.join(different)}; "
                       f"give those, or another --study name")


def _settle_dead_trials(study: Any, store: Store, request: TuneRequest,
                        objective: Objective) -> None:
    """Settle the trials left running by a process that is gone (killed, crashed): one whose
    runs all finished ``ok`` before it died gets their value (a finished trial is never lost
    or run again); any other is marked failed and does not count (its run was finished as
    ``failed: interrupted`` by the store)."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = trial.user_attrs.get("owner")
        if not owner or not owner_is_gone(owner["owner_host"], owner["owner_pid"],
                                          owner["owner_started"]):
            continue
        rows = [row for row in store.runs(kind="tune")
                if row.extra.get(STUDY_KEY, {}).get("name") == study.study_name
                and row.extra[STUDY_KEY].get("trial") == trial.number and row.status == "ok"
                and objective.metric in row.metrics]
        if len(rows) == (request.cv or 1):
            study.tell(trial.number, sum(row.metrics[objective.metric] for row in rows)
                       / len(rows))
        else:
            study.tell(trial.number, state=TrialState.FAIL)


def make_sampler(request: TuneRequest, space: SearchSpace, existing: int, *,
                 in_loop: bool = True) -> Any:
    """The sampler ``request.sampler``, seeded by the seed and the trials the study already
    has, so that a resumed study (or another process joining it) draws anew. ``in_loop``:
    the trials run in Optuna's ``optimize`` loop, not asked and told by a driver."""
    import optuna

    seed = request.seed + existing
    if request.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True,
                                          n_startup_trials=max(2, min(10, request.trials // 3)))
    if request.sampler == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if request.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if request.sampler == "grid":
        grid = optuna.samplers.GridSampler if in_loop else _ask_and_tell_grid()
        return grid(space.grid(), seed=seed)
    raise ZooError(f"unknown sampler {request.sampler!r}; valid: {', '.join(SAMPLERS)}")


def _ask_and_tell_grid() -> type:
    import optuna

    class AskAndTellGrid(optuna.samplers.GridSampler):  # type: ignore[misc]
        """Optuna's grid without its ``study.stop()`` after the last point, which raises
        outside an ``optimize`` loop: a driver of trials on workers counts the points
        itself (:meth:`_TrialsOnWorkers.wanted`)."""

        def after_trial(self, *args: Any) -> None:
            pass

    return AskAndTellGrid


def make_pruner(name: str, trials: int) -> Any:
    """``median`` (pruning once a fifth of the trials, 1 to 5, have finished),
    ``halving`` (successive halving) or ``none``."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=max(1, min(5, trials // 5)),
                                           n_warmup_steps=0)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ZooError(f"unknown pruner {name!r}; valid: {', '.join(PRUNERS)}")


def _finished(study: Any) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,
                                                         TrialState.PRUNED)))


def _stop_when_done(trials: int) -> Callable[[Any, Any], None]:
    """Stop once the study holds ``trials`` finished trials (counted over every process),
    or once this process has had as many failures: a space where nothing trains."""
    failures = []

    def check(study: Any, trial: Any) -> None:
        from optuna.trial import TrialState

        if trial.state == TrialState.FAIL:
            failures.append(trial.number)
        if _finished(study) >= trials or len(failures) >= trials:
            study.stop()

    return check


def _objective(store: Store, request: TuneRequest, loaded: TrainingData,
               objective: Objective, space: SearchSpace,
               name: str) -> Callable[[Any], float]:
    """Optuna's objective: one trial = one stored run (or one per fold), scored on
    validation rows only."""
    import optuna

    splits = sealed_test(loaded.splits, SEALED)

    def run_trial(trial: Any) -> float:
        hparams = _asked(trial, space)
        tags = _trial_tags(name, trial)
        rows = _trial_runs(store, request, loaded, splits, hparams, tags,
                           _pruning(trial, request, objective))
        trial.set_user_attr("runs", [row.id for row in rows])
        if any(row.status == "pruned" for row in rows):
            raise optuna.TrialPruned(rows[-1].error)
        values = [row.metrics.get(objective.metric, math.nan) if row.status == "ok"
                  else math.nan for row in rows]
        return sum(values) / len(values)

    return run_trial


def _pruning(trial: Any, request: TuneRequest, objective: Objective) -> tuple[Any, ...]:
    if request.pruner == "none":
        return ()
    from zoo.tuning.pruning import ReportToTrial

    return (ReportToTrial(trial, maximize=objective.higher_is_better),)


def _trial_runs(store: Store, request: TuneRequest, loaded: TrainingData, splits: Any,
                hparams: dict[str, Any], tags: dict[str, Any],
                callbacks: tuple[Any, ...]) -> list[RunResult]:
    common = {"seed": request.seed, "accelerator": request.accelerator,
              "max_epochs": request.max_epochs, "kind": "tune", "tags": tags,
              "root": request.runs_dir}
    if request.cv:
        sealed = TrainingData(loaded.model, loaded.backbone, loaded.data, loaded.dataset,
                              loaded.task, splits)
        return cross_validate(store, sealed, hparams, k=request.cv,
                              first_fold_callbacks=callbacks, **common)
    return [scored_run(store, loaded, splits, hparams, callbacks=callbacks, **common)]


def _trial_tags(name: str, trial: Any) -> dict[str, Any]:
    return {STUDY_KEY: {"name": name, "trial": trial.number, "params": dict(trial.params)}}


# -- trials on an executor's workers ------------------------------------------------------------
@dataclass(frozen=True)
class TrialWork:
    """One trial's run (one fold's, with ``--cv``) as a worker runs it: picklable, so the
    worker loads the data itself (once per process) and opens the study's storage to report
    the epoch curve for pruning.

    Args:
        request: The study's request.
        hparams: The trial's hyperparameters.
        fold: The fold (``request.cv``), or None.
        storage: The study's storage, as the workers reach it (an absolute journal path or an
            RDB URL).
        study: The study's name.
        trial_id: Optuna's id of the trial (the storage's, not its number).
        maximize: Whether the study maximises its objective.
    """

    request: TuneRequest
    hparams: dict[str, Any]
    fold: int | None
    storage: str
    study: str
    trial_id: int
    maximize: bool

    def __call__(self, run_dir: Path) -> Outcome:
        from zoo.tuning.scoring import prepared_model, train_and_score

        request = self.request
        loaded = _worker_data(request.model, request.data, request.backbone, request.seed,
                              request.normal_class)
        prepared, built = prepared_model(loaded, _trial_splits(loaded, request, self.fold),
                                         self.hparams, request.seed)
        return train_and_score(built, prepared, run_dir, seed=request.seed,
                               accelerator=request.accelerator,
                               max_epochs=request.max_epochs, callbacks=self._pruning())

    def _pruning(self) -> tuple[Any, ...]:
        """The pruning callback on the trial as the storage holds it (the first fold only:
        a tuner prunes on one epoch curve per trial)."""
        if self.request.pruner == "none" or self.fold:
            return ()
        import optuna

        from zoo.tuning.pruning import ReportToTrial

        unreachable = ZooError(f"study {self.study!r} is not in {self.storage} as this "
                               f"worker sees it: with workers on several machines, give "
                               f"--storage an RDB URL or a journal file on storage they all "
                               f"share")
        if "://" not in self.storage and not Path(self.storage).is_file():
            raise unreachable
        try:
            study = optuna.load_study(study_name=self.study, storage=open_storage(self.storage),
                                      pruner=make_pruner(self.request.pruner,
                                                         self.request.trials))
        except KeyError:
            raise unreachable from None
        return (ReportToTrial(optuna.trial.Trial(study, self.trial_id), maximize=self.maximize),)


def _absolute_storage(location: str) -> str:
    """``location`` as a worker in another folder reaches it: a journal file's or an SQLite
    URL's file by absolute path."""
    if location.startswith("sqlite:///"):
        return "sqlite:///" + str(Path(location.removeprefix("sqlite:///")).absolute())
    return location if "://" in location else str(Path(location).absolute())


@functools.cache
def _worker_data(model: str, data: str, backbone: str | None, seed: int,
                 normal_class: int | None) -> TrainingData:
    return training_data(model, data, backbone, seed, normal_class)


def _trial_splits(loaded: TrainingData, request: TuneRequest, fold: int | None) -> Any:
    splits = sealed_test(loaded.splits, SEALED)
    if fold is None:
        return splits
    return cross_validation_folds(splits, request.cv or 0, request.seed)[fold]


@dataclass
class _OpenTrial:
    trial: Any
    runs: int
    rows: dict[int, RunResult] = field(default_factory=dict)  # by fold


class _TrialsOnWorkers:
    """The trials handed to an executor: asked of the study as a worker frees (so that each
    is sampled knowing every trial told so far), and told when all its runs are back."""

    def __init__(self, request: TuneRequest, opened: _Study,
                 on_trial: Callable[[Any], None] | None) -> None:
        self.request, self.opened, self.on_trial = request, opened, on_trial
        self.study = opened.study
        self.deadline = (None if request.timeout is None
                         else time.monotonic() + request.timeout)
        self.failures = 0
        # A grid's points, each tried once (by a trial of any state, as Optuna counts them).
        self.points = (math.prod(len(values) for values in opened.space.grid().values())
                       if request.sampler == "grid" else math.inf)
        self.open: dict[int, _OpenTrial] = {}
        self.trial_of: dict[str, tuple[int, int]] = {}  # row id -> (trial number, fold)

    def wanted(self) -> bool:
        """Whether to start another trial: the study is short of finished trials, counting
        the open ones, and neither the time, the failures nor a grid's points are up."""
        return (_finished(self.study) + len(self.open) < self.request.trials
                and self.failures < self.request.trials
                and len(self.study.trials) < self.points
                and (self.deadline is None or time.monotonic() < self.deadline))

    def tasks(self) -> Iterator[tuple[RunResult, Any]]:
        from zoo.tuning.scoring import prepared_model, scored_row

        request, opened = self.request, self.opened
        # A worker in another folder (a Ray node's) finds a user's file by absolute path.
        for_workers = replace(request, data=opened.loaded.data)
        location = _absolute_storage(opened.location)
        folds = [None] if request.cv is None else list(range(request.cv))
        first_splits = _trial_splits(opened.loaded, request, folds[0])
        while self.wanted():
            trial = self.study.ask()
            hparams = _asked(trial, opened.space)
            self.open[trial.number] = _OpenTrial(trial, len(folds))
            shared = new_run_id()
            # Built for its rows' hyperparameters only (the same on every fold): the workers
            # build and train their own.
            _, built = prepared_model(opened.loaded, first_splits, hparams, request.seed)
            for fold in folds:
                tags = _trial_tags(self.study.study_name, trial)
                if fold is not None:
                    tags[CV_KEY] = {"id": shared, "fold": fold, "folds": request.cv}
                row = scored_row(opened.loaded, built, kind="tune", seed=request.seed,
                                 accelerator=request.accelerator, tags=tags)
                self.trial_of[row.id] = (trial.number, fold or 0)
                # The storage knows a trial by its id, which Optuna's Trial keeps private.
                yield row, TrialWork(for_workers, hparams, fold, location,
                                     self.study.study_name,
                                     trial._trial_id, opened.objective.higher_is_better)

    def done(self, row: RunResult, held: bool) -> None:
        """Tell the study a trial's result once all its runs are back."""
        from optuna.trial import TrialState

        number, fold = self.trial_of.pop(row.id)
        open_trial = self.open[number]
        open_trial.rows[fold] = row
        if len(open_trial.rows) < open_trial.runs:
            return
        del self.open[number]
        rows = [open_trial.rows[i] for i in sorted(open_trial.rows)]
        trial, metric = open_trial.trial, self.opened.objective.metric
        trial.set_user_attr("runs", [r.id for r in rows])
        if any(r.status == "pruned" for r in rows):
            told = self.study.tell(trial, state=TrialState.PRUNED)
        elif all(r.status == "ok" and metric in r.metrics for r in rows):
            told = self.study.tell(trial, sum(r.metrics[metric] for r in rows) / len(rows))
        else:
            told = self.study.tell(trial, state=TrialState.FAIL)
            self.failures += 1
        if self.on_trial:
            self.on_trial(told)

    def abandon(self) -> None:
        """Fail the trials still open (their runs were stored ``failed: interrupted``)."""
        from optuna.trial import TrialState

        for open_trial in self.open.values():
            self.study.tell(open_trial.trial, state=TrialState.FAIL)
        self.open.clear()


def _asked(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """``trial``'s hyperparameters, sampled from ``space``, recorded on it with its owner."""
    trial.set_user_attr("owner", current_owner())
    hparams = space.suggest(trial)
    trial.set_user_attr("hparams", {k: list(v) if isinstance(v, tuple) else v
                                    for k, v in hparams.items()})
    return hparams


def _search_on(executor: Executor, store: Store, request: TuneRequest, opened: _Study,
               on_trial: Callable[[Any], None] | None) -> None:
    """:func:`search`'s trials on ``executor``'s workers. A round ends when the trials
    started fill the study; one that failed (it does not count) leaves room for a next."""
    from zoo.runs.executors import run_tasks

    trials = _TrialsOnWorkers(request, opened, on_trial)
    while trials.wanted():
        try:
            run_tasks(store, trials.tasks(), executor,
                      root=request.runs_dir or runs_dir(store), on_result=trials.done)
        except BaseException:
            trials.abandon()
            raise


def conclude(store: Store, request: TuneRequest) -> TuneResult:
    """The study's best trial, retrained as ``zoo train`` trains and evaluated once on the
    test split, both stored; when the best trial already was, its stored result. Run it
    once every process working on the study is done.

    Raises:
        ZooError: The study has no complete trial, or the retrain did not end ``ok``.
    """
    opened = _open_study(store, request)
    study, objective, location = opened.study, opened.objective, opened.location
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise ZooError(f"study {study.study_name!r} has no complete trial (every one was "
                       f"pruned or failed; `zoo tune --show {study.study_name}` lists them)")
    best = study.best_trial
    counts = {state.name.lower(): len(study.get_trials(deepcopy=False, states=(state,)))
              for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    result = TuneResult(study.study_name, location, objective, best.number, float(best.value),
                        dict(best.user_attrs["hparams"]), counts)
    with _concluding(store, study.study_name):
        final = study.user_attrs.get("final")  # read under the lock: another may have set it
        if final and final["best_trial"] == best.number:
            result.train_run, result.evaluate_run = final["train_run"], final["evaluate_run"]
            result.test_metrics = store.get(final["evaluate_run"]).metrics
            return result
        return _retrain_and_test(store, request, study, result)


@contextmanager
def _concluding(store: Store, study: str) -> Iterator[None]:
    """Hold ``study``'s conclusion lock, a file beside the runs store: of two commands that
    end one study at once, the second waits and finds the first one's runs, so the test split
    is evaluated once. Across machines sharing an RDB storage it does not reach."""
    import fcntl

    path = runs_dir(store).parent / "tune" / f"{study}.conclude.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released as the file closes, or the process dies
        yield


def _retrain_and_test(store: Store, request: TuneRequest, study: Any,
                      result: TuneResult) -> TuneResult:
    """``result``'s best parameters retrained as ``zoo train`` trains, evaluated once on the
    test split, and both runs recorded as the study's ``final``."""
    best = result.best_trial
    tags = {STUDY_KEY: {"name": study.study_name, "best_trial": best}}
    trained = train_run(store, request.model, request.data, backbone=request.backbone,
                        hparams=result.best_params, seed=request.seed,
                        accelerator=request.accelerator, devices=1,
                        max_epochs=request.max_epochs, tags=tags,
                        normal_class=request.normal_class, root=request.runs_dir)
    assert trained is not None
    result.train_run = trained.id
    if trained.status != "ok":
        raise ZooError(f"the retrain with the best parameters ended {trained.status}: "
                       f"{trained.error} (run {trained.id})")
    evaluated = evaluate_run(store, trained.id, root=request.runs_dir)
    assert evaluated is not None
    result.evaluate_run, result.test_metrics = evaluated.id, evaluated.metrics
    study.set_user_attr("final", {"best_trial": best, "train_run": trained.id,
                                  "evaluate_run": evaluated.id})
    return result


def study_history(location: str, name: str) -> dict[str, Any]:
    """A stored study as ``zoo tune --show`` prints it: settings, every trial (number, state,
    value, parameters, seconds, runs), the parameters' importances (fANOVA, once two trials
    are complete) and the final retrain and evaluation."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if "://" not in location and not Path(location).exists():  # reading creates nothing
        journals = sorted(p.stem for p in Path(location).parent.glob("*.journal"))
        raise ZooError(f"no study {name!r}: {location} does not exist; studies beside it: "
                       f"{', '.join(journals) or '(none)'}")
    storage = open_storage(location)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise ZooError(f"no study {name!r} in {location}; "
                       f"studies there: {', '.join(names) or '(none)'}") from None
    trials = [{"number": t.number, "state": t.state.name.lower(),
               "value": t.value if t.state == optuna.trial.TrialState.COMPLETE else None,
               "params": t.params, "seconds": t.duration.total_seconds() if t.duration else None,
               "runs": t.user_attrs.get("runs", [])} for t in study.trials]
    return {"study": name, "storage": location, "direction": study.direction.name.lower(),
            "settings": {key: study.user_attrs.get(key) for key in _SETTINGS},
            "trials": trials, "importances": _importances(study),
            "final": study.user_attrs.get("final")}


def _importances(study: Any) -> dict[str, float]:
    """fANOVA importances of the parameters, or none when the complete trials are too few
    or their parameters do not vary."""
    import optuna
    from optuna.trial import TrialState

    if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < 2:
        return {}
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError):
        return {}
