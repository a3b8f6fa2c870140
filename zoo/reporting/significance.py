"""Which models are not significantly worse than the best: the tests a leaderboard marks with.

Two questions, each answered against one best model, two-sided at :data:`ALPHA`, with Holm's
step-down correction over the models compared to it (Holm 1979, "A simple sequentially
rejective multiple test procedure"):

- **Per dataset** (one cell of the board): is a model's score worse than the best model's,
  paired by seed? A paired t-test over the seeds both have (:func:`paired_over_seeds`).
  Seeds are few (3 is the suites' default): the Wilcoxon signed-rank test cannot reach 0.05
  two-sided with fewer than 6 pairs, so the t-test it is, and with fewer than
  :data:`MIN_SEEDS` shared seeds nothing is tested.
- **Overall** (over the datasets of a section): the Friedman test over the models with a
  result on every dataset, then, if it rejects, the Wilcoxon signed-rank test of each model
  against the best by average rank (:func:`over_datasets`), as Demsar 2006 ("Statistical
  comparisons of classifiers over multiple data sets", JMLR 7) and Benavoli et al. 2016
  recommend. With two models the Wilcoxon test alone is used. With few datasets no
  pairwise difference can be significant, and every model is marked: after Holm the exact
  two-sided Wilcoxon test needs at least 6 datasets against one other model, 7 against two
  or three, 8 against four to six.

The tests are scipy's (imported when a test runs); this module only picks them and corrects
their p-values.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

#: Significance level of every test.
ALPHA = 0.05
#: Fewest seeds two models must share for a per-dataset test.
MIN_SEEDS = 3
PER_DATASET_TEST = "paired t-test over seeds"
OVERALL_TEST = "Friedman test, then Wilcoxon signed-rank vs the best by average rank"


@dataclass(frozen=True)
class Verdict:
    """One model against the best: ``p_value`` is Holm-corrected (None when no pairwise test
    was made: the Friedman test did not reject); ``not_worse`` unless it is below
    :data:`ALPHA` with the difference in the best's favour (a model the best leads in average
    rank can still be the better one in the signed ranks)."""

    not_worse: bool
    p_value: float | None


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for position, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - position) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _verdicts(p_values: Mapping[str, float],
              favours_best: Mapping[str, bool]) -> dict[str, Verdict]:
    names = list(p_values)
    return {name: Verdict(p >= ALPHA or not favours_best[name], p)
            for name, p in zip(names, holm([p_values[n] for n in names]), strict=True)}


def _p_or_one(p: float) -> float:
    # scipy gives NaN where the samples do not differ at all: no evidence of a difference.
    return 1.0 if math.isnan(p) else float(p)


@contextmanager
def _degenerate_samples_allowed() -> Iterator[None]:
    """Silence scipy's warnings on degenerate samples (every difference equal, every model
    tied), which a board of deterministic models meets; its answer there is the one wanted
    (p 0 for a difference that never varies, NaN, read as 1, for none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def paired_over_seeds(best: Mapping[int | None, float],
                      others: Mapping[str, Mapping[int | None, float]]) -> dict[str, Verdict]:
    """Each model against the best on one dataset: a two-sided paired t-test over the seeds
    both have, Holm-corrected over the models tested.

    Args:
        best: The best model's score per seed, oriented so that higher is better.
        others: Per model, its score per seed, oriented alike.

    Returns:
        A verdict per model sharing at least :data:`MIN_SEEDS` seeds with the best; the
        others are not tested and absent.
    """
    from scipy.stats import ttest_rel

    p_values, favours_best = {}, {}
    for name, scores in others.items():
        seeds = sorted((seed for seed in scores if seed in best), key=str)
        if len(seeds) >= MIN_SEEDS:
            ours, theirs = [best[s] for s in seeds], [scores[s] for s in seeds]
            with _degenerate_samples_allowed():
                p_values[name] = _p_or_one(ttest_rel(ours, theirs).pvalue)
            favours_best[name] = statistics.fmean(ours) > statistics.fmean(theirs)
    return _verdicts(p_values, favours_best)


def over_datasets(best: str, scores: Mapping[str, Sequence[float]]) -> tuple[
        float | None, dict[str, Verdict]]:
    """Each model against the best over datasets (Demsar 2006).

    Args:
        best: The model with the best average rank.
        scores: Per model (the best included), its score on each dataset, in one order,
            oriented so that higher is better.

    Returns:
        The Friedman p-value (None with two models, where it is not made) and a verdict per
        model other than the best: when the Friedman test does not reject, every model is
        not worse and has no pairwise p-value.
    """
    from scipy.stats import friedmanchisquare, wilcoxon

    others = [name for name in scores if name != best]
    friedman = None
    if len(scores) >= 3:
        with _degenerate_samples_allowed():
            friedman = _p_or_one(friedmanchisquare(*scores.values()).pvalue)
        if friedman >= ALPHA:
            return friedman, {name: Verdict(True, None) for name in others}
    p_values, favours_best = {}, {}
    for name in others:
        differences = [a - b for a, b in zip(scores[best], scores[name], strict=True)]
        with _degenerate_samples_allowed():
            p_values[name] = _p_or_one(wilcoxon(differences).pvalue)
            # The side the signed ranks lean to: the one-sided test that finds it likelier.
            favours_best[name] = (wilcoxon(differences, alternative="greater").pvalue
                                  < wilcoxon(differences, alternative="less").pvalue)
    return friedman, _verdicts(p_values, favours_best)
