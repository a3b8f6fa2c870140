"""Issue 3's acceptance figures for `tabular-ad`, from a results database.

- reproduction: our iforest / ocsvm within 2 AUROC points of the published IForest / OCSVM
  (Livernoche et al. 2024 re-run of ADBench) on how many shared datasets, per setting;
- our deep-svdd's mean AUROC against the published DeepSVDD row, over the shared datasets;
- our best deep detector's mean against the published KNN (semi), over the shared datasets;
- the cost of one seed: the summed cell seconds of seed 0 per model and setting (what
  ``zoo bench tabular-ad --seeds 1`` spends training and scoring, without loading data).

Usage: python benchmarks/tabular_ad_acceptance.py --db .zoo/tabular-ad.db [--budget quick]
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

from zoo.reporting.leaderboard import load_references
from zoo.runs.store import Store

PAIRS = {"iforest": "IForest", "ocsvm": "OCSVM"}
DEEP = ("autoencoder", "deep-svdd")
PUBLISHED_SOURCE = "Livernoche"


def our_means(db: str, budget: str) -> dict[tuple[str, str, str], float]:
    """Mean AUROC over seeds per (model, dataset, setting) of the ok rows."""
    values: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    with Store(db) as store:
        for row in store.runs(suite="tabular-ad", status="ok"):
            if row.budget == budget and "auroc" in row.metrics:
                values[(row.model, row.dataset, row.setting or "")].append(row.metrics["auroc"])
    return {key: statistics.fmean(v) for key, v in values.items()}


def published() -> dict[tuple[str, str, str], float]:
    return {(ref.model, ref.dataset, ref.setting): ref.value
            for ref in load_references("tabular-ad")
            if ref.metric == "auroc" and PUBLISHED_SOURCE in ref.source}


def report(db: str, budget: str) -> None:
    ours, theirs = our_means(db, budget), published()
    for setting in ("semi", "unsup"):
        print(f"== {setting} ({budget} budget) ==")
        for model, ref_model in PAIRS.items():
            shared = sorted(d for (m, d, s) in ours if m == model and s == setting
                            and (ref_model, d, setting) in theirs)
            close = [d for d in shared
                     if abs(ours[(model, d, setting)] - theirs[(ref_model, d, setting)]) <= 0.02]
            far = {d: round(100 * (ours[(model, d, setting)] - theirs[(ref_model, d, setting)]), 1)
                   for d in shared if d not in close}
            share = f"{len(close)}/{len(shared)}" if shared else "0/0"
            print(f"{model}: within 2 points of {ref_model} on {share} shared datasets; "
                  f"off (ours - published, points): {far}")
        for ref_model, contenders in (("DeepSVDD", ("deep-svdd",)), ("KNN", DEEP)):
            for model in contenders:
                shared = sorted(d for (m, d, s) in ours if m == model and s == setting
                                and (ref_model, d, setting) in theirs)
                if not shared:
                    continue
                mine = statistics.fmean(ours[(model, d, setting)] for d in shared)
                ref = statistics.fmean(theirs[(ref_model, d, setting)] for d in shared)
                print(f"{model} mean {100 * mine:.2f} vs published {ref_model} "
                      f"{100 * ref:.2f} over {len(shared)} shared datasets")


def seed_zero_seconds(db: str, budget: str) -> None:
    """Print the summed fit+score seconds of the seed-0 cells, per setting and model."""
    seconds: dict[tuple[str, str], float] = defaultdict(float)
    datasets: dict[str, set[str]] = defaultdict(set)
    with Store(db) as store:
        for row in store.runs(suite="tabular-ad", status="ok"):
            if row.budget == budget and row.seed == 0 and row.seconds is not None:
                seconds[(row.setting or "", row.model)] += row.seconds
                datasets[row.setting or ""].add(row.dataset)
    for setting in sorted(datasets):
        models = {m: s for (st, m), s in seconds.items() if st == setting}
        total = sum(models.values())
        parts = ", ".join(f"{m} {s / 60:.1f}" for m, s in sorted(models.items()))
        print(f"== {setting}: one seed over {len(datasets[setting])} tables: "
              f"{total / 60:.1f} min ({parts})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--budget", default="quick")
    args = parser.parse_args()
    report(args.db, args.budget)
    seed_zero_seconds(args.db, args.budget)


if __name__ == "__main__":
    main()
