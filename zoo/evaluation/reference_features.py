"""The reference classifier whose features ``image-gen`` measures FID and KID in.

FID (Heusel et al. 2017, https://arxiv.org/abs/1706.08500) and KID (Binkowski et al. 2018,
https://arxiv.org/abs/1801.01401) compare two image sets in the features of a trained
network, classically Inception-v3 on ImageNet. For 8x8 digits and 28x28 MNIST-like images an
ImageNet network fits badly and its weights are a download; the suite trains a small CNN on
the dataset's own training split instead, once, deterministically on the CPU, and caches it.
Its features (the penultimate layer) are the instrument: numbers are comparable only when
measured with the same cached classifier, so every result row carries its key and test
accuracy.

The cache key is the sha256 of the training images and labels, the architecture and recipe
(:data:`RECIPE`) and the seed: changing any of them trains a new classifier. Files are
``<key>.safetensors`` (weights) and ``<key>.json`` (card: recipe, accuracy, rows, seconds),
no pickles, in :func:`cache_dir`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoo.data.types import Arrays
from zoo.errors import ZooError
from zoo.evaluation.samples import one_thread

CACHE_DIR_ENV = "ZOO_CACHE_DIR"
_FEATURE_BATCH = 1024


@dataclass(frozen=True)
class Recipe:
    """How the reference classifier is built and trained; part of the cache key.

    Bump :attr:`version` when the code changes in a way these fields do not capture.

    Args:
        version: Version of the architecture and training code.
        channels: Output channels of the two convolution blocks.
        features: Width of the penultimate layer, the feature space of FID and KID.
        dropout: Dropout before the output layer during training.
        epochs: Passes over the training images ...
        min_steps: ... but at least this many Adam steps (small datasets such as digits).
        batch_size: Images per step.
        lr: Adam learning rate, decayed to zero with a cosine schedule.
        seed: Seeds the initial weights and the batch order.
    """

    version: int = 1
    channels: tuple[int, int] = (8, 16)
    features: int = 128
    dropout: float = 0.3
    epochs: int = 6
    min_steps: int = 500
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0

    def steps(self, n_train: int) -> int:
        """Adam steps for ``n_train`` training images."""
        return max(self.min_steps, -(-self.epochs * n_train // self.batch_size))


RECIPE = Recipe()


class ReferenceCNN(nn.Module):
    """Two 3x3 convolution blocks (conv, ReLU, 2x2 max-pool), a hidden layer, class logits.

    A LeNet-style network (LeCun et al. 1998, https://doi.org/10.1109/5.726791) sized for
    8x8 to 28x28 images; the hidden layer's ReLU activations are the features.
    """

    def __init__(self, shape: tuple[int, int, int], n_classes: int, recipe: Recipe) -> None:
        super().__init__()
        channels, height, width = shape
        if height < 4 or width < 4:
            raise ZooError(f"the reference classifier needs images of at least 4x4 pixels; "
                           f"got {height}x{width}")
        first, second = recipe.channels
        self.convolutions = nn.Sequential(
            nn.Conv2d(channels, first, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(first, second, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.hidden = nn.Sequential(
            nn.Linear(second * (height // 4) * (width // 4), recipe.features), nn.ReLU())
        self.output = nn.Sequential(nn.Dropout(recipe.dropout),
                                    nn.Linear(recipe.features, n_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(self.convolutions(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.features(x))


class ReferenceFeatures(nn.Module):
    """The classifier's penultimate layer as a feature extractor for torchmetrics.

    torchmetrics' ``FrechetInceptionDistance`` and ``KernelInceptionDistance`` accept any
    module as ``feature``; this one stays in evaluation mode (no dropout), runs on the CPU in
    batches whatever device the images are on, and returns float64 so that KID's cubic kernel
    sums keep their precision.
    """

    def __init__(self, network: ReferenceCNN) -> None:
        super().__init__()
        self.network = network.eval()
        self.num_features = network.hidden[0].out_features

    def train(self, mode: bool = True) -> ReferenceFeatures:
        return super().train(False)  # an instrument: never in training mode

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = images.detach().float().cpu()
        with one_thread():  # the same features on every machine
            return torch.cat([self.network.features(batch).double()
                              for batch in images.split(_FEATURE_BATCH)])


@dataclass(frozen=True)
class ReferenceClassifier:
    """A trained reference classifier and what the result rows say about it.

    Args:
        features: The feature extractor (penultimate layer).
        key: The cache key (sha256 hex).
        accuracy: Accuracy on the held-out test images it was checked on.
        seconds: Training time when it was trained.
        cached: Whether it was loaded from the cache rather than trained now.
    """

    features: ReferenceFeatures
    key: str
    accuracy: float
    seconds: float
    cached: bool

    def describe(self) -> dict[str, Any]:
        """What a result row records: the key, the test accuracy and the recipe version."""
        return {"key": self.key, "accuracy": self.accuracy, "recipe": RECIPE.version,
                "train_seconds": round(self.seconds, 1)}


def cache_dir() -> Path:
    """Where trained reference classifiers are kept.

    ``$ZOO_CACHE_DIR/reference-classifiers`` when ``ZOO_CACHE_DIR`` is set, else
    ``$ZOO_HOME/cache/reference-classifiers`` when ``ZOO_HOME`` is set (beside the default
    runs database), else the user cache dir (``~/.cache/zoo/reference-classifiers`` on Linux,
    beside the downloaded data).
    """
    if os.environ.get(CACHE_DIR_ENV):
        root = Path(os.environ[CACHE_DIR_ENV]).expanduser()
    elif os.environ.get("ZOO_HOME"):
        root = Path(os.environ["ZOO_HOME"]).expanduser() / "cache"
    else:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("zoo"))
    return root / "reference-classifiers"


def content_key(train: Arrays, n_classes: int, recipe: Recipe = RECIPE) -> str:
    """sha256 of the training images and labels, their shape and dtype, and the recipe."""
    if train.y is None:
        raise ZooError("the reference classifier of image-gen needs class labels in the "
                       "training data")
    digest = hashlib.sha256()
    x, y = np.ascontiguousarray(train.x), np.ascontiguousarray(train.y)
    meta = {"recipe": asdict(recipe), "n_classes": n_classes, "x": [x.dtype.str, x.shape],
            "y": [y.dtype.str, y.shape]}
    digest.update(json.dumps(meta, sort_keys=True).encode())
    digest.update(memoryview(x).cast("B"))
    digest.update(memoryview(y).cast("B"))
    return digest.hexdigest()


def reference_classifier(train: Arrays, test: Arrays, n_classes: int, *,
                         directory: Path | None = None,
                         recipe: Recipe = RECIPE) -> ReferenceClassifier:
    """The reference classifier for ``train``: loaded from the cache, else trained and saved.

    Args:
        train: Labelled training images ``(N, C, H, W)``.
        test: Labelled held-out images; the accuracy on them is recorded with the weights.
        n_classes: Number of classes.
        directory: The cache folder; default :func:`cache_dir`.
        recipe: Architecture and training recipe.
    """
    directory = cache_dir() if directory is None else directory
    key = content_key(train, n_classes, recipe)
    shape = tuple(int(d) for d in train.x.shape[1:])
    if len(shape) != 3:
        raise ZooError(f"the reference classifier needs images (C, H, W); got samples of "
                       f"shape {shape}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)  # the initial weights
        network = ReferenceCNN(shape, n_classes, recipe)  # type: ignore[arg-type]
    card = _load(directory, key, network)
    if card is not None:
        return ReferenceClassifier(ReferenceFeatures(network), key, card["accuracy"],
                                   card["seconds"], cached=True)
    start = time.perf_counter()
    _train(network, train, recipe)
    seconds = time.perf_counter() - start
    accuracy = _accuracy(network, test)
    _save(directory, key, network, {
        "key": key, "recipe": asdict(recipe), "shape": list(shape), "n_classes": n_classes,
        "train_rows": len(train), "test_rows": len(test), "accuracy": accuracy,
        "seconds": seconds, "torch": torch.__version__})
    return ReferenceClassifier(ReferenceFeatures(network), key, accuracy, seconds, cached=False)


def _train(network: ReferenceCNN, train: Arrays, recipe: Recipe) -> None:
    """Adam with a cosine-decayed rate on shuffled batches; seeded, CPU, one thread."""
    generator = torch.Generator().manual_seed(recipe.seed)
    with torch.random.fork_rng(devices=[]), one_thread():  # the caller's generator untouched
        torch.manual_seed(recipe.seed)  # dropout masks
        x = torch.as_tensor(train.x, dtype=torch.float32)
        y = torch.as_tensor(train.y, dtype=torch.long)
        optimizer = torch.optim.Adam(network.parameters(), lr=recipe.lr)
        steps = recipe.steps(len(x))
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
        network.train()
        order = torch.empty(0, dtype=torch.long)
        for _ in range(steps):
            if len(order) < recipe.batch_size:  # a new epoch: reshuffle
                order = torch.randperm(len(x), generator=generator)
            batch, order = order[:recipe.batch_size], order[recipe.batch_size:]
            loss = F.cross_entropy(network(x[batch]), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        network.eval()


@torch.no_grad()
def _accuracy(network: ReferenceCNN, test: Arrays) -> float:
    if test.y is None or not len(test):
        raise ZooError("the reference classifier of image-gen needs labelled test images")
    network.eval()
    x = torch.as_tensor(test.x, dtype=torch.float32)
    predicted = torch.cat([network(batch).argmax(1) for batch in x.split(_FEATURE_BATCH)])
    return float((predicted == torch.as_tensor(test.y)).double().mean())


def _load(directory: Path, key: str, network: ReferenceCNN) -> dict[str, Any] | None:
    """Load cached weights into ``network``; their card, or None when not cached."""
    from safetensors.torch import load_file

    weights, card_path = directory / f"{key}.safetensors", directory / f"{key}.json"
    if not (weights.is_file() and card_path.is_file()):
        return None
    card = json.loads(card_path.read_text(encoding="utf-8"))
    if card.get("key") != key:
        return None
    network.load_state_dict(load_file(weights))
    network.eval()
    return card


def _save(directory: Path, key: str, network: ReferenceCNN, card: dict[str, Any]) -> None:
    """Write weights then card, each atomically: a card is present only beside its weights."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    suffix = f".{os.getpid()}.part"
    weights = directory / f"{key}.safetensors"
    save_file({k: v.contiguous() for k, v in network.state_dict().items()},
              str(weights) + suffix)
    os.replace(str(weights) + suffix, weights)
    card_path = directory / f"{key}.json"
    Path(str(card_path) + suffix).write_text(json.dumps(card, indent=2), encoding="utf-8")
    os.replace(str(card_path) + suffix, card_path)
