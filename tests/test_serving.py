"""``zoo export`` and ``zoo serve`` end to end: real runs, real packages, a real uvicorn server
on loopback (the ``zoo serve`` command in a subprocess) per package, real HTTP requests."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zoo.errors import ZooError
from zoo.runs.lifecycle import TEST_OUTPUTS_KEY
from zoo.runs.store import Store

TOKEN = "s3cret-token"
MAX_BATCH = 64
MAX_BODY = 100_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running ``zoo serve``: its base URL and process."""

    url: str
    process: subprocess.Popen[str]
    token: str | None = None

    def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                token: str | None = "default") -> tuple[int, Any]:
        """Status and decoded JSON body of one request (``token="default"``: the server's)."""
        token = self.token if token == "default" else token
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def post(self, path: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
        return self.request("POST", path, body, **kwargs)


def zoo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "zoo", *args]


def environment(home: Path) -> dict[str, str]:
    return {**os.environ, "ZOO_HOME": str(home), "OMP_NUM_THREADS": "1"}


def start_server(package: Path, home: Path, *args: str, token: str | None = None) -> Server:
    """``zoo serve PACKAGE`` (a directory or a run id) on a free loopback port, once ready."""
    port = free_port()
    command = zoo_command("serve", str(package), "--port", str(port), "--max-batch",
                          str(MAX_BATCH), "--max-body-bytes", str(MAX_BODY), *args)
    if token:
        command += ["--token", token]
    process = subprocess.Popen(command, env=environment(home), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    server = Server(f"http://127.0.0.1:{port}", process, token)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"zoo serve exited: {process.stderr.read()}")
        try:
            if server.request("GET", "/ready")[0] == 200:
                return server
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    process.kill()
    raise AssertionError("zoo serve did not become ready in 120 s")


def stop_server(server: Server) -> None:
    """SIGTERM, as a process manager stops it: the app shuts down gracefully, then uvicorn
    re-raises the signal (so the status says SIGTERM ended it, as the caller asked)."""
    server.process.send_signal(signal.SIGTERM)
    try:
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
        log = server.process.stderr.read()
        assert "Application shutdown complete" in log and "Finished server process" in log
    finally:
        if server.process.poll() is None:
            server.process.kill()


@dataclass
class Trained:
    store: Store
    home: Path
    run_id: str
    package: Path


def train_and_export(home: Path, model: str, data: str, *, onnx: bool = False,
                     **hparams: Any) -> Trained:
    """A real run (the same code path as ``zoo train``) and its package."""
    from zoo.runs.single import train_run
    from zoo.serving.package import export_package

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_HOME", str(home))
        store = Store(home / "runs.db")
        row = train_run(store, model, data, backbone=None, hparams=hparams, seed=0,
                        accelerator="cpu", devices=1, max_epochs=2)
        assert row is not None and row.status == "ok", row and row.error
        package = export_package(store, row.id, home / "package", onnx=onnx)
    return Trained(store, home, row.id, package)


def evaluated_outputs(trained: Trained) -> dict[str, np.ndarray]:
    """What ``zoo evaluate`` made of the run's test rows (its saved test outputs)."""
    from zoo.runs.single import evaluate_run

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_HOME", str(trained.home))
        row = evaluate_run(trained.store, trained.run_id)
    assert row is not None and row.status == "ok", row and row.error
    return dict(np.load(row.extra[TEST_OUTPUTS_KEY]))


def raw_test_rows(data: str, task: str) -> np.ndarray:
    """The run's test rows as a client has them: before the card's preprocessing."""
    from zoo.data.loading import load_dataset
    from zoo.runs.single import task_splits

    return task_splits(load_dataset(data), task, 0).test.x


# -- an autoencoder detector ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Trained, Server]]:
    trained = train_and_export(tmp_path_factory.mktemp("detector"), "autoencoder",
                               "breast-cancer-ad", onnx=True)
    server = start_server(trained.package, trained.home, token=TOKEN)
    yield trained, server
    stop_server(server)


def test_score_equals_zoo_evaluate_on_the_same_rows(detector: tuple[Trained, Server]) -> None:
    trained, server = detector
    expected = evaluated_outputs(trained)["scores"]
    rows = raw_test_rows("breast-cancer-ad", "detect")
    status, body = server.post("/v1/score", {"inputs": rows[:MAX_BATCH].tolist()})
    assert status == 200, body
    np.testing.assert_allclose(body["scores"], expected[:MAX_BATCH], rtol=0, atol=1e-5)
    threshold = json.loads((trained.package / "card.json").read_text())["package"]["threshold"]
    assert threshold["chosen_on"] == "validation" and body["threshold"] == threshold["value"]
    assert body["decisions"] == [score > threshold["value"] for score in body["scores"]]


def test_concurrent_single_rows_are_batched_with_the_same_scores(
        detector: tuple[Trained, Server]) -> None:
    _, server = detector
    rows = raw_test_rows("breast-cancer-ad", "detect")[:48].tolist()
    alone = server.post("/v1/score", {"inputs": rows})[1]["scores"]
    before = server.request("GET", "/v1/stats")[1]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda row: server.post("/v1/score", {"inputs": [row]}), rows))
    after = server.request("GET", "/v1/stats")[1]
    assert all(status == 200 for status, _ in answers)
    np.testing.assert_allclose([body["scores"][0] for _, body in answers], alone, atol=1e-5)
    assert after["requests"] - before["requests"] == len(rows)
    assert after["model_calls"] - before["model_calls"] < len(rows)


def _row(n: int = 30, value: Any = 0.5) -> list[Any]:
    return [value] * n


#: Valid JSON nested deeper than the server's JSON parser goes, within the body limit.
DEEP_BODY = b'{"inputs": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
BAD_INPUTS = {
    "wrong shape": ({"inputs": [_row(29)]}, 422, "at least 30 items"),
    "NaN": (None, 422, "finite"),
    "a string": ({"inputs": [[*_row(29), "7"]]}, 422, "inputs.0.29"),
    "a boolean": ({"inputs": [[*_row(29), True]]}, 422, "inputs.0.29"),
    "no rows": ({"inputs": []}, 422, "at least 1 item"),
    "batch over the cap": ({"inputs": [_row()] * (MAX_BATCH + 1)}, 422,
                           f"at most {MAX_BATCH} items"),
    "oversized body": ({"inputs": [_row()], "pad": "x" * MAX_BODY}, 413, "limit of 100000"),
    "not JSON": (b"{inputs", 422, "not valid JSON"),
    "JSON nested too deeply": (None, 422, "not valid JSON (nested too deeply to parse)"),
    "beyond float32": ({"inputs": [[1e39, *_row(29)]]}, 422, "within float32's range"),
    "far beyond float32": ({"inputs": [[1e300, *_row(29)]]}, 422, "within float32's range"),
    "a row the model overflows on": ({"inputs": [_row(value=3e38)]}, 422,
                                     "the model's score of row 0 is not finite"),
    "unknown field": ({"inputs": [_row()], "rows": 1}, 422, "rows: Extra inputs"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_a_one_line_4xx_and_the_server_stays_up(
        detector: tuple[Trained, Server], case: str) -> None:
    _, server = detector
    body, status_wanted, message = BAD_INPUTS[case]
    if case == "NaN":
        raw = b'{"inputs": [[NaN' + b", 0.5" * 29 + b"]]}"
    elif case == "JSON nested too deeply":
        raw = DEEP_BODY
    else:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, answer = server.post("/v1/score", None, raw=raw)
    assert status == status_wanted, answer
    assert message in answer["detail"] and "\n" not in answer["detail"]
    assert server.request("GET", "/health")[0] == 200
    assert server.post("/v1/score", {"inputs": [_row()]})[0] == 200


def test_the_token_guards_all_but_health_and_ready(detector: tuple[Trained, Server]) -> None:
    _, server = detector
    for path in ("/health", "/ready"):
        assert server.request("GET", path, token=None)[0] == 200
    for token in (None, "wrong"):
        for method, path in (("GET", "/v1/model"), ("GET", "/openapi.json"),
                             ("POST", "/v1/score")):
            status, body = server.request(method, path, {"inputs": [_row()]}, token=token)
            assert status == 401 and "bearer token" in body["detail"]
    status, card = server.request("GET", "/v1/model")
    assert status == 200 and card["model"] == "autoencoder"
    assert card["package"]["input"] == {"shape": [30], "dtype": "float32"}


def test_the_token_is_checked_before_the_body_is_read(detector: tuple[Trained, Server]) -> None:
    """Without the token, a body the server could not parse is refused like any other: 401,
    not a parse error (nothing an unauthenticated client sends is parsed)."""
    _, server = detector
    for raw in (b"{inputs", DEEP_BODY, json.dumps({"inputs": [_row()]}).encode()):
        for token in (None, "wrong"):
            status, body = server.post("/v1/score", None, raw=raw, token=token)
            assert status == 401 and "bearer token" in body["detail"], body


@pytest.mark.slow  # a second server start; ONNX parity itself is tested per model
def test_the_onnx_runtime_serves_the_same_scores(detector: tuple[Trained, Server]) -> None:
    trained, server = detector
    card = json.loads((trained.package / "card.json").read_text())
    assert card["package"]["onnx"]["opset"] >= 17
    assert card["package"]["onnx"]["parity"]["max_abs_diff"]["score"] < 1e-4
    onnx = start_server(trained.package, trained.home, "--runtime", "onnx")
    try:
        rows = {"inputs": raw_test_rows("breast-cancer-ad", "detect")[:MAX_BATCH].tolist()}
        status, body = onnx.post("/v1/score", rows)
        assert status == 200 and onnx.request("GET", "/ready")[1]["runtime"] == "onnx"
        np.testing.assert_allclose(body["scores"], server.post("/v1/score", rows)[1]["scores"],
                                   rtol=1e-4, atol=1e-4)
        status, body = onnx.post("/v1/score", {"inputs": [[1e39, *_row(29)]]})
        assert status == 422 and "within float32's range" in body["detail"]
    finally:
        stop_server(onnx)


def test_a_tampered_package_is_refused_in_one_line(detector: tuple[Trained, Server],
                                                   tmp_path: Path) -> None:
    from zoo.serving.package import verify_package

    trained, _ = detector
    tampered = tmp_path / "tampered"
    shutil.copytree(trained.package, tampered)
    card = json.loads((tampered / "card.json").read_text())
    card["package"]["threshold"]["value"] = 1e9
    (tampered / "card.json").write_text(json.dumps(card))
    with pytest.raises(ZooError, match=r"card\.json was changed after export \(its digest does "
                                       r"not match\); export the run again$"):
        verify_package(tampered)
    shutil.copy(trained.package / "card.json", tampered / "card.json")
    with (tampered / "weights.safetensors").open("r+b") as weights:
        weights.seek(-4, os.SEEK_END)
        weights.write(b"\0\0\0\0")
    with pytest.raises(ZooError, match=r"weights\.safetensors was changed after export"):
        verify_package(tampered)


CARD_EDITS = {
    "no files": (lambda card: card["package"].pop("files"),
                 r"lacks key package\.files \(an object\); export the run again$"),
    "files a list": (lambda card: card["package"].update(files=[]),
                     r"key package\.files must be an object, not a list"),
    "a file outside": (lambda card: card["package"]["files"].update({"../card.json": "0"}),
                       r"key package\.files must be a mapping of the package's file names"),
    "an unknown hook": (lambda card: card["package"].update(hooks=["fly"]),
                        r"key package\.hooks must be a list of log_likelihood, predict, "),
    "threshold a string": (lambda card: card["package"]["threshold"].update(value="high"),
                           r"key package\.threshold\.value must be a number or null, not a "
                           r"string"),
    "no data_info task": (lambda card: card["data_info"].pop("task"),
                          r"lacks key data_info\.task \(a string\)"),
}


@pytest.mark.parametrize("case", CARD_EDITS, ids=list(CARD_EDITS))
def test_a_malformed_card_with_a_matching_digest_is_refused_in_one_line(
        detector: tuple[Trained, Server], tmp_path: Path, case: str) -> None:
    from zoo.serving.package import _card_digest, verify_package

    trained, _ = detector
    package = tmp_path / "package"
    shutil.copytree(trained.package, package)
    card = json.loads((package / "card.json").read_text())
    edit, message = CARD_EDITS[case]
    edit(card)
    card["digest"] = _card_digest(card)  # sealed again, as a tool making cards by hand would
    (package / "card.json").write_text(json.dumps(card))
    with pytest.raises(ZooError, match=rf"^package {re.escape(str(package))}: card\.json "
                                       rf"{message}"):
        verify_package(package)


def serve_refusal(home: Path, *args: str) -> tuple[int, str]:
    """Exit status and stderr of a ``zoo serve`` expected to stop before serving."""
    done = subprocess.run(zoo_command("serve", *args), env=environment(home),
                          capture_output=True, text=True, timeout=120)
    return done.returncode, done.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_refused_in_one_line(detector: tuple[Trained, Server],
                                              workers: str) -> None:
    trained, _ = detector
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve_refusal(trained.home, str(trained.package), "--port", str(port),
                             "--workers", workers) == (
            2, f"Error: port {port} on 127.0.0.1 is in use; choose another with --port\n")


def test_a_missing_or_incompatible_plugin_is_named() -> None:
    from zoo.serving.package import check_plugin

    with pytest.raises(ZooError, match=r"model 'no-such' from plugin zoo-nothing 1\.0\.0, "
                                       r"which is not installed"):
        check_plugin("no-such", {"distribution": "zoo-nothing", "version": "1.0.0"})
    with pytest.raises(ZooError, match=r"exported with plugin zoo-autoencoder 0\.9\.0; "
                                       r"the installed version 0\.1\.0 is incompatible"):
        check_plugin("autoencoder", {"distribution": "zoo-autoencoder", "version": "0.9.0"})
    check_plugin("autoencoder", {"distribution": "zoo-autoencoder", "version": "0.1.7"})


def fuzz(server: Server, tmp_path: Path, max_examples: int) -> dict[str, int]:
    """Schemathesis (its command line) over every endpoint of the served schema, with and
    without the token; fails on any 5xx; the number of generated cases per run."""
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(server.request("GET", "/openapi.json")[1]))
    generated = {}
    for label, headers in (("token", ["-H", f"Authorization: Bearer {TOKEN}"]),
                           ("no token", [])):
        report = tmp_path / f"{label}.json"
        done = subprocess.run(
            [str(Path(sys.executable).parent / "schemathesis"), "run", str(schema), "--url",
             server.url, *headers, "--checks", "not_a_server_error", "--max-examples",
             str(max_examples), "--seed", "0", "--workers", "1", "--phases",
             "coverage,fuzzing", "--report", "json", "--report-json-path", str(report)],
            capture_output=True, text=True, timeout=1800, cwd=tmp_path)
        result = json.loads(report.read_text())
        assert done.returncode == 0, done.stdout[-3000:]
        assert result["failures"] == [] and result["operations"]["tested"] >= 5
        generated[label] = result["test_cases"]["generated"]
    print(f"schemathesis generated {generated} cases")
    assert all(count > 0 for count in generated.values())
    return generated


def test_schemathesis_finds_no_server_error(detector: tuple[Trained, Server],
                                            tmp_path: Path) -> None:
    fuzz(detector[1], tmp_path, max_examples=10)


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_in_a_long_run(detector: tuple[Trained, Server],
                                                          tmp_path: Path) -> None:
    fuzz(detector[1], tmp_path, max_examples=300)


# -- a classifier --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Trained, Server]]:
    trained = train_and_export(tmp_path_factory.mktemp("classifier"), "mlp", "breast-cancer")
    # Served by run id: zoo serve exports it on the fly.
    server = start_server(Path(trained.run_id), trained.home, "--db",
                          str(trained.home / "runs.db"))
    yield trained, server
    stop_server(server)


def test_predict_equals_zoo_evaluate(classifier: tuple[Trained, Server]) -> None:
    trained, server = classifier
    expected = evaluated_outputs(trained)["predictions"]
    rows = raw_test_rows("breast-cancer", "classify")[:MAX_BATCH]
    status, body = server.post("/v1/predict", {"inputs": rows.tolist()})
    assert status == 200, body
    assert body["predictions"] == expected[:MAX_BATCH].tolist()
    np.testing.assert_allclose(np.sum(body["probabilities"], axis=1), 1.0, atol=1e-9)
    assert server.post("/v1/score", {"inputs": rows[:1].tolist()})[0] == 404


def test_the_onnx_runtime_without_an_onnx_export_is_refused_in_one_line(
        classifier: tuple[Trained, Server]) -> None:
    trained, _ = classifier
    assert serve_refusal(trained.home, str(trained.package), "--runtime", "onnx", "--port",
                         str(free_port())) == (
        2, f"Error: package {trained.package} has no ONNX export; make one with zoo export "
           f"--onnx, or serve it with --runtime eager\n")


def test_a_classifier_refuses_inputs_beyond_float32(classifier: tuple[Trained, Server]) -> None:
    _, server = classifier
    status, body = server.post("/v1/predict", {"inputs": [[1e39] * 30]})
    assert status == 422 and "within float32's range" in body["detail"]


def test_the_card_reports_the_latest_evaluation(classifier: tuple[Trained, Server],
                                                tmp_path: Path) -> None:
    from zoo.serving.package import export_package

    trained, _ = classifier
    evaluated_outputs(trained)
    evaluation = trained.store.runs(kind="evaluate")[-1]
    card = json.loads((export_package(trained.store, trained.run_id, tmp_path / "again")
                       / "card.json").read_text())
    assert card["package"]["evaluation"] == {"run_id": evaluation.id, "metrics":
                                             evaluation.metrics, "dataset": "breast-cancer"}


# -- a generative model --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def generator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Trained, Server]]:
    trained = train_and_export(tmp_path_factory.mktemp("generator"), "vae", "digits",
                               backbone="mlp")
    server = start_server(trained.package, trained.home, "--max-samples", "8")
    yield trained, server
    stop_server(server)


def test_sample_gives_the_count_asked_and_a_seed_reproduces_it(
        generator: tuple[Trained, Server]) -> None:
    _, server = generator
    status, first = server.post("/v1/sample", {"n": 5, "seed": 3})
    assert status == 200 and first["seed"] == 3
    assert np.asarray(first["samples"]).shape == (5, 1, 8, 8)
    assert server.post("/v1/sample", {"n": 5, "seed": 3})[1]["samples"] == first["samples"]
    assert server.post("/v1/sample", {"n": 5, "seed": 4})[1]["samples"] != first["samples"]
    status, png = server.post("/v1/sample", {"n": 2, "seed": 3, "format": "png"})
    assert status == 200 and len(png["samples"]) == 2
    assert base64.b64decode(png["samples"][0]).startswith(b"\x89PNG")
    status, body = server.post("/v1/sample", {"n": 9})
    assert status == 422 and "less than or equal to 8" in body["detail"]
    status, body = server.post("/v1/log-likelihood", {"inputs": [[[[0.5] * 8] * 8]]})
    assert status == 200 and len(body["log_likelihood"]) == 1


def test_zoo_export_refuses_in_one_line(generator: tuple[Trained, Server],
                                        tmp_path: Path) -> None:
    """A model that cannot go to ONNX says why; an occupied --out is refused; nothing is
    written in either case."""
    from click.testing import CliRunner

    from zoo.cli import cli

    trained, _ = generator
    db = str(trained.home / "runs.db")
    done = CliRunner().invoke(cli, ["export", trained.run_id, "--out", str(tmp_path / "vae"),
                                    "--onnx", "--db", db])
    assert done.exit_code == 2
    assert done.output.strip() == (
        "Error: model 'vae' cannot be exported to ONNX: score and log_likelihood are "
        "Monte-Carlo estimates drawn from torch's seeded generator, which ONNX Runtime "
        "cannot reproduce")
    assert not (tmp_path / "vae").exists()
    done = CliRunner().invoke(cli, ["export", trained.run_id, "--out", str(trained.package),
                                    "--db", db])
    assert done.exit_code == 2
    assert "exists and is not an empty directory" in done.output


def test_a_text_model_takes_strings_of_its_vocabulary_and_answers_strings(
        tmp_path: Path) -> None:
    """The service's text path (a real tiny model, its card's vocabulary), without a server:
    strings are encoded, foreign characters and ids are refused, samples come back as text."""
    from zoo.data.types import DataInfo
    from zoo.models import create_model
    from zoo.serving.package import Package
    from zoo.serving.service import Service

    info = DataInfo("text", (6,), "generate", vocab_size=3)
    model = create_model("rnn", info, seed=0)
    card = {"data_info": info.to_dict(), "vocab": ["a", "b", " "], "package": {}}
    service = Service(Package(tmp_path, card, model, "eager"))
    ids = service.rows(["ab ba ", [0, 1, 2, 1, 0, 2]])
    assert ids.dtype == np.int64 and ids[0].tolist() == [0, 1, 2, 1, 0, 2]
    outputs = service.infer("log_likelihood", ids)
    assert outputs.shape == (2,) and outputs[0] == pytest.approx(outputs[1], abs=1e-5)
    with pytest.raises(ZooError, match=r"row 0: characters 'cz' are not in the model's "):
        service.rows(["abczab"])
    with pytest.raises(ZooError, match=r"token ids must lie in \[0, 3\); got 0 to 7"):
        service.rows([[0, 1, 7, 1, 0, 2]])
    samples = service.sample(2, 5, "list")
    assert samples["seed"] == 5 and [len(text) for text in samples["samples"]] == [6, 6]
    assert set("".join(samples["samples"])) <= {"a", "b", " "}


def test_the_commands_help_imports_no_server_torch_or_onnx(
        imported_by_commands: Callable[..., list[str]]) -> None:
    assert imported_by_commands([["serve", "--help"], ["export", "--help"]],
                                ("torch", "numpy", "fastapi", "uvicorn", "onnx",
                                 "onnxruntime")) == []
