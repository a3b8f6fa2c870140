"""The data layer: files and checksums, downloads, loaders, user files and splits.

Tests that read the shared benchmark files take them from ``ZOO_DATA_DIR`` (CI points it at
the shared data folder) and are skipped when it is unset or lacks the files.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs
import pytest

from zoo.data import Arrays, DataInfo, Dataset, load_dataset, make_splits
from zoo.data.files import data_dir, fetch, present, sha256
from zoo.data.loaders import idx_images
from zoo.data.splits import standardize
from zoo.data.user_files import infer_task, load_user_file, supported_tasks
from zoo.errors import UnknownNameError, ZooError
from zoo.plugins import get_host
from zoo.plugins.specs import DataFile, DatasetSpec

SHARED = Path(os.environ["ZOO_DATA_DIR"]) if os.environ.get("ZOO_DATA_DIR") else None


def shared_files(*paths: str) -> Path:
    """The shared data directory, or skip the test when it lacks any of ``paths``."""
    if SHARED is None:
        pytest.skip("ZOO_DATA_DIR is not set")
    missing = [p for p in paths if not (SHARED / p).is_file()]
    if missing:
        pytest.skip(f"{SHARED} lacks {', '.join(missing)}")
    return SHARED


def spec_files(name: str) -> list[str]:
    return [file.path for file in get_host().dataset(name).files]


def data_file(path: str, content: bytes, url: str = "http://127.0.0.1:9/none") -> DataFile:
    return DataFile(path, url, hashlib.sha256(content).hexdigest(), len(content))


# -- files, checksums, downloads --------------------------------------------------------------

@pytest.fixture
def no_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server over a temporary folder: ``(base URL, folder)``.

    It runs in a daemon thread, is shut down after the test, and shuts itself down after 30 s
    whatever happens, so a hung test cannot leave it running.
    """
    root = tmp_path / "served"
    root.mkdir()

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    watchdog = threading.Timer(30, httpd.shutdown)
    watchdog.daemon = True
    thread.start()
    watchdog.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", root
    finally:
        watchdog.cancel()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/blob.bin"  # nothing listens there any more


def test_sha256_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"zoo" * 1_000_000)
    assert sha256(path) == hashlib.sha256(b"zoo" * 1_000_000).hexdigest()


def test_data_dir_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("ZOO_DATA_DIR")
    assert data_dir() == Path(platformdirs.user_cache_dir("zoo")) / "data"


def test_fetch_returns_a_verified_local_file(tmp_path: Path) -> None:
    file = data_file("sub/blob.bin", b"payload")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/blob.bin").write_bytes(b"payload")
    assert fetch(file, data_dir=tmp_path, download=False) == tmp_path / "sub/blob.bin"


def test_a_local_file_with_the_wrong_checksum_is_not_used(tmp_path: Path) -> None:
    file = data_file("blob.bin", b"expected content")
    (tmp_path / "blob.bin").write_bytes(b"corrupted content")
    with pytest.raises(ZooError) as error:
        fetch(file, data_dir=tmp_path)
    message = str(error.value)
    assert "blob.bin" in message and file.sha256 in message
    assert hashlib.sha256(b"corrupted content").hexdigest() in message


def test_download_verifies_then_renames_into_place(server: tuple[str, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   no_offline: None) -> None:
    url, served = server
    content = os.urandom(300_000)
    (served / "blob.bin").write_bytes(content)
    file = data_file("nested/dir/blob.bin", content, url + "blob.bin")
    target = fetch(file, data_dir=tmp_path / "data")
    assert target == tmp_path / "data/nested/dir/blob.bin"
    assert target.read_bytes() == content
    assert [p.name for p in target.parent.iterdir()] == ["blob.bin"]  # no partial file left
    assert "nested/dir/blob.bin" in capsys.readouterr().err  # the progress bar


def test_a_bad_download_is_rejected_and_removed(server: tuple[str, Path], tmp_path: Path,
                                                no_offline: None) -> None:
    url, served = server
    (served / "blob.bin").write_bytes(b"tampered")
    file = data_file("blob.bin", b"genuine", url + "blob.bin")
    with pytest.raises(ZooError) as error:
        fetch(file, data_dir=tmp_path / "data")
    assert file.sha256 in str(error.value)
    assert hashlib.sha256(b"tampered").hexdigest() in str(error.value)
    assert list((tmp_path / "data").iterdir()) == []  # neither the file nor a partial one


@pytest.mark.parametrize("how", ["network failure", "ZOO_OFFLINE=1", "download=False"])
def test_a_missing_file_offline_says_what_to_put_where(how: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_OFFLINE", "1" if how == "ZOO_OFFLINE=1" else "0")
    file = data_file("mnist/blob.bin", b"content", closed_port_url())
    with pytest.raises(ZooError) as error:
        fetch(file, data_dir=tmp_path, download=how != "download=False")
    message = str(error.value)
    assert "\n" not in message
    for part in (file.path, file.sha256, file.url, str(tmp_path / "mnist/blob.bin")):
        assert part in message
    assert not (tmp_path / "mnist/blob.bin").exists()


def test_present_checks_existence_only(tmp_path: Path) -> None:
    files = (data_file("a.bin", b"a"), data_file("b.bin", b"b"))
    spec = DatasetSpec("two", "tabular", ("detect",), "zoo.data.loaders:adbench", files=files)
    (tmp_path / "a.bin").write_bytes(b"a")
    assert not present(spec, tmp_path)
    (tmp_path / "b.bin").write_bytes(b"not b")  # not hashed: fetch verifies on load
    assert present(spec, tmp_path)


# -- the registry -----------------------------------------------------------------------------

def test_builtin_specs_match_the_shared_checksums() -> None:
    root = shared_files("SHA256SUMS")
    sums = dict(line.split()[::-1] for line in (root / "SHA256SUMS").read_text().splitlines())
    registered = {f.path: f.sha256 for spec in get_host().datasets().values()
                  for f in spec.files}
    assert {p: sums[p] for p in registered} == registered
    assert {p for p in sums if p.startswith("adbench_classical/")} <= set(registered)
    assert len([p for p in registered if p.startswith("nab/data/")]) == 58


@pytest.mark.parametrize(("name", "file"), [("cardio", "6_cardio.npz"),
                                            ("satimage-2", "31_satimage-2.npz"),
                                            ("cardiotocography", "7_Cardiotocography.npz"),
                                            ("adbench-wine", "45_wine.npz"),
                                            ("adbench-mnist", "24_mnist.npz")])
def test_adbench_names(name: str, file: str) -> None:
    spec = get_host().dataset(name)
    assert spec.files[0].path == f"adbench_classical/{file}"
    assert spec.files[0].url.endswith(f"/adbench/datasets/Classical/{file}")


def test_unknown_dataset_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'cardio'"):
        load_dataset("cardoi")


# -- loaders ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "modality", "shape", "task", "n_classes", "n", "anomalies"), [
    ("digits", "image", (1, 8, 8), "classify", 10, 1797, None),
    ("breast-cancer", "tabular", (30,), "classify", 2, 569, None),
    ("wine", "tabular", (13,), "classify", 3, 178, None),
    ("diabetes", "tabular", (10,), "regress", None, 442, None),
    ("breast-cancer-ad", "tabular", (30,), "detect", None, 367, 10),
    ("wine-ad", "tabular", (13,), "detect", None, 129, 10),
    ("digits-ad", "tabular", (64,), "detect", None, 1708, 85),
])
def test_embedded_datasets(name: str, modality: str, shape: tuple[int, ...], task: str,
                           n_classes: int | None, n: int, anomalies: int | None) -> None:
    dataset = load_dataset(name)
    info, data = dataset.info, dataset.all()
    assert (dataset.name, info.modality, info.shape, info.task, info.n_classes) == (
        name, modality, shape, task, n_classes)
    assert data.x.shape == (n, *shape) and data.x.dtype == np.float32
    if task == "regress":
        assert data.y.dtype == np.float32 and data.y.shape == (n,) and info.target_dim == 1
    else:
        assert data.y.dtype == np.int64
    if anomalies is not None:
        assert int(data.y.sum()) == anomalies
        np.testing.assert_array_equal(load_dataset(name).all().x, data.x)  # fixed seed
    if info.value_range == (0.0, 1.0):
        assert data.x.min() >= 0 and data.x.max() <= 1


@pytest.mark.parametrize(("name", "pixel_mean"), [("mnist", 0.1307), ("fashion-mnist", 0.2860)])
def test_idx_image_datasets(name: str, pixel_mean: float) -> None:
    root = shared_files(*spec_files(name))
    dataset = load_dataset(name, data_dir=root, download=False)
    assert dataset.data is None
    assert dataset.train.x.shape == (60_000, 1, 28, 28) and dataset.test.x.shape[0] == 10_000
    assert dataset.train.x.dtype == np.float32 and dataset.train.y.dtype == np.int64
    assert dataset.train.x.min() == 0.0 and dataset.train.x.max() == 1.0
    assert dataset.train.x.mean() == pytest.approx(pixel_mean, abs=1e-3)
    assert set(np.unique(dataset.test.y)) == set(range(10)) and dataset.info.n_classes == 10


def _idx_bytes(magic: bytes, dims: tuple[int, ...], n_values: int) -> bytes:
    header = magic + b"".join(d.to_bytes(4, "big") for d in dims)
    return gzip.compress(header + bytes(n_values))


@pytest.mark.parametrize(("images", "problem"), [
    (_idx_bytes(b"\0\0\x08\x01", (2, 3, 3), 18), "magic number"),  # a labels header
    (_idx_bytes(b"\0\0\x0d\x03", (2, 3, 3), 18), "magic number"),  # floats, not bytes
    (_idx_bytes(b"\0\0\x08\x03", (2, 3, 3), 17), "expected"),  # truncated
    (b"not gzip at all", "gzip"),
])
def test_malformed_idx_files_are_clear_errors(images: bytes, problem: str,
                                              tmp_path: Path) -> None:
    paths = [tmp_path / name for name in ("ti.gz", "tl.gz", "vi.gz", "vl.gz")]
    for path, content in zip(paths, [images, _idx_bytes(b"\0\0\x08\x01", (2,), 2)] * 2,
                             strict=True):
        path.write_bytes(content)
    with pytest.raises(ZooError, match=f"malformed IDX file .*ti.gz.*{problem}"):
        idx_images(paths, class_names=("a", "b"))


def test_adbench_table() -> None:
    root = shared_files(*spec_files("cardio"))
    dataset = load_dataset("cardio", data_dir=root, download=False)
    assert dataset.name == "cardio" and dataset.info.task == "detect"
    assert dataset.data.x.shape == (1831, 21) and dataset.data.x.dtype == np.float32
    assert dataset.data.y.dtype == np.int64 and int(dataset.data.y.sum()) == 176


def test_tiny_shakespeare() -> None:
    root = shared_files(*spec_files("tiny-shakespeare"))
    dataset = load_dataset("tiny-shakespeare", data_dir=root, download=False)
    ids, vocab = dataset.data.x, dataset.meta["vocab"]
    assert ids.shape == (1_115_394,) and ids.dtype == np.int64 and dataset.data.y is None
    assert len(vocab) == 65 == dataset.info.vocab_size and vocab == sorted(vocab)
    text = (root / "tinyshakespeare/input.txt").read_text()
    assert "".join(vocab[i] for i in ids[:500]) == text[:500]
    assert dataset.info.shape == (1_115_394,) and dataset.info.task == "generate"


def test_nab() -> None:
    root = shared_files(*spec_files("nab"))
    dataset = load_dataset("nab", data_dir=root, download=False)
    series = dataset.meta["series"]
    assert len(series) == 58 and dataset.info.modality == "timeseries"
    taxi = series["realKnownCause/nyc_taxi.csv"]
    assert taxi["category"] == "realKnownCause" and len(taxi["values"]) == 10_320
    assert taxi["timestamps"].dtype.kind == "M" and taxi["values"].dtype == np.float32
    assert taxi["labels"].dtype == np.int64 and 0 < taxi["labels"].sum() < len(taxi["labels"])
    assert series["artificialNoAnomaly/art_flatline.csv"]["labels"].sum() == 0
    total = sum(len(s["values"]) for s in series.values())
    assert dataset.data.x.shape == (total, 1) and dataset.data.y.shape == (total,)
    assert int(dataset.data.y.sum()) == sum(int(s["labels"].sum()) for s in series.values())


# -- user files -------------------------------------------------------------------------------

def write_csv(tmp_path: Path, text: str, name: str = "table.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("labels", "task"), [
    (None, "detect"),
    (np.array([0] * 9 + [1]), "detect"),
    (np.array([0, 1] * 5), "classify"),
    (np.array([0, 1, 2, 2]), "classify"),
    (np.array([0.5, 1.5]), "regress"),
    (np.array(["cat", "dog"]), "classify"),
])
def test_infer_task(labels: np.ndarray | None, task: str) -> None:
    assert infer_task(labels) == task


def test_npz_table_with_labels(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(50, 4))
    np.savez(tmp_path / "t.npz", X=x, y=np.array([0] * 45 + [1] * 5))
    dataset = load_user_file(tmp_path / "t.npz")
    assert dataset.info.modality == "tabular" and dataset.info.task == "detect"
    np.testing.assert_allclose(dataset.data.x, x.astype(np.float32))


@pytest.mark.parametrize(("shape", "image_shape"), [((6, 5, 5), (1, 5, 5)),
                                                    ((6, 3, 5, 5), (3, 5, 5))])
def test_npz_images(tmp_path: Path, shape: tuple[int, ...],
                    image_shape: tuple[int, ...]) -> None:
    np.savez(tmp_path / "img.npz", X=np.full(shape, 255, dtype=np.uint8), y=np.arange(6) % 3)
    dataset = load_dataset(str(tmp_path / "img.npz"))
    assert dataset.info.modality == "image" and dataset.info.shape == image_shape
    assert dataset.data.x.max() == 1.0 and dataset.info.value_range == (0.0, 1.0)
    assert dataset.info.task == "classify" and dataset.info.n_classes == 3


@pytest.mark.parametrize(("label_header", "values", "task"), [
    ("label", ["0", "0", "0", "0", "1"], "detect"),
    ("Target", ["1.5", "2.5", "0.1", "3", "4"], "regress"),
    ("IS_ANOMALY", ["0", "1", "0", "1", "1"], "classify"),
    ("class", ["cat", "dog", "cat", "cat", "dog"], "classify"),
])
def test_csv_with_a_label_column(tmp_path: Path, label_header: str, values: list[str],
                                 task: str) -> None:
    rows = "".join(f"{i},{i * 2.5},{v}\n" for i, v in enumerate(values))
    dataset = load_dataset(str(write_csv(tmp_path, f"a, b,{label_header}\n{rows}")))
    assert dataset.info.task == task and dataset.info.shape == (2,)
    assert dataset.meta["feature_names"] == ["a", "b"]
    assert dataset.data.x[3].tolist() == [3.0, 7.5]
    assert dataset.data.y.dtype == (np.float32 if task == "regress" else np.int64)


def test_csv_label_column_given_by_name(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "kind,x\n2,0.1\n3,0.2\n2,0.3\n")
    dataset = load_user_file(path, label_column="kind", task="classify")
    assert dataset.data.y.tolist() == [0, 1, 0] and dataset.meta["class_names"] == ["2", "3"]


@pytest.mark.parametrize(("cell", "problem"), [
    ("abc", "value 'abc' is not a number; fill the cell with a number or drop the row"),
    ("", "empty value; fill the cell with a number or drop the row"),
    ("NaN", "value 'NaN' is missing or infinite; fill the cell or drop the row"),
    ("-inf", "value '-inf' is missing or infinite; fill the cell or drop the row"),
])
def test_a_bad_csv_cell_names_its_column_and_row(tmp_path: Path, cell: str,
                                                 problem: str) -> None:
    path = write_csv(tmp_path, f"a,b,label\n1,2,0\n3,{cell},1\n")
    with pytest.raises(ZooError) as error:
        load_user_file(path)
    assert str(error.value) == f"{path}, column 'b', row 2 (line 3): {problem}"


@pytest.mark.parametrize(("name", "content", "problem"), [
    ("none.csv", None, "no such data file"),
    ("table.json", "{}", "unsupported data file"),
    ("empty.csv", "a,b\n", "no data rows"),
    ("ragged.csv", "a,b\n1,2\n3\n", "row 2 (line 3): 1 cells"),
    ("nolabel.csv", "label\n1\n", "no feature columns"),
    ("garbage.npz", "not a zip file", "is not an .npz file"),
    ("nothing.csv", "", "is empty; expected a header row of column names"),
    ("blank.csv", "\n\n", "is empty; expected a header row of column names"),
    ("latin1.csv", b"a,b\n1,caf\xe9\n", "is not UTF-8 text (invalid continuation byte at "
                                          "byte 9); save it as a UTF-8 CSV"),
    ("latin1-series.csv", b"timestamp,value\n2024-01-01,\xe9\n", "is not UTF-8 text"),
    ("huge.csv", "a,b\n1,1e300\n", "value '1e300' is beyond float32's range"),
    ("empty.txt", "", "is empty; a language model needs text to train on"),
    ("nothing.npz", "", "is not an .npz file"),
    ("nothing.mat", "", "is not a readable MATLAB .mat file"),
    ("garbage.mat", "MATLAB? no, a shopping list", "is not a readable MATLAB .mat file"),
])
def test_user_file_errors(tmp_path: Path, name: str, content: str | bytes | None,
                          problem: str) -> None:
    if isinstance(content, bytes):
        (tmp_path / name).write_bytes(content)
    elif content is not None:
        write_csv(tmp_path, content, name)
    with pytest.raises(ZooError, match=re.escape(problem)):
        load_user_file(tmp_path / name)


@pytest.mark.parametrize(("arrays", "problem"), [
    ({"features": np.zeros((3, 2))}, "no array 'X'"),
    ({"X": np.zeros(3)}, "has shape"),
    ({"X": np.array([[1.0, np.nan]])}, r"X\[0, 1\] is nan"),
    ({"X": np.zeros((3, 2)), "y": np.zeros(2)}, "expected \\(3,\\)"),
    ({"X": np.zeros((3, 0))}, r"X has shape \(3, 0\), so no features"),
    ({"X": np.full((3, 2), 1e300)}, r"X\[0, 0\] is 1e\+300; beyond float32's range"),
    ({"X": np.array([np.zeros((2, 2)), np.zeros((3, 3))], dtype=object)},
     "Object arrays cannot be loaded"),  # images of mixed shapes
    ({"X": np.array([["a", "b"]])}, "X holds <U1 values, expected numbers"),
])
def test_npz_errors(tmp_path: Path, arrays: dict[str, np.ndarray], problem: str) -> None:
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ZooError, match=problem):
        load_user_file(tmp_path / "bad.npz")


@pytest.mark.parametrize("v73", [False, True], ids=["v5", "v7.3"])
def test_mat_tables_load_as_their_npz_does(tmp_path: Path, write_mat: Callable[..., Path],
                                           v73: bool) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4)), (np.arange(30) < 3).astype(np.int64)
    np.savez(tmp_path / "t.npz", X=x, y=y)
    # ODDS' layout: y a column of doubles
    mat = write_mat(tmp_path / "t.mat", {"X": x, "y": y[:, None].astype(np.float64)}, v73=v73)
    from_mat, from_npz = load_user_file(mat), load_user_file(tmp_path / "t.npz")
    np.testing.assert_array_equal(from_mat.data.x, from_npz.data.x)
    np.testing.assert_array_equal(from_mat.data.y, from_npz.data.y)
    assert from_mat.info == from_npz.info and from_mat.tasks == from_npz.tasks
    assert from_mat.data.y.dtype == np.int64 and from_mat.info.task == "detect"


@pytest.mark.parametrize(("arrays", "v73", "problem"), [
    ({"data": np.zeros((3, 2))}, False, "has no array 'X' (it has data); save it with "
                                        "scipy.io.savemat"),
    ({"X": np.zeros((3, 2))}, True, ""),  # loads: y is optional
    ({"X": np.array([np.zeros(2), np.zeros(3)], dtype=object)}, False,
     "X holds object values, expected numbers"),  # a cell array
    ({"X": np.zeros((3, 2)), "y": np.zeros((1, 2))}, True, "labels have shape (2,), expected "
                                                           "(3,) to match X"),
])
def test_mat_errors(tmp_path: Path, write_mat: Callable[..., Path], arrays: dict[str, Any],
                    v73: bool, problem: str) -> None:
    path = write_mat(tmp_path / "bad.mat", arrays, v73=v73)
    if not problem:
        assert load_user_file(path).data.x.shape == (3, 2)
        return
    with pytest.raises(ZooError, match=re.escape(problem)):
        load_user_file(path)


def test_a_v73_struct_is_refused_in_one_line(tmp_path: Path) -> None:
    import h5py

    with h5py.File(tmp_path / "struct.mat", "w") as f:
        f.create_group("X").attrs["MATLAB_class"] = np.bytes_("struct")
    with pytest.raises(ZooError, match=r"X is a MATLAB struct value, not a numeric matrix"):
        load_user_file(tmp_path / "struct.mat")


@pytest.mark.parametrize(("labels", "tasks"), [
    (None, ("detect", "generate")),
    (np.array([0] * 9 + [1]), ("detect", "classify", "generate")),
    (np.array([0, 1] * 5), ("classify", "detect", "generate")),  # 50% ones: still detect data
    (np.array([0, 1, 2]), ("classify", "generate")),
    (np.array([0.5, 1.5]), ("regress", "generate")),
])
def test_labels_serve_every_task_they_fit_the_inferred_one_first(
        labels: np.ndarray | None, tasks: tuple[str, ...]) -> None:
    assert supported_tasks(labels) == tasks


def test_labels_that_do_not_fit_the_task(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "x,label\n1,0\n2,2\n")
    with pytest.raises(ZooError, match="0 \\(normal\\) or 1 \\(anomaly\\)"):
        load_user_file(path, task="detect")
    with pytest.raises(ZooError, match="no labels for task 'classify'"):
        load_user_file(write_csv(tmp_path, "x\n1\n", "unlabelled.csv"), task="classify")


# -- splits -----------------------------------------------------------------------------------

def table(n: int = 200, anomalies: int = 20) -> Dataset:
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.zeros(n, dtype=np.int64)
    y[:anomalies] = 1
    return Dataset("table", DataInfo("tabular", (3,), "detect"), data=Arrays(x, y))


def test_splits_are_deterministic_given_the_seed() -> None:
    first, again = (make_splits(table(), seed=7, task="detect") for _ in range(2))
    other = make_splits(table(), seed=8, task="detect")
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(first, part).x, getattr(again, part).x)
    assert not np.array_equal(first.test.x, other.test.x)
    assert (len(first.train), len(first.val), len(first.test)) == (140, 30, 30)
    rows = np.concatenate([first.train.x[:, 0], first.val.x[:, 0], first.test.x[:, 0]])
    assert sorted(rows.tolist()) == table().data.x[:, 0].tolist()  # a partition


@pytest.mark.parametrize("seed", range(5))
def test_splits_are_stratified(seed: int) -> None:
    splits = make_splits(table(), seed=seed, task="classify", val_fraction=0.25,
                         test_fraction=0.25)
    assert [int(part.y.sum()) for part in (splits.train, splits.val, splits.test)] == [10, 5, 5]
    assert splits.info.task == "classify" and splits.info.n_classes == 2


def test_a_singleton_class_falls_back_to_an_unstratified_split() -> None:
    splits = make_splits(table(anomalies=1), seed=0, task="detect")
    assert sum(int(p.y.sum()) for p in (splits.train, splits.val, splits.test)) == 1


def test_a_fixed_test_split_is_kept() -> None:
    train, test = table(100).data, table(40).data
    dataset = Dataset("fixed", DataInfo("tabular", (3,), "detect"), train=train, test=test)
    splits = make_splits(dataset, seed=0, task="detect", val_fraction=0.2)
    assert splits.test is test
    assert (len(splits.train), len(splits.val)) == (80, 20)


@pytest.mark.parametrize(("modality", "shape", "x"), [
    ("timeseries", (1,), np.arange(100, dtype=np.float32)[:, None]),
    ("text", (100,), np.arange(100, dtype=np.int64)),
])
def test_sequences_are_split_by_time(modality: str, shape: tuple[int, ...],
                                     x: np.ndarray) -> None:
    dataset = Dataset("seq", DataInfo(modality, shape, "generate"), data=Arrays(x))
    splits = make_splits(dataset, seed=3, task="generate", val_fraction=0.1, test_fraction=0.2)
    parts = [splits.train.x.ravel(), splits.val.x.ravel(), splits.test.x.ravel()]
    assert [len(p) for p in parts] == [70, 10, 20]
    np.testing.assert_array_equal(np.concatenate(parts), x.ravel())  # in order, no shuffle


@pytest.mark.parametrize(("rows", "labels", "task", "problem"), [
    (2, [0, 1], "classify", "2 samples are too few for a train/validation/test split; it "
                            "needs at least 5 (3 to train on)"),
    (4, [0, 1, 0, 1], "regress", "4 samples are too few for a train/validation/test split; "
                                 "it needs at least 5"),
    (5, [0, 0, 0, 0, 0], "classify", "every label is 0, a single class; classify needs two "
                                     "classes or more"),
])
def test_tables_too_small_or_of_one_class_say_so(rows: int, labels: list[int], task: str,
                                                  problem: str) -> None:
    dataset = Dataset("tiny", DataInfo("tabular", (3,), "classify"),
                      data=Arrays(np.zeros((rows, 3), np.float32), np.array(labels)))
    with pytest.raises(ZooError, match=re.escape(f"dataset 'tiny': {problem}")):
        make_splits(dataset, seed=0, task=task)


@pytest.mark.parametrize(("model", "table", "problem"), [
    ("iforest", "a,b\n1,2\n3,4\n", "training on every row (no labels) leaves 2 rows to train "
                                    "on; at least 3 are needed"),
    ("mlp", "a,label\n1,0\n2,1\n", "2 samples are too few for a train/validation/test split; "
                                   "it needs at least 5"),
    ("iforest", "a,label\n" + "".join(f"{i},0\n" for i in range(20)),
     "every label is 0, so there are no anomalies (label 1) to score against"),
])
def test_zoo_train_says_what_is_wrong_with_a_tiny_or_one_class_table(
        tmp_path: Path, zoo_cli: Callable[..., Any], model: str, table: str,
        problem: str) -> None:
    path = write_csv(tmp_path, table)
    done = zoo_cli("train", model, "--data", str(path), "--db", str(tmp_path / "runs.db"))
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"Error: dataset '{path}': {problem}")


def test_split_errors() -> None:
    with pytest.raises(ZooError, match="unknown task"):
        make_splits(table(), seed=0, task="cluster")
    with pytest.raises(ZooError, match="sum to less than 1"):
        make_splits(table(), seed=0, task="detect", val_fraction=0.5, test_fraction=0.5)
    unlabelled = Dataset("u", DataInfo("tabular", (3,), "detect"), data=Arrays(table().data.x))
    with pytest.raises(ZooError, match="no labels"):
        make_splits(unlabelled, seed=0, task="classify")


def test_standardize_uses_train_statistics_only() -> None:
    data = table(300)
    data.data.x[:, 1] = 5.0  # a constant column
    splits = standardize(make_splits(data, seed=0, task="detect"))
    assert np.allclose(splits.train.x[:, [0, 2]].mean(axis=0), 0, atol=1e-5)
    assert np.allclose(splits.train.x[:, [0, 2]].std(axis=0), 1, atol=1e-4)
    assert np.all(splits.test.x[:, 1] == 0) and np.isfinite(splits.val.x).all()
    assert splits.train.y is not None and splits.info.value_range is None
