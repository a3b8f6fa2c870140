"""ONNX export of a model's evaluate hooks, with parity against eager outputs, and a model
that runs the exported graphs with ONNX Runtime.

The exported graph is a trace of the evaluate hook itself (``model.score`` ...), not of a
copy of its network, so ONNX and eager outputs come from one inference path; the export
measures their agreement on the rows it is given and refuses one that disagrees. Sampling is
never exported: it draws from torch's seeded generator, which ONNX Runtime cannot reproduce.
``onnx`` and ``onnxruntime`` (the ``onnx`` extra) are imported only here, when used.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import ZooError, one_line
from zoo.models import LikelihoodModel

if TYPE_CHECKING:
    import torch

    from zoo.data.types import DataInfo

OPSET = 17
#: Largest disagreement allowed between ONNX Runtime and eager outputs: ``atol + rtol * |eager|``.
PARITY_ATOL = 1e-4
PARITY_RTOL = 1e-4
#: The evaluate hooks that take data, by task (``log_likelihood`` where the model has one).
DATA_HOOKS = {"classify": ("predict",), "regress": ("predict",),
              "detect": ("score", "log_likelihood"), "generate": ("log_likelihood",)}
EXTRA = "the ONNX extra (pip install 'zoo[onnx]')"


def data_hooks(model: Any, task: str) -> tuple[str, ...]:
    """The evaluate hooks of ``task`` that ``model`` has and that take data."""
    return tuple(h for h in DATA_HOOKS.get(task, ())
                 if h != "log_likelihood" or isinstance(model, LikelihoodModel))


def unsupported_reason(model: Any, task: str) -> str:
    """Why ``model`` cannot be exported to ONNX for ``task``, or ``""`` when it can."""
    if model.onnx_unsupported:
        return model.onnx_unsupported
    if not data_hooks(model, task):
        return (f"a {task} model has no evaluate hook that takes data (sampling draws from "
                "torch's seeded generator, which ONNX Runtime cannot reproduce)")
    return ""


def check_exportable(model: Any, task: str) -> None:
    """Refuse, in one line saying why, a model that cannot be exported, or a missing extra."""
    reason = unsupported_reason(model, task)
    if reason:
        raise ZooError(f"model {model.zoo_name!r} cannot be exported to ONNX: {reason}")
    require_onnx()


def input_dtype(info: DataInfo) -> str:
    """The dtype of the model's inputs: token ids for text, float32 for everything else."""
    return "int64" if info.modality == "text" else "float32"


def export_onnx(model: Any, task: str, directory: Path, rows: np.ndarray) -> dict[str, Any]:
    """Trace ``model``'s data-taking evaluate hooks of ``task`` into ``directory/HOOK.onnx``.

    Args:
        model: A model built by :func:`zoo.create_model`, trained.
        task: The task it was trained for.
        directory: Where the graphs are written.
        rows: Preprocessed inputs (never test rows) to trace with and measure parity on.

    Returns:
        The card's ``onnx`` section: opset, file per hook, parity (largest absolute
        difference per hook, the rows it was measured on, the tolerance).

    Raises:
        ZooError: The model cannot be exported (naming why), the ONNX extra is missing, or
            ONNX Runtime's outputs disagree with the eager ones beyond the tolerance.
    """
    import torch

    check_exportable(model, task)
    x = torch.as_tensor(np.asarray(rows, dtype=input_dtype(model.data_info)))
    files, parity = {}, {}
    for hook in data_hooks(model, task):
        path = Path(directory) / f"{hook}.onnx"
        _trace(model, hook, x, path)
        runner = OnnxModel(Path(directory), {"files": {hook: path.name}}, model.data_info)
        eager = getattr(model, hook)(x).detach().cpu().numpy().astype(np.float64)
        exported = getattr(runner, hook)(rows).numpy().astype(np.float64)
        parity[hook] = _checked_parity(model.zoo_name, hook, eager, exported)
        files[hook] = path.name
    return {"opset": OPSET, "files": files, "parity": {
        "max_abs_diff": parity, "rows": len(rows), "atol": PARITY_ATOL, "rtol": PARITY_RTOL}}


def _hook_module(model: Any, hook: str) -> torch.nn.Module:
    """A torch module whose forward is one evaluate hook of ``model`` (what the tracer takes)."""
    import torch

    class Hook(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return getattr(self.model, hook)(x)

    return Hook()


def _trace(model: Any, hook: str, x: torch.Tensor, path: Path) -> None:
    import torch

    model.eval()
    try:
        with warnings.catch_warnings():
            # The tracer warns about every Python value it records (shape checks, len()):
            # the parity check below is what tells whether the trace is right.
            warnings.simplefilter("ignore")
            torch.onnx.export(_hook_module(model, hook), (x,), str(path), input_names=["x"],
                              output_names=[hook], opset_version=OPSET, dynamo=False,
                              dynamic_axes={"x": {0: "rows"}, hook: {0: "rows"}})
    except Exception as exc:  # the tracer raises whatever the traced code raises
        raise ZooError(f"model {model.zoo_name!r}: {hook} does not trace to ONNX "
                       f"({one_line(exc)[:300]})") from None


def _checked_parity(name: str, hook: str, eager: np.ndarray, exported: np.ndarray) -> float:
    if eager.shape != exported.shape:
        raise ZooError(f"model {name!r}: ONNX {hook} gives shape {exported.shape}, eager "
                       f"{eager.shape}")
    difference = np.abs(eager - exported)
    if not np.all(difference <= PARITY_ATOL + PARITY_RTOL * np.abs(eager)):
        raise ZooError(f"model {name!r}: ONNX {hook} differs from eager by up to "
                       f"{float(difference.max()):.3g} (tolerance {PARITY_ATOL} + "
                       f"{PARITY_RTOL} x |eager|); not exported")
    return float(difference.max()) if difference.size else 0.0


def require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ZooError(f"ONNX export and runtime need {EXTRA}") from None


class OnnxModel:
    """The evaluate hooks of an exported model, run by ONNX Runtime on the CPU.

    It has exactly the hooks the package's ``onnx`` section lists, with the eager hooks'
    signatures (a batch in, a CPU tensor out), so every caller treats it as the model.
    """

    onnx_unsupported = ""

    def __init__(self, directory: Path, section: dict[str, Any], data_info: DataInfo) -> None:
        require_onnx()
        import onnxruntime

        self.data_info = data_info
        self.hooks = tuple(section["files"])
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: no warnings about unused initialisers
        self._sessions = {hook: onnxruntime.InferenceSession(
            str(Path(directory) / file), options, providers=["CPUExecutionProvider"])
            for hook, file in section["files"].items()}

    def run(self, hook: str, x: Any) -> torch.Tensor:
        """Outputs of the exported ``hook`` for a batch ``x``."""
        import torch

        if hook not in self._sessions:
            raise ZooError(f"the ONNX export has no {hook}; it has: {', '.join(self.hooks)}")
        x = np.asarray(x.numpy() if hasattr(x, "numpy") else x,
                       dtype=input_dtype(self.data_info))
        return torch.from_numpy(self._sessions[hook].run(None, {"x": x})[0])

    def predict(self, x: Any) -> torch.Tensor:
        return self.run("predict", x)

    def score(self, x: Any) -> torch.Tensor:
        return self.run("score", x)

    def log_likelihood(self, x: Any) -> torch.Tensor:
        return self.run("log_likelihood", x)
