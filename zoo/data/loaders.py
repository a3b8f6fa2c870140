"""Loaders of the built-in datasets: ``loader(files: list[Path], **options) -> Dataset``.

``files`` are the verified local paths of the spec's files, in the spec's order. numpy and
scikit-learn are imported inside the functions, as everywhere in ``zoo.data``, so importing
this module costs nothing until data is actually loaded.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.data.types import Arrays, DataInfo, Dataset
from zoo.errors import ZooError

if TYPE_CHECKING:
    import numpy as np

_ANOMALY_SEED = 0  # fixed, so the embedded anomaly tables are the same everywhere
_IDX_UBYTE = 0x08  # IDX type code of unsigned bytes, the only one MNIST uses


# -- scikit-learn's bundled datasets ---------------------------------------------------------

def _sklearn(name: str) -> Any:
    """A scikit-learn bundled dataset (``"digits"``, ``"wine"`` ...) as its Bunch."""
    import sklearn.datasets

    return getattr(sklearn.datasets, f"load_{name}")()


def _sklearn_table(name: str, *, task: str) -> Dataset:
    import numpy as np

    bunch = _sklearn(name)
    x = bunch.data.astype(np.float32)
    meta: dict[str, Any] = {"feature_names": list(bunch.feature_names)}
    if task == "classify":
        y = bunch.target.astype(np.int64)
        meta["class_names"] = [str(c) for c in bunch.target_names]
        info = DataInfo("tabular", x.shape[1:], task, n_classes=len(bunch.target_names))
    else:
        y = bunch.target.astype(np.float32)
        info = DataInfo("tabular", x.shape[1:], task, target_dim=1)
    return Dataset(name.replace("_", "-"), info, data=Arrays(x, y), meta=meta)


def _digit_pixels(bunch: Any) -> np.ndarray:
    """The 8x8 digit images as float32 in [0, 1] (scikit-learn stores 0..16 intensities)."""
    import numpy as np

    return (bunch.images / 16.0).astype(np.float32)


def digits(files: list[Path]) -> Dataset:
    """scikit-learn's 1,797 handwritten digits: images (1, 8, 8) in [0, 1], 10 classes."""
    import numpy as np

    bunch = _sklearn("digits")
    x = _digit_pixels(bunch)[:, None]
    info = DataInfo("image", x.shape[1:], "classify", n_classes=10, value_range=(0.0, 1.0))
    return Dataset("digits", info, data=Arrays(x, bunch.target.astype(np.int64)),
                   meta={"class_names": [str(c) for c in bunch.target_names]})


def breast_cancer(files: list[Path]) -> Dataset:
    """Wisconsin diagnostic breast cancer (WDBC): 569 x 30, malignant (0) or benign (1)."""
    return _sklearn_table("breast_cancer", task="classify")


def wine(files: list[Path]) -> Dataset:
    """UCI wine recognition: 178 x 13, three cultivars."""
    return _sklearn_table("wine", task="classify")


def diabetes(files: list[Path]) -> Dataset:
    """Diabetes progression: 442 x 10 (scikit-learn's scaled features), one float target."""
    return _sklearn_table("diabetes", task="regress")


# -- anomaly tables built from scikit-learn's data --------------------------------------------

def _anomaly_table(name: str, x: np.ndarray, normal: np.ndarray, n_anomalies: int,
                   meta: dict[str, Any],
                   value_range: tuple[float, float] | None = None) -> Dataset:
    """All rows where ``normal`` holds, plus ``n_anomalies`` of the others, in original order.

    The anomalies are drawn with ``RandomState(0)``, as the ODDS tables were built, so the
    table is identical on every machine.
    """
    import numpy as np

    candidates = np.flatnonzero(~normal)
    chosen = np.random.RandomState(_ANOMALY_SEED).choice(candidates, n_anomalies, replace=False)
    rows = np.sort(np.concatenate([np.flatnonzero(normal), chosen]))
    y = (~normal[rows]).astype(np.int64)
    info = DataInfo("tabular", x.shape[1:], "detect", value_range=value_range)
    return Dataset(name, info, data=Arrays(x[rows].astype(np.float32), y),
                   meta={**meta, "source_rows": rows})


def breast_cancer_ad(files: list[Path]) -> Dataset:
    """WDBC as anomaly detection (like ODDS / ADBench WDBC): all 357 benign + 10 malignant."""
    bunch = _sklearn("breast_cancer")
    benign = bunch.target == list(bunch.target_names).index("benign")
    return _anomaly_table("breast-cancer-ad", bunch.data, benign, 10,
                          {"feature_names": list(bunch.feature_names)})


def wine_ad(files: list[Path]) -> Dataset:
    """Wine as anomaly detection (like ODDS wine): classes 1 and 2 + 10 rows of class 0."""
    bunch = _sklearn("wine")
    return _anomaly_table("wine-ad", bunch.data, bunch.target != 0, 10,
                          {"feature_names": list(bunch.feature_names)})


def digits_ad(files: list[Path]) -> Dataset:
    """Digits as anomaly detection: every digit but 8 is normal; 8s make ~5% of the table.

    Features are the 64 pixels, flattened, in [0, 1].
    """
    bunch = _sklearn("digits")
    pixels = _digit_pixels(bunch).reshape(len(bunch.target), -1)
    normal = bunch.target != 8
    # n / (normal + n) = 5%  <=>  n = normal * 5 / 95
    n_anomalies = round(int(normal.sum()) * 5 / 95)
    return _anomaly_table("digits-ad", pixels, normal, n_anomalies, {},
                          value_range=(0.0, 1.0))


# -- MNIST and Fashion-MNIST (IDX files) ------------------------------------------------------

def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """An array of unsigned bytes from a gzip-compressed IDX file (LeCun's MNIST format).

    The header is two zero bytes, a type code (0x08 = unsigned byte), the number of
    dimensions, then each dimension as a big-endian uint32.
    """
    import numpy as np

    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise ZooError(f"malformed IDX file {path}: not a readable gzip file ({exc})") from None
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:2] != b"\0\0" or raw[2] != _IDX_UBYTE or raw[3] != ndim:
        raise ZooError(f"malformed IDX file {path}: magic number {raw[:4].hex()!r} is not "
                       f"0x000008{ndim:02x} (unsigned bytes, {ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise ZooError(f"malformed IDX file {path}: {len(raw):,} bytes, expected {expected:,} "
                       f"for shape {shape}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def _idx_split(images_path: Path, labels_path: Path) -> Arrays:
    import numpy as np

    images, labels = _read_idx(images_path, 3), _read_idx(labels_path, 1)
    if len(images) != len(labels):
        raise ZooError(f"{images_path} has {len(images):,} images but {labels_path} has "
                       f"{len(labels):,} labels")
    x = images[:, None].astype(np.float32)
    x /= 255.0
    return Arrays(x, labels.astype(np.int64))


def idx_images(files: list[Path], *, class_names: Sequence[str]) -> Dataset:
    """MNIST-format images: ``files`` = train images, train labels, test images, test labels.

    Returns the fixed 60,000 / 10,000 train / test split, images (1, 28, 28) float32 in [0, 1].
    """
    train_images, train_labels, test_images, test_labels = files
    train = _idx_split(train_images, train_labels)
    test = _idx_split(test_images, test_labels)
    info = DataInfo("image", train.x.shape[1:], "classify", n_classes=len(class_names),
                    value_range=(0.0, 1.0))
    return Dataset(train_images.parent.name, info, train=train, test=test,
                   meta={"class_names": list(class_names)})


# -- ADBench ----------------------------------------------------------------------------------

def adbench(files: list[Path]) -> Dataset:
    """An ADBench classical table (``.npz`` with ``X`` and ``y``, y = 1 anomaly)."""
    import numpy as np

    (path,) = files
    with np.load(path, allow_pickle=False) as arrays:
        x, y = arrays["X"].astype(np.float32), arrays["y"].astype(np.int64)
    if x.ndim != 2 or y.shape != (len(x),):
        raise ZooError(f"{path}: expected X (samples, features) and y (samples,), got "
                       f"{x.shape} and {y.shape}")
    info = DataInfo("tabular", x.shape[1:], "detect")
    return Dataset(path.stem.split("_", 1)[-1].lower(), info, data=Arrays(x, y))


# -- tiny-shakespeare -------------------------------------------------------------------------

def characters(files: list[Path]) -> Dataset:
    """A text file as one sequence of character ids; the vocabulary is its sorted characters.

    ``data.x`` is the whole text as int64 ids (1-D) and ``meta["vocab"]`` the characters, so
    ``"".join(vocab[i] for i in ids)`` gives the text back.
    """
    import numpy as np

    (path,) = files
    text = path.read_text(encoding="utf-8")
    # Code points as an array make the id lookup one vectorised search instead of a loop.
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    alphabet = np.unique(codes)
    ids = np.searchsorted(alphabet, codes).astype(np.int64)
    vocab = [chr(c) for c in alphabet]
    info = DataInfo("text", (len(ids),), "generate", vocab_size=len(vocab))
    return Dataset(path.stem, info, data=Arrays(ids), meta={"vocab": vocab})


# -- NAB --------------------------------------------------------------------------------------

def nab(files: list[Path]) -> Dataset:
    """The Numenta Anomaly Benchmark: every series with its anomaly-window labels.

    ``files`` are the series' CSVs (``.../data/<category>/<name>.csv``) and
    ``combined_windows.json``. ``meta["series"]`` maps NAB's own key
    (``"realKnownCause/nyc_taxi.csv"``) to ``timestamps``, ``values``, per-step ``labels``
    and ``category``. ``data`` is every step of every series concatenated, one row per step
    (one channel), so the dataset is usable as a whole too. Each file is read and checked by
    :func:`zoo.data.series.read_series_csv`: a NaN value or rows out of time order are errors
    naming the file and row.
    """
    from zoo.data.series import read_series_csv, series_dataset, window_labels

    (windows_path,) = [p for p in files if p.name == "combined_windows.json"]
    windows = json.loads(windows_path.read_text(encoding="utf-8"))
    series: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in files if p.suffix == ".csv"):
        key = f"{path.parent.name}/{path.name}"
        if key not in windows:
            raise ZooError(f"{windows_path} has no labels for NAB series {key}")
        read = read_series_csv(path)
        series[key] = {"timestamps": read.timestamps, "values": read.values,
                       "labels": window_labels(read.timestamps, windows[key]),
                       "category": path.parent.name}
    return series_dataset("nab", series)
