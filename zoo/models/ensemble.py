"""Ensembles: several trained models of one task and data as one model.

How the members' outputs combine, by task:

- ``classify``: the mean of the members' class probabilities; ``predict`` returns its log,
  logits whose softmax is that mean;
- ``regress``: the mean of the members' values;
- ``detect``: the mean of the members' rank-normalised scores. Each member's scores are put
  on one scale by the empirical distribution of its own scores on the *validation* rows
  (known when the ensemble is built, so one test row can be scored alone): a score maps to
  the share of validation scores below it, interpolated linearly between them and continued
  linearly past the lowest and highest (in units of their range), so rows beyond every
  validation score keep their order instead of tying at 1;
- ``generate``: a uniform mixture: each sample is drawn from a member chosen for it;
  ``log_likelihood`` (when every member has one) is the log of the members' mean likelihood
  (log-mean-exp of theirs).

A package is a checkpoint directory like any model's: ``card.json`` (with an ``ensemble``
entry: the members' names, runs and seeds, and how they combine), each member's own
checkpoint under ``members/<i>/``, and the detectors' validation scores in
``ensemble.safetensors``. :func:`zoo.models.checkpoints.save_model` writes it and
:func:`~zoo.models.checkpoints.load_model` loads it; nothing is unpickled.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zoo.errors import ZooError
from zoo.models import ZooModel, display_name, ensemble_name, split_model_name

if TYPE_CHECKING:
    from zoo.data.types import Arrays, DataInfo, Splits
    from zoo.training import TrainConfig

#: What a package card lists about each member, taken from the member's own card.
MEMBER_KEYS = ("run_id", "dataset", "data_sha256", "seed", "init_seed", "task", "preprocess",
               "vocab", "init_from")
#: What the package card's ``ensemble`` entry lists of each member besides its model (each
#: member's own card, under ``members/<i>/``, keeps the rest).
LISTED_KEYS = ("run_id", "seed", "init_seed")
#: The card entry that makes a checkpoint an ensemble package.
ENSEMBLE = "ensemble"
MEMBERS_DIR = "members"
#: The distance between the seeds of an ensemble's members (:func:`member_seed`).
MEMBER_SEED_STRIDE = 1000
REFERENCES_FILE = "ensemble.safetensors"
COMBINE = {"classify": "mean of the members' class probabilities",
           "regress": "mean of the members' values",
           "detect": "mean of the members' scores rank-normalised on their validation scores",
           "generate": "uniform mixture of the members (log-mean-exp of their likelihoods)"}


def rank_normalise(scores: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``scores`` on the scale of the sorted ``reference`` scores: the interpolated share of
    reference scores below each, continued linearly past both ends (see the module)."""
    scores, reference = scores.double().reshape(-1), reference.double().reshape(-1)
    n = len(reference)
    lowest, highest = reference[0], reference[-1]
    spread = (highest - lowest).clamp(min=1e-12)
    # the i-th of n sorted reference scores sits at the share (i + 0.5) / n
    upper = torch.searchsorted(reference, scores, right=True).clamp(1, n - 1) if n > 1 else None
    if upper is None:
        return 0.5 + (scores - lowest) / spread
    left, right = reference[upper - 1], reference[upper]
    step = (right - left).clamp(min=1e-12)
    inside = (upper - 0.5 + ((scores - left) / step).clamp(0, 1)) / n
    return torch.where(scores < lowest, 0.5 / n + (scores - lowest) / spread,
                       torch.where(scores > highest, 1 - 0.5 / n + (scores - highest) / spread,
                                   inside))


class Ensemble(ZooModel):
    """Trained members of one task and data, combined as the module says.

    Args:
        members: Trained models (built by :func:`zoo.create_model` or loaded).
        records: Per member what the card lists: ``model``, ``run_id``, ``seed`` ...
        references: ``detect`` only: each member's sorted validation scores.
    """

    def __init__(self, members: list[Any], records: list[dict[str, Any]],
                 references: list[torch.Tensor] | None = None) -> None:
        if len(members) < 2:
            raise ZooError(f"an ensemble needs at least 2 members, got {len(members)}")
        self.members = members
        self.records = records
        self.data_info = members[0].data_info
        self.zoo_name = ensemble_name(_member_names(members))
        if self.data_info.task == "detect" and references is None:
            raise ZooError("an ensemble of detectors needs each member's validation scores")
        self.references = references

    # -- evaluate hooks ------------------------------------------------------------------------
    def predict(self, x: Any) -> torch.Tensor:
        """Log of the mean class probabilities ``(N, classes)``, or the mean values."""
        outputs = torch.stack([m.predict(x).double() for m in self.members])
        if self.data_info.task == "classify":
            return outputs.softmax(-1).mean(0).log().float()
        return outputs.mean(0).float()

    def score(self, x: Any) -> torch.Tensor:
        """Mean of the members' rank-normalised anomaly scores ``(N,)``."""
        assert self.references is not None
        return torch.stack([rank_normalise(m.score(x), ref) for m, ref
                            in zip(self.members, self.references, strict=True)]).mean(0)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples, each from a member drawn uniformly for it."""
        chosen = torch.randint(len(self.members), (n,), generator=generator)
        samples: torch.Tensor | None = None
        for index, member in enumerate(self.members):
            rows = (chosen == index).nonzero().reshape(-1)
            if len(rows) == 0:
                continue
            drawn = member.sample(len(rows), generator=generator)
            if samples is None:
                samples = drawn.new_zeros((n, *drawn.shape[1:]))
            samples[rows] = drawn
        assert samples is not None or n == 0
        return samples if samples is not None else torch.empty(0)

    # -- the contract's other parts ------------------------------------------------------------
    def fit(self, splits: Splits, config: TrainConfig) -> dict[str, float]:
        raise ZooError("an ensemble is made of trained members: train them, then "
                       "'zoo ensemble RUN...' (or 'zoo train MODEL --ensemble N')")

    def hyperparameters(self) -> dict[str, Any]:
        hparams: dict[str, Any] = {"members": len(self.members),
                                   "combine": COMBINE[self.data_info.task]}
        backbones = {m.hyperparameters().get("backbone") for m in self.members}
        if len(backbones) == 1 and None not in backbones:
            hparams["backbone"] = backbones.pop()
        return hparams

    def card(self) -> dict[str, Any]:
        """What the package card adds: the ``ensemble`` entry (the members and how they
        combine)."""
        listed = [{"model": name, **{key: record[key] for key in LISTED_KEYS if key in record}}
                  for name, record in zip(_member_names(self.members), self.records,
                                          strict=True)]
        return {ENSEMBLE: {"combine": COMBINE[self.data_info.task], "members": listed}}

    def save_state(self, directory: Path) -> None:
        """The detectors' validation scores; :func:`zoo.models.checkpoints.save_model` saves
        the members, each in ``members/<i>/``."""
        if self.references is not None:
            from safetensors.torch import save_file

            save_file({str(i): ref.contiguous() for i, ref in enumerate(self.references)},
                      str(Path(directory) / REFERENCES_FILE))

    def load_state(self, directory: Path) -> None:
        """Nothing to do: :func:`restore_ensemble` makes the object of loaded members."""


class LikelihoodEnsemble(Ensemble):
    """An ensemble of generative members that all have ``log_likelihood``."""

    def log_likelihood(self, x: Any) -> torch.Tensor:
        """``log((1/M) sum_m p_m(x))`` in nats ``(N,)``: exact when the members' are, a
        lower bound when theirs are (the mean of bounds bounds the mean)."""
        values = torch.stack([m.log_likelihood(x).double() for m in self.members])
        return (values.logsumexp(0) - math.log(len(self.members))).float()


def _member_names(members: list[Any]) -> list[str]:
    """The members' model names; with their backbones (``vae[cnn]``) only where these differ,
    since a shared one is the ensemble's own (its ``backbone`` hyperparameter)."""
    backbones = [m.hyperparameters().get("backbone") for m in members]
    bases = [split_model_name(m.zoo_name)[0] for m in members]
    if len(set(backbones)) == 1:
        return bases
    return [display_name(base, backbone) for base, backbone in zip(bases, backbones, strict=True)]


def check_compatible(names: list[str], infos: list[DataInfo],
                     cards: list[dict[str, Any]] | None = None) -> None:
    """Refuse members that cannot make one model: other tasks, data shapes or classes, or
    (given their cards) other data, split seeds or preprocessing.

    Args:
        names: How the message names each member (its run id or directory).
        infos: Each member's data description.
        cards: Each member's checkpoint card (``None``: members not saved, of one split).

    Raises:
        ZooError: One line naming the first member that differs from the first, and how.
    """
    first = infos[0].to_dict()
    for name, info in zip(names[1:], infos[1:], strict=True):
        other = info.to_dict()
        for key in ("task", "modality", "shape", "n_classes", "vocab_size", "target_dim"):
            if first.get(key) != other.get(key):
                raise ZooError(f"ensemble members differ in {key}: {names[0]} has "
                               f"{first.get(key)!r}, {name} has {other.get(key)!r}; members "
                               "need the same task and data")
    if cards is None:
        return
    for name, card in zip(names[1:], cards[1:], strict=True):
        for key in ("dataset", "data_sha256", "seed", "preprocess"):
            if cards[0].get(key) != card.get(key):
                raise ZooError(f"ensemble members differ in {key}: {names[0]} has "
                               f"{cards[0].get(key)!r}, {name} has {card.get(key)!r}; members "
                               "must be trained on the same data split (same --data and "
                               "--seed), or the test rows of one are training rows of another")


def check_distinct(names: list[str], runs: list[list[str]]) -> None:
    """Refuse a run that would be counted twice: given twice, or given and inside a given
    ensemble (an ensemble of one model counted twice weighs it double).

    Args:
        names: How the message names each member (its run id or directory).
        runs: Each member's runs (:func:`zoo.models.checkpoints.member_runs`).

    Raises:
        ZooError: One line naming the repeated run and where it is.
    """
    seen: dict[str, str] = {}
    for name, made_of in zip(names, runs, strict=True):
        for run in made_of:
            if run in seen:
                where = (f"{_place(run, name)} twice" if seen[run] == name
                         else f"{_place(run, seen[run])} and {_place(run, name)}")
                raise ZooError(f"run {run} would be an ensemble member twice ({where}); "
                               f"give each run once")
            seen[run] = name


def _place(run: str, name: str) -> str:
    return "given" if name == run else f"in ensemble {name}"


def build_ensemble(members: list[Any], records: list[dict[str, Any]],
                   validation: Arrays | None) -> Ensemble:
    """An ensemble of trained ``members`` (checked by :func:`check_compatible` first).

    Args:
        members: Trained models of one task and data.
        records: Per member, what the package card lists about it.
        validation: Rows available when the ensemble is built (the validation split, never
            test): the detectors' scores on them rank-normalise their test scores. Needed for
            ``detect`` only.
    """
    check_compatible([r.get("run_id") or str(i) for i, r in enumerate(records)],
                     [m.data_info for m in members])
    references = None
    if members[0].data_info.task == "detect":
        if validation is None or len(validation) == 0:
            raise ZooError("an ensemble of detectors needs validation rows to put the "
                           "members' scores on one scale")
        references = [m.score(validation.x).double().sort().values for m in members]
    return _ensemble(members, records, references)


def _ensemble(members: list[Any], records: list[dict[str, Any]],
              references: list[torch.Tensor] | None) -> Ensemble:
    """An :class:`Ensemble`, or a :class:`LikelihoodEnsemble` of generators that all have a
    likelihood (so that the evaluate hook exists exactly when it works)."""
    likelihoods = all(hasattr(m, "log_likelihood") for m in members)
    generates = members[0].data_info.task == "generate"
    return (LikelihoodEnsemble if generates and likelihoods else Ensemble)(
        members, records, references)


def restore_ensemble(directory: Path, members: list[Any],
                     records: list[dict[str, Any]]) -> Ensemble:
    """The ensemble saved in ``directory`` of its loaded ``members``
    (:func:`zoo.models.checkpoints.load_model` loads them, each from its own card)."""
    references = None
    if members[0].data_info.task == "detect":
        from safetensors.torch import load_file

        stored = load_file(str(directory / REFERENCES_FILE))
        references = [stored[str(i)] for i in range(len(members))]
    check_compatible([str(i) for i in range(len(members))], [m.data_info for m in members])
    return _ensemble(members, records, references)


def member_seed(seed: int, index: int) -> int:
    """The seed of an ensemble's ``index``-th member for a run or cell of ``seed``: member 0
    is the single model of that seed, the others are :data:`MEMBER_SEED_STRIDE` apart (so
    the members of seeds 0, 1, 2 ... never share one)."""
    return seed + MEMBER_SEED_STRIDE * index
