"""Fit + score time of zoo's anomaly detectors beside PyOD's, on ``tabular-ad``'s quick split.

For each dataset and seed the script builds exactly the split a ``zoo bench tabular-ad
--budget quick --setting semi`` cell trains and tests on:

1. ``zoo.suites.detection.detection_splits(zoo.load_dataset(name), "semi", seed)``;
2. ``zoo.data.splits.standardize`` (training statistics);
3. ``zoo.suites.common.apply_budget(splits, TabularAnomalySuite.budgets["quick"], seed)``
   (training rows subsampled to at most 10,000; the validation and test rows untouched).

Then, interleaved and rotated in every repetition so that load drift hits every runner:

- **zoo**: ``zoo.create_model(name, splits.info, seed=seed)``; ``model.fit(splits,
  TrainConfig(seed, max_epochs, max_time, patience from the budget, accelerator="cpu"))``
  (models that select nothing on the validation rows, the scikit-learn baselines, get them
  as training rows, as the suite does); ``model.score(test.x)``.
- **PyOD**: the same detector from PyOD with its default parameters (``random_state=seed``
  where the class takes one, ``verbose=0`` for the deep ones), ``fit`` on the training and
  validation rows concatenated (the same rows zoo sees; PyOD does any validation split of its
  own), ``decision_function(test.x)``.

Pairs: ``iforest`` <-> ``IForest``, ``ocsvm`` <-> ``OCSVM``, ``knn`` <-> ``KNN``,
``autoencoder`` <-> ``AutoEncoder``, ``deep-svdd`` <-> ``DeepSVDD``.

Reported per dataset x model: the median over ``--repeats`` of the fit + score wall time of
each, their ratio (of the medians, and per CPU second, which moves less with other load),
the test AUROC of both (``sklearn.metrics.roc_auc_score``: a speed win must not be a quality
loss) and, for the deep detectors, the epochs and optimiser steps each ran and milliseconds per
step. ``--overhead`` (on by default) adds zoo's fixed cost per fit (a one-epoch autoencoder fit
on 64 rows); ``--matched`` also runs zoo's deep detectors with PyOD's default epochs and batch
size (batch 32; autoencoder 10 epochs; deep-svdd 100 epochs, no pretraining; no early
stopping), which separates the cost of a training step from the number of steps.
Before timing, every runner runs once on a small table (imports and first-call costs out).

Torch and the BLAS / OpenMP pools are limited to ``--threads`` (default 1) for both.
PyOD is needed only here (``pip install pyod`` in the benchmark's environment): it is not a
dependency of zoo.

    python benchmarks/perf/tabular_ad_vs_pyod.py --json /tmp/tabular_ad_vs_pyod.json
    python benchmarks/perf/tabular_ad_vs_pyod.py --datasets cardio,pima --models autoencoder
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DATASETS = ("cardio", "thyroid", "pima", "satimage-2", "shuttle", "mammography")
MODELS = ("iforest", "ocsvm", "knn", "autoencoder", "deep-svdd")
DEEP = ("autoencoder", "deep-svdd")
PYOD_NAMES = {"iforest": "IForest", "ocsvm": "OCSVM", "knn": "KNN",
              "autoencoder": "AutoEncoder", "deep-svdd": "DeepSVDD"}
REPO = Path(__file__).resolve().parents[2]


# -- PyOD's detectors --------------------------------------------------------------------------


def pyod_detector(model: str, seed: int, n_features: int) -> Any:
    """PyOD's counterpart of a zoo model, default parameters (seed and silence aside)."""
    if model == "iforest":
        from pyod.models.iforest import IForest

        return IForest(random_state=seed)
    if model == "ocsvm":
        from pyod.models.ocsvm import OCSVM

        return OCSVM()
    if model == "knn":
        from pyod.models.knn import KNN

        return KNN()
    if model == "autoencoder":
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(random_state=seed, verbose=0)
    if model == "deep-svdd":
        from pyod.models.deep_svdd import DeepSVDD

        return DeepSVDD(n_features=n_features, random_state=seed, verbose=0)
    raise ValueError(f"no PyOD counterpart for {model!r}")


def pyod_epochs_steps(model: str, detector: Any, n_rows: int) -> tuple[float, float] | None:
    """Epochs and optimiser steps PyOD's deep detectors run (fixed: no early stopping)."""
    if model == "autoencoder":  # DataLoader(drop_last=True)
        return detector.epoch_num, detector.epoch_num * (n_rows // detector.batch_size)
    if model == "deep-svdd":  # DataLoader(drop_last=False)
        return detector.epochs, detector.epochs * -(-n_rows // detector.batch_size)
    return None


# -- one timed run -----------------------------------------------------------------------------


@dataclass
class Run:
    dataset: str
    seed: int
    model: str
    impl: str  # "zoo" or "pyod"
    rep: int
    n_fit_rows: int
    n_test_rows: int
    build_s: float
    fit_s: float
    score_s: float
    cpu_s: float  # process CPU time of fit + score
    auroc: float
    epochs: float | None = None
    steps: float | None = None
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        return self.fit_s + self.score_s


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


#: ``--matched``: zoo's deep detectors with PyOD's default epochs and batch size, no early
#: stopping and no pretraining (hyperparameters, TrainConfig fields), to compare per-step cost.
MATCHED = {
    "autoencoder": ({"batch_size": 32}, {"max_epochs": 10, "patience": None}),
    "deep-svdd": ({"batch_size": 32, "pretrain_epochs": 0}, {"max_epochs": 100,
                                                            "patience": None}),
}


def run_zoo(model_name: str, splits: Any, budget: Any, seed: int, *, dataset: str,
            rep: int, max_epochs: int | None = None, matched: bool = False) -> Run:
    from sklearn.metrics import roc_auc_score

    import zoo
    from zoo.training import TrainConfig

    hparams, overrides = MATCHED[model_name] if matched else ({}, {})
    w0, _ = _clock()
    model = zoo.create_model(model_name, splits.info, seed=seed, **hparams)
    fit_splits = model.training_splits(splits)
    config = TrainConfig(seed=seed, max_epochs=budget.max_epochs if max_epochs is None
                         else max_epochs, max_time=budget.max_time, patience=budget.patience,
                         accelerator="cpu")
    config = replace(config, **overrides)
    w1, c1 = _clock()
    metrics = model.fit(fit_splits, config)
    w2, _ = _clock()
    scores = model.score(splits.test.x)
    scores = scores.numpy() if hasattr(scores, "numpy") else np.asarray(scores)
    w3, c3 = _clock()
    epochs = steps = None
    if "epochs" in metrics:
        epochs = metrics["epochs"] + metrics.get("ae_epochs", 0.0)
        steps = metrics["steps"] + metrics.get("ae_steps", 0.0)
    n_fit = len(fit_splits.train) + (len(fit_splits.val) if fit_splits.val is not None else 0)
    impl = "zoo-matched" if matched else "zoo"
    return Run(dataset, seed, model_name, impl, rep, n_fit, len(splits.test), w1 - w0,
               w2 - w1, w3 - w2, c3 - c1, float(roc_auc_score(splits.test.y, scores)),
               epochs, steps, {k: float(v) for k, v in metrics.items()})


def run_pyod(model_name: str, splits: Any, seed: int, *, dataset: str, rep: int) -> Run:
    from sklearn.metrics import roc_auc_score

    parts = [splits.train.x] + ([splits.val.x] if splits.val is not None else [])
    x_fit = np.concatenate(parts)
    w0, _ = _clock()
    detector = pyod_detector(model_name, seed, x_fit.shape[1])
    w1, c1 = _clock()
    detector.fit(x_fit)
    w2, _ = _clock()
    scores = np.asarray(detector.decision_function(splits.test.x))
    w3, c3 = _clock()
    counted = pyod_epochs_steps(model_name, detector, len(x_fit))
    epochs, steps = counted if counted else (None, None)
    return Run(dataset, seed, model_name, "pyod", rep, len(x_fit), len(splits.test), w1 - w0,
               w2 - w1, w3 - w2, c3 - c1, float(roc_auc_score(splits.test.y, scores)),
               epochs, steps)


# -- splits ------------------------------------------------------------------------------------


def quick_split(name: str, seed: int) -> tuple[Any, Any]:
    """The ``tabular-ad`` quick-budget ``semi`` split of one dataset: (splits, budget)."""
    import zoo
    from zoo.data.splits import standardize
    from zoo.suites.common import apply_budget
    from zoo.suites.detection import TabularAnomalySuite, detection_splits

    budget = TabularAnomalySuite.budgets["quick"]
    splits = standardize(detection_splits(zoo.load_dataset(name), "semi", seed))
    splits, _ = apply_budget(splits, budget, seed)
    return splits, budget


def warm_up(models: list[str], splits: Any, budget: Any) -> None:
    """Each runner once on 256 training rows (one zoo epoch): imports and first calls out."""
    from zoo.data.types import Arrays, Splits

    small = Splits(Arrays(splits.train.x[:256]), Arrays(splits.val.x[:64]),
                   Arrays(splits.test.x[:512], splits.test.y[:512]), splits.info)
    if len(np.unique(small.test.y)) < 2:  # AUROC needs both classes
        index = np.concatenate([np.flatnonzero(splits.test.y == 0)[:256],
                                np.flatnonzero(splits.test.y == 1)[:256]])
        small = replace(small, test=splits.test.subset(index))
    for model in models:
        run_zoo(model, small, budget, 0, dataset="warm-up", rep=-1, max_epochs=1)
        run_pyod(model, small, 0, dataset="warm-up", rep=-1)


def zoo_fit_overhead(splits: Any, budget: Any, repeats: int) -> dict[str, float]:
    """Wall seconds of a zoo autoencoder fit of one epoch on 64 rows (one step and one
    validation batch): what a fit costs beyond its training steps."""
    from zoo.data.types import Arrays, Splits

    tiny = Splits(Arrays(splits.train.x[:64]), Arrays(splits.val.x[:64]), splits.test,
                  splits.info)
    times = []
    for _ in range(repeats):
        import zoo
        from zoo.training import TrainConfig

        model = zoo.create_model("autoencoder", tiny.info, seed=0)
        start = time.perf_counter()
        model.fit(tiny, TrainConfig(seed=0, max_epochs=1, patience=None, accelerator="cpu"))
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


# -- report ------------------------------------------------------------------------------------


def _fmt_s(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _median(values: list[float]) -> float:
    return statistics.median(values)


def summarise(runs: list[Run]) -> list[dict[str, Any]]:
    """One row per dataset x model: medians over seeds x repetitions."""
    rows = []
    keys = sorted({(r.dataset, r.model) for r in runs},
                  key=lambda k: (list(dict.fromkeys(r.dataset for r in runs)).index(k[0]),
                                 MODELS.index(k[1]) if k[1] in MODELS else 99))
    for dataset, model in keys:
        mine = [r for r in runs if r.dataset == dataset and r.model == model]
        z = [r for r in mine if r.impl == "zoo"]
        p = [r for r in mine if r.impl == "pyod"]
        if not z or not p:
            continue
        zs, ps = _median([r.total_s for r in z]), _median([r.total_s for r in p])
        zc, pc = _median([r.cpu_s for r in z]), _median([r.cpu_s for r in p])
        paired = [a.total_s / b.total_s for a, b in zip(
            sorted(z, key=lambda r: (r.seed, r.rep)), sorted(p, key=lambda r: (r.seed, r.rep)),
            strict=True)]
        row: dict[str, Any] = {
            "dataset": dataset, "model": model, "n_fit_rows": z[0].n_fit_rows,
            "n_test_rows": z[0].n_test_rows, "pyod_fit_rows": p[0].n_fit_rows,
            "zoo_s": zs, "pyod_s": ps, "ratio": zs / ps, "ratio_paired": _median(paired),
            "ratio_cpu": zc / pc if pc > 0 else float("nan"),
            "zoo_fit_s": _median([r.fit_s for r in z]),
            "zoo_score_s": _median([r.score_s for r in z]),
            "pyod_fit_s": _median([r.fit_s for r in p]),
            "pyod_score_s": _median([r.score_s for r in p]),
            "zoo_auroc": statistics.fmean(r.auroc for r in z),
            "pyod_auroc": statistics.fmean(r.auroc for r in p),
            "zoo_auroc_spread": max(r.auroc for r in z) - min(r.auroc for r in z),
            "pyod_auroc_spread": max(r.auroc for r in p) - min(r.auroc for r in p),
            "runs": len(z),
        }
        if model in DEEP:
            for impl, group in (("zoo", z), ("pyod", p)):
                row[f"{impl}_epochs"] = _median([r.epochs for r in group])
                row[f"{impl}_steps"] = _median([r.steps for r in group])
                row[f"{impl}_ms_per_step"] = _median(
                    [1000 * r.fit_s / r.steps for r in group if r.steps])
            if model == "deep-svdd":
                row["zoo_ae_epochs"] = _median([r.extra.get("ae_epochs", 0.0) for r in z])
            m = [r for r in mine if r.impl == "zoo-matched"]
            if m:
                row["matched_s"] = _median([r.total_s for r in m])
                row["matched_fit_s"] = _median([r.fit_s for r in m])
                row["matched_ratio"] = row["matched_s"] / ps
                row["matched_epochs"] = _median([r.epochs for r in m])
                row["matched_steps"] = _median([r.steps for r in m])
                row["matched_ms_per_step"] = _median(
                    [1000 * r.fit_s / r.steps for r in m if r.steps])
                row["matched_auroc"] = statistics.fmean(r.auroc for r in m)
        rows.append(row)
    return rows


def print_report(rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    print("# zoo vs PyOD: fit + score on tabular-ad's quick split (semi)\n")
    print(f"- {meta['command']}")
    print(f"- zoo {meta['zoo_commit']}, pyod {meta['versions'].get('pyod')}, torch "
          f"{meta['versions'].get('torch')}, lightning {meta['versions'].get('lightning')}, "
          f"scikit-learn {meta['versions'].get('sklearn')}, threads {meta['threads']}")
    print(f"- load average: start {meta['load_avg_start']}, end {meta['load_avg_end']}, "
          f"sampled during the run: min {meta['load_1min_min']}, median "
          f"{meta['load_1min_median']}, max {meta['load_1min_max']} (1-minute)")
    print(f"- wall time of the timed runs: {meta['timed_wall_s']:.0f} s; whole script "
          f"{meta['script_wall_s']:.0f} s\n")
    print("| dataset | model | fit rows | test rows | zoo s | PyOD s | ratio | CPU ratio | "
          "zoo AUROC | PyOD AUROC |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['dataset']} | {r['model']} | {r['n_fit_rows']} | {r['n_test_rows']} | "
              f"{_fmt_s(r['zoo_s'])} | {_fmt_s(r['pyod_s'])} | {r['ratio']:.2f} | "
              f"{r['ratio_cpu']:.2f} | {r['zoo_auroc']:.4f} | {r['pyod_auroc']:.4f} |")
    deep = [r for r in rows if r["model"] in DEEP]
    if deep:
        print("\nDeep detectors: where the time goes (fit only; zoo epochs include deep-svdd's "
              "autoencoder pretraining)\n")
        print("| dataset | model | zoo epochs | zoo steps | zoo ms/step | zoo fit s | "
              "PyOD epochs | PyOD steps | PyOD ms/step | PyOD fit s |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in deep:
            print(f"| {r['dataset']} | {r['model']} | {r['zoo_epochs']:.0f} | "
                  f"{r['zoo_steps']:.0f} | {r['zoo_ms_per_step']:.2f} | "
                  f"{_fmt_s(r['zoo_fit_s'])} | {r['pyod_epochs']:.0f} | {r['pyod_steps']:.0f} | "
                  f"{r['pyod_ms_per_step']:.2f} | {_fmt_s(r['pyod_fit_s'])} |")
    matched = [r for r in deep if "matched_s" in r]
    if matched:
        print("\nzoo's deep detectors with PyOD's epochs and batch size (`--matched`: batch 32, "
              "autoencoder 10 epochs, deep-svdd 100 epochs without pretraining, no early "
              "stopping)\n")
        print("| dataset | model | zoo matched s | PyOD s | ratio | zoo steps | zoo ms/step | "
              "PyOD steps | PyOD ms/step | zoo AUROC | PyOD AUROC |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in matched:
            print(f"| {r['dataset']} | {r['model']} | {_fmt_s(r['matched_s'])} | "
                  f"{_fmt_s(r['pyod_s'])} | {r['matched_ratio']:.2f} | "
                  f"{r['matched_steps']:.0f} | {r['matched_ms_per_step']:.2f} | "
                  f"{r['pyod_steps']:.0f} | {r['pyod_ms_per_step']:.2f} | "
                  f"{r['matched_auroc']:.4f} | {r['pyod_auroc']:.4f} |")
    if meta.get("zoo_fit_overhead"):
        o = meta["zoo_fit_overhead"]
        print(f"\nzoo fixed cost per fit (autoencoder, 1 epoch on 64 rows): median "
              f"{o['median_s']:.3f} s (min {o['min_s']:.3f}, max {o['max_s']:.3f})")
    spread = [r for r in rows if r["zoo_auroc_spread"] > 1e-9 or r["pyod_auroc_spread"] > 1e-9]
    if spread:
        print("\nAUROC varied between repetitions of the same seed (shown: mean): "
              + ", ".join(f"{r['dataset']}/{r['model']}" for r in spread))


# -- main --------------------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for key, dist in (("pyod", "pyod"), ("torch", "torch"), ("lightning", "lightning"),
                      ("sklearn", "scikit-learn"), ("numpy", "numpy"), ("zoo", "zoo")):
        try:
            out[key] = md.version(dist)
        except md.PackageNotFoundError:
            out[key] = "not installed"
    return out


def _zoo_commit() -> str:
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "zoo",
                                "plugins"], capture_output=True, text=True).stdout.strip()
        return head + (" (+ uncommitted changes in zoo/ or plugins/)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS),
                        help="comma-separated tabular-ad datasets (default: %(default)s)")
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated zoo models with a PyOD pair (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 (default: 1)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed repetitions per runner; the median is reported (default: 3)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads and BLAS / OpenMP pool size, both sides (default: 1)")
    parser.add_argument("--overhead", action=argparse.BooleanOptionalAction, default=True,
                        help="time zoo's fixed cost per fit (default: on)")
    parser.add_argument("--matched", action="store_true",
                        help="also run zoo's deep detectors with PyOD's default epochs and "
                             "batch size (per-step comparison)")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="skip the untimed first run of every runner")
    parser.add_argument("--json", type=Path, help="write every run and the summary here")
    args = parser.parse_args(argv)
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in PYOD_NAMES]
    if unknown:
        parser.error(f"no PyOD pair for {unknown}; choose from {', '.join(MODELS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    load_start = [round(v, 2) for v in os.getloadavg()]
    try:
        import pyod  # noqa: F401
    except ImportError:
        print("PyOD is not installed: pip install pyod (in the benchmark's environment only)",
              file=sys.stderr)
        return 2
    import torch
    from threadpoolctl import threadpool_limits

    from zoo.training import quiet_lightning

    torch.set_num_threads(args.threads)
    quiet_lightning()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")

    runs: list[Run] = []
    loads: list[float] = []
    timed = 0.0
    overhead = None
    with threadpool_limits(limits=args.threads):
        splits_cache: dict[tuple[str, int], tuple[Any, Any]] = {}
        for name in args.datasets:
            for seed in range(args.seeds):
                splits_cache[name, seed] = quick_split(name, seed)
        first_splits, budget = splits_cache[args.datasets[0], 0]
        if args.warm_up:
            warm_up(args.models, first_splits, budget)
        if args.overhead:
            overhead = zoo_fit_overhead(first_splits, budget, max(3, args.repeats))
        runners = [(m, impl) for m in args.models for impl in ("zoo", "pyod")]
        if args.matched:
            runners += [(m, "zoo-matched") for m in args.models if m in MATCHED]
        for name in args.datasets:
            for seed in range(args.seeds):
                splits, budget = splits_cache[name, seed]
                for rep in range(args.repeats):
                    shift = rep % len(runners)
                    order = runners[shift:] + runners[:shift]
                    if rep % 2:
                        order.reverse()
                    for model, impl in order:
                        t0 = time.perf_counter()
                        if impl in ("zoo", "zoo-matched"):
                            run = run_zoo(model, splits, budget, seed, dataset=name, rep=rep,
                                          matched=impl == "zoo-matched")
                        else:
                            run = run_pyod(model, splits, seed, dataset=name, rep=rep)
                        timed += time.perf_counter() - t0
                        runs.append(run)
                        loads.append(os.getloadavg()[0])
                        print(f"  {name:12s} seed {seed} rep {rep} {model:11s} {impl:11s} "
                              f"fit {run.fit_s:7.3f} s score {run.score_s:6.3f} s "
                              f"AUROC {run.auroc:.4f}", file=sys.stderr, flush=True)
                        if torch.get_num_threads() != args.threads:
                            torch.set_num_threads(args.threads)
    rows = summarise(runs)
    meta = {
        "command": "python " + " ".join([os.path.relpath(__file__, REPO), *(argv or sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "zoo_commit": _zoo_commit(), "versions": _versions(), "threads": args.threads,
        "cpus": os.cpu_count(), "platform": platform.platform(),
        "load_avg_start": load_start, "load_avg_end": [round(v, 2) for v in os.getloadavg()],
        "load_1min_min": round(min(loads), 2) if loads else None,
        "load_1min_median": round(statistics.median(loads), 2) if loads else None,
        "load_1min_max": round(max(loads), 2) if loads else None,
        "timed_wall_s": timed, "script_wall_s": time.perf_counter() - started,
        "repeats": args.repeats, "seeds": args.seeds, "datasets": args.datasets,
        "models": args.models, "zoo_fit_overhead": overhead,
    }
    print_report(rows, meta)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, "summary": rows,
                                         "runs": [asdict(r) for r in runs]}, indent=1))
        print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
