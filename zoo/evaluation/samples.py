"""Samples of generative models, owned by no suite: drawing and checking them, their FID and
KID in a reference classifier's features, image grids and text.

``image-gen``, ``text-gen``, ``zoo evaluate`` and ``zoo train`` all draw and measure samples
through these functions, so a sample grid left by training, a suite's FID and an evaluation's
FID are the same computation.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zoo.errors import ZooError
from zoo.evaluation.images import save_grid_png
from zoo.models import Sampler

if TYPE_CHECKING:
    from zoo.data.types import DataInfo

#: Images in a sample grid.
GRID_IMAGES = 64
#: KID as Binkowski et al. 2018: 100 subsets of 1,000 (fewer when there are fewer images).
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
#: Characters in a text sample.
SAMPLE_LENGTH = 1000
#: What an image / a text generator leaves in its run folder.
SAMPLE_FILES = ("samples.png", "sample.txt")


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one CPU thread, then restore the caller's thread count.

    The same arithmetic in the same order on any machine, whatever its core count, so the
    same data trains the same weights and gives the same features and distances; and the
    network is too small to gain from threads (on a busy machine they cost several times
    more than they give).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def checked_samples(samples: Any, n: int, shape: tuple[int, ...]) -> torch.Tensor:
    """The model's samples as a float CPU tensor, after checking their shape and values.

    Raises:
        ZooError: Wrong shape or non-finite values.
    """
    samples = torch.as_tensor(samples).detach().float().cpu()
    if tuple(samples.shape) != (n, *shape):
        raise ZooError(f"sample({n}) returned shape {tuple(samples.shape)}; expected "
                       f"{(n, *shape)}")
    if not bool(samples.isfinite().all()):
        raise ZooError("the model's samples have non-finite values")
    return samples


def draw_samples(model: Any, n: int, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """``n`` samples of ``model`` drawn with a generator seeded by ``seed``, checked as by
    :func:`checked_samples`."""
    return checked_samples(model.sample(n, generator=torch.Generator().manual_seed(seed)), n,
                           shape)


def distances(features: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor,
              seed: int) -> dict[str, float]:
    """FID and KID of ``fake`` against ``real`` in ``features``, with :data:`KID_SUBSETS`,
    on one CPU thread: the same numbers on every machine."""
    with one_thread():
        return generation_metrics(features, real, fake, seed=seed)


def generation_metrics(features: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, *,
                       seed: int, kid_subsets: int = KID_SUBSETS,
                       kid_subset_size: int = KID_SUBSET_SIZE) -> dict[str, float]:
    """FID and KID between real and generated images in the features of ``features``.

    torchmetrics' ``FrechetInceptionDistance`` (Heusel et al. 2017,
    https://arxiv.org/abs/1706.08500) and ``KernelInceptionDistance`` (Binkowski et al. 2018,
    https://arxiv.org/abs/1801.01401: the unbiased squared MMD with the cubic polynomial
    kernel ``(x.y / d + 1)^3``, averaged over ``kid_subsets`` random subsets of
    ``kid_subset_size``, capped at the smaller set) with a custom feature module, so neither
    torch-fidelity nor Inception weights are needed. Every process computes the same numbers
    from the same images: nothing is synced across ranks.

    Args:
        features: Maps a batch of images to ``(N, d)`` features; it must have an integer
            ``num_features`` attribute.
        real: Real images ``(N, C, H, W)``.
        fake: Generated images of the same shape per image.
        seed: Seeds KID's subset draws (the global torch generator is left as it was).
        kid_subsets: Number of KID subsets.
        kid_subset_size: Images per KID subset (at most the smaller set's size).

    Returns:
        ``fid``, ``kid`` (mean over subsets) and ``kid_std`` (their standard deviation).
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    if len(real) < 2 or len(fake) < 2:
        raise ZooError(f"FID and KID need at least 2 real and 2 generated images; got "
                       f"{len(real)} and {len(fake)}")
    fid = FrechetInceptionDistance(feature=features, sync_on_compute=False)
    subset_size = min(kid_subset_size, len(real), len(fake))
    if subset_size == min(len(real), len(fake)) and len(real) == len(fake):
        kid_subsets = 1  # every subset would be the whole of both sets: the same number
    with warnings.catch_warnings():  # KID warns that it keeps every feature: intended here
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        kid = KernelInceptionDistance(feature=features, subsets=kid_subsets,
                                      subset_size=subset_size, sync_on_compute=False)
    for metric in (fid, kid):
        metric.update(real, real=True)
        metric.update(fake, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std)}


def save_sample_grid(samples: torch.Tensor, path: Path,
                     value_range: tuple[float, float] = (0.0, 1.0)) -> Path:
    """The first :data:`GRID_IMAGES` samples as a PNG, small images scaled up to be seen;
    ``value_range`` (the data's) is mapped to black..white."""
    low, high = value_range
    height, width = samples.shape[-2:]
    return save_grid_png((samples[:GRID_IMAGES] - low) / (high - low), path, nrow=8,
                         scale=max(1, 64 // max(height, width)))


def decode(ids: Any, vocab: list[str]) -> str:
    """Character ids back to text with the dataset's vocabulary.

    Raises:
        ZooError: The ids are not integers of the vocabulary, one sequence of them.
    """
    ids = torch.as_tensor(ids).detach().cpu()
    if ids.is_floating_point() or ids.ndim != 1:
        raise ZooError(f"a text sample must be one sequence of integer ids; got {ids.dtype} "
                       f"of shape {tuple(ids.shape)}")
    if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= len(vocab)):
        raise ZooError(f"sample ids must lie in [0, {len(vocab)}), the vocabulary; got ids "
                       f"from {int(ids.min())} to {int(ids.max())}")
    return "".join(vocab[i] for i in ids.tolist())


def draw_text(model: Any, vocab: list[str], seed: int) -> str:
    """:data:`SAMPLE_LENGTH` characters drawn with a generator seeded by ``seed``.

    Raises:
        ZooError: The model returned other than one sequence of that many ids.
    """
    drawn = torch.as_tensor(model.sample(1, generator=torch.Generator().manual_seed(seed),
                                         length=SAMPLE_LENGTH))
    if tuple(drawn.shape) != (1, SAMPLE_LENGTH):
        raise ZooError(f"sample(1, length={SAMPLE_LENGTH}) returned shape "
                       f"{tuple(drawn.shape)}; expected (1, {SAMPLE_LENGTH})")
    return decode(drawn[0], vocab)


def save_text(text: str, path: Path) -> Path:
    """Write ``text`` as UTF-8 to ``path``, creating its folder; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def save_run_samples(model: Any, info: DataInfo, run_dir: Path, seed: int, *,
                     vocab: list[str] | None = None) -> Path | None:
    """Samples of a trained generator in its run folder, drawn with ``seed``, for a first
    look: a grid of 64 images, or 1,000 characters of text (decoded with ``vocab``), as the
    ``image-gen`` and ``text-gen`` suites save them.

    Returns ``None`` for other models, or with a warning when the samples are unusable: the
    run is stored as trained either way (``zoo evaluate`` reports the fault).
    """
    if info.task != "generate" or not isinstance(model, Sampler):
        return None
    try:
        if info.modality == "image":
            return _save_image_samples(model, info, run_dir / SAMPLE_FILES[0], seed)
        if info.modality == "text" and vocab:
            return save_text(draw_text(model, vocab, seed), run_dir / SAMPLE_FILES[1])
    except ZooError as exc:
        warnings.warn(f"no samples saved: {exc}", stacklevel=2)
    return None


def _save_image_samples(model: Any, info: DataInfo, path: Path, seed: int) -> Path:
    return save_sample_grid(draw_samples(model, GRID_IMAGES, info.shape, seed), path,
                            info.value_range or (0.0, 1.0))
