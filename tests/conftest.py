"""Shared fixtures: an isolated zoo home per test, plugin state restored afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from zoo import plugins
from zoo.plugins import PluginHost

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_zoo(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Runs and databases go to a temporary ZOO_HOME; the plugin host is rebuilt after."""
    monkeypatch.setenv("ZOO_HOME", str(tmp_path_factory.mktemp("zoo-home")))
    monkeypatch.delenv("ZOO_DB", raising=False)
    monkeypatch.delenv("ZOO_PLUGINS_DIR", raising=False)
    yield
    plugins.configure(plugins_dir=None)
    plugins.reset()


@pytest.fixture
def throwaway_plugin(tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], ModuleType]]:
    """Install a one-file plugin on a fresh host with only the built-in datasets and suites.

    Call it with the plugin's name and source; it returns the loaded module. The host
    replaces the process-wide one (``create_model`` and the suites look models up there).
    """
    names: list[str] = []

    def install(name: str, source: str) -> ModuleType:
        directory = tmp_path / f"plugins-{name}"
        directory.mkdir()
        (directory / f"{name}.py").write_text(textwrap.dedent(source))
        host = PluginHost(entry_points=[], default_plugins=("zoo._builtin.datasets",
                                                              "zoo._builtin.suites"),
                          plugins_dir=directory)
        monkeypatch.setattr(plugins, "_host", host)
        assert host.plugins[name].status == "ok", host.plugins[name].reason
        names.append(name)
        return sys.modules[f"zoo_plugins_dir.{name}"]

    yield install
    for name in names:
        sys.modules.pop(f"zoo_plugins_dir.{name}", None)


# A detector that keeps every split it is trained on and trains nothing: enough to check what
# a suite gives a model and how it scores. It scores a sample by its squared distance to the
# mean training sample (``score_rule = "distance"``) or by its largest absolute value
# (``"peak"``); tests switch ``score_rule`` and ``uses_validation``.
RECORDER = '''
import numpy as np
import torch
from zoo import DataInfo, ModelSpec, ZooModel, hookimpl

SEEN = []


class Recorder(ZooModel):
    score_rule = "distance"

    def __init__(self, data_info: DataInfo) -> None:
        self.data_info = data_info

    def fit(self, splits, config):
        SEEN.append(splits)
        self.centre = splits.train.x.mean(axis=0)
        return {}

    def hyperparameters(self):
        return {}

    def score(self, x):
        x = np.asarray(x)
        if self.score_rule == "peak":
            return torch.as_tensor(np.abs(x).reshape(len(x), -1).max(axis=1))
        distance = (x - self.centre) ** 2
        return torch.as_tensor(distance.reshape(len(distance), -1).sum(axis=1))


@hookimpl
def zoo_register_models(register):
    register(ModelSpec(name="recorder", kind="method", tasks=("detect",),
                       modalities=("image", "timeseries"),
                       implementation="zoo_plugins_dir.recorder:Recorder",
                       summary="records what it is trained on"))
'''


# A detector whose training sleeps for two minutes: long enough to be killed while training.
# It leaves the file ``sleeping`` beside itself as it starts to sleep.
SLEEPY_PLUGIN = """
    import time
    from pathlib import Path

    from zoo import DataInfo, ModelSpec, ZooModel, hookimpl


    class Sleepy(ZooModel):
        uses_validation = False

        def __init__(self, data_info: DataInfo) -> None:
            self.data_info = data_info

        def fit(self, splits, config):
            Path(__file__).with_name("sleeping").touch()
            time.sleep(120)  # long enough to be killed while training
            return {}

        def score(self, x):
            raise AssertionError("never reached")


    @hookimpl
    def zoo_register_models(register):
        register(ModelSpec(name="sleepy", kind="method", tasks=("detect",),
                           modalities=("tabular",), implementation=f"{__name__}:Sleepy"))
"""


@dataclass(frozen=True)
class SleepyPlugin:
    """A ``--plugins-dir`` folder holding the detector ``sleepy``, and what a test needs to
    stop a ``zoo`` command while that detector trains."""

    directory: Path

    def start(self, *args: str, env: dict[str, str] | None = None,
              **popen: Any) -> subprocess.Popen[str]:
        """``zoo --plugins-dir DIRECTORY ARGS...`` started, its stderr piped, with faulthandler
        on (:meth:`exit_status` shows where a process that does not stop is)."""
        return subprocess.Popen(
            [sys.executable, "-m", "zoo", "--plugins-dir", str(self.directory), *args],
            stderr=subprocess.PIPE, text=True,
            env={**(os.environ if env is None else env), "PYTHONFAULTHANDLER": "1"}, **popen)

    def wait_until_sleeping(self, process: subprocess.Popen[str],
                            timeout: float = 120) -> None:
        """Block until ``process`` sleeps in ``sleepy``'s training. A signal sent only then
        interrupts that sleep: sent during the imports before it, the exception its handler
        raises can land in library code that swallows it, and the command trains on."""
        deadline = time.monotonic() + timeout
        while not (self.directory / "sleeping").exists():
            if process.poll() is not None:
                pytest.fail(f"zoo exited {process.returncode} before sleepy trained:\n"
                            f"{process.stderr.read() if process.stderr else ''}")
            if time.monotonic() > deadline:
                pytest.fail(f"sleepy did not start training in {timeout:.0f}s")
            time.sleep(0.1)

    @staticmethod
    def exit_status(process: subprocess.Popen[str], timeout: float = 60) -> int:
        """``process``'s exit status; one still running after ``timeout`` seconds fails the
        test with the stack of each of its threads (faulthandler prints them on SIGABRT)."""
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            _, stderr = process.communicate(timeout=30)
            pytest.fail(f"zoo still ran {timeout:.0f}s after it was stopped:\n{stderr[-8000:]}")


@pytest.fixture
def sleepy_plugin(tmp_path: Path) -> SleepyPlugin:
    """The detector ``sleepy`` in a ``--plugins-dir`` folder of its own: its training sleeps
    long enough to be killed while it trains."""
    directory = tmp_path / "plugins-sleepy"
    directory.mkdir()
    (directory / "sleepy.py").write_text(textwrap.dedent(SLEEPY_PLUGIN))
    return SleepyPlugin(directory)


@pytest.fixture
def recorder(throwaway_plugin: Callable[[str, str], ModuleType]) -> ModuleType:
    """A fresh plugin host with the built-in datasets and suites and only the recorder model."""
    return throwaway_plugin("recorder", RECORDER)


def _run_zoo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture
def zoo_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """The real ``zoo`` command in a subprocess: ``zoo_cli(*args, cwd=None)`` returns the
    finished process (exit status, stdout, stderr), whatever its exit status."""
    return _run_zoo


def _write_mat(path: Path, arrays: dict[str, Any], *, v73: bool = False) -> Path:
    """Write ``arrays`` as MATLAB does: a v5 file (``save``) through scipy, or a v7.3 file
    (``save -v7.3``) through h5py with MATLAB's layout: a 512-byte header, every matrix stored
    column-major (transposed) and tagged with its MATLAB class."""
    if not v73:
        import scipy.io

        scipy.io.savemat(path, arrays)
        return path
    import h5py
    import numpy as np

    classes = {"f": "double", "i": "int64", "u": "uint8", "b": "logical"}
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in arrays.items():
            value = np.atleast_2d(np.asarray(value))
            stored = f.create_dataset(name, data=value.T)
            stored.attrs["MATLAB_class"] = np.bytes_(classes[value.dtype.kind])
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 " \
           b"HDF5 schema 1.00 ."
    with open(path, "r+b") as f:  # the user block h5py leaves empty holds MATLAB's header
        f.write(text.ljust(116) + bytes(8) + b"\x00\x02IM")
    return path


@pytest.fixture
def write_mat() -> Callable[..., Path]:
    """``write_mat(path, {"X": x, "y": y}, v73=False)``: a real MATLAB file of either flavour."""
    return _write_mat


def _imported_by_commands(commands: list[list[str]], modules: tuple[str, ...],
                          env: dict[str, str] | None = None) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running each of
    ``commands`` (``zoo`` arguments) through the real ``zoo`` entry point; every command
    must exit with status 0."""
    probe = textwrap.dedent(f"""
        import json
        import sys
        import zoo.cli
        for args in {commands!r}:
            sys.argv = ["zoo", *args]
            try:
                zoo.cli.main()
            except SystemExit as done:
                assert not done.code, (args, done.code)
        print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def imported_by_commands() -> Callable[..., list[str]]:
    """``imported_by_commands([["--help"], ["models"]], ("torch",))``: the heavy modules that
    listing or parsing commands import (none, by the project's rule)."""
    return _imported_by_commands


@pytest.fixture
def ray_head() -> Iterator[str]:
    """The address of a one-node Ray cluster started apart from the command under test, as
    ``ray start --head`` starts one: its workers run in a folder of their own, not the
    command's."""
    cluster_utils = pytest.importorskip("ray.cluster_utils")
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={
        "num_cpus": 2, "object_store_memory": 80 * 2**20, "include_dashboard": False})
    try:
        yield cluster.address
    finally:
        cluster.shutdown()
