"""What the server does with a request, apart from HTTP: check the inputs against the card,
run them through the one inference path and shape the answer.

The inference path is ``zoo evaluate``'s: the card's preprocessing
(:func:`zoo.data.preprocess.preprocess_arrays`), then the model's evaluate hook; samples are
drawn as evaluation draws them (:func:`zoo.evaluation.samples.draw_samples`).
"""

from __future__ import annotations

import base64
import secrets
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.data.preprocess import preprocess_arrays
from zoo.data.types import Arrays
from zoo.errors import ZooError

if TYPE_CHECKING:
    from zoo.serving.package import Package

#: The URL path of each evaluate hook.
ROUTES = {"predict": "/v1/predict", "score": "/v1/score", "log_likelihood": "/v1/log-likelihood",
          "sample": "/v1/sample"}


class Service:
    """The model of a loaded package, behind checks of everything a client may send."""

    def __init__(self, package: Package) -> None:
        self.package = package
        self.card = package.card
        self.info = package.info
        self.vocab: list[str] | None = self.card.get("vocab")
        self.threshold = self.card["package"].get("threshold", {}).get("value")

    # -- inputs -------------------------------------------------------------------------------
    def rows(self, inputs: list[Any]) -> np.ndarray:
        """``inputs`` as an array of the model's input shape and dtype.

        Rows are nested lists of numbers of the card's shape (the request model has checked
        the nesting and the types); a text model also takes strings of its vocabulary's
        characters, one per token.

        Raises:
            ZooError: Rows of another shape, values that are not finite numbers, token ids
                outside the vocabulary or characters not in it.
        """
        shape = tuple(self.info.shape)
        if self.vocab is not None:
            inputs = [self._encode(i, row) if isinstance(row, str) else row
                      for i, row in enumerate(inputs)]
        array = np.asarray(inputs)
        if array.dtype.kind not in "iuf" or tuple(array.shape[1:]) != shape:
            raise ZooError(f"inputs must be rows of numbers of shape {list(shape)}")
        if self.info.modality == "text":
            _check_finite(array)
            return self._token_ids(array)
        # Checked after the cast: a finite float64 beyond float32's range becomes infinity.
        return _check_finite(array.astype(np.float32))

    def _encode(self, index: int, text: str) -> list[int]:
        assert self.vocab is not None
        unknown = sorted(set(text) - set(self.vocab))
        if unknown:
            raise ZooError(f"row {index}: characters {''.join(unknown)!r} are not in the "
                           "model's vocabulary (GET /v1/model lists it)")
        lookup = {char: i for i, char in enumerate(self.vocab)}
        return [lookup[char] for char in text]

    def _token_ids(self, array: np.ndarray) -> np.ndarray:
        vocab = int(self.info.vocab_size or 0)
        if array.dtype.kind == "f" and not np.array_equal(array, np.round(array)):
            raise ZooError("text inputs must be token ids (integers) or strings")
        if array.min() < 0 or array.max() >= vocab:
            raise ZooError(f"token ids must lie in [0, {vocab}); got {array.min()} to "
                           f"{array.max()}")
        return array.astype(np.int64)

    # -- inference ----------------------------------------------------------------------------
    def infer(self, hook: str, x: np.ndarray) -> np.ndarray:
        """``hook``'s outputs for checked rows ``x``, through ``zoo evaluate``'s path."""
        x = preprocess_arrays(self.card.get("preprocess", {}), Arrays(x)).x
        outputs = getattr(self.package.model, hook)(x)
        return np.asarray(outputs.detach().cpu().numpy() if hasattr(outputs, "detach")
                          else outputs)

    def answer(self, hook: str, outputs: np.ndarray) -> dict[str, Any]:
        """The response body of ``hook`` for its ``outputs``.

        Raises:
            ZooError: An output is NaN or infinite (JSON has no such numbers, and a null
                score would be called normal).
        """
        bad = _first_non_finite_row(outputs)
        if bad is not None:
            raise ZooError(f"the model's {hook} of row {bad} is not finite (NaN or infinity); "
                           f"that row lies outside what the model can answer for")
        if hook == "score":
            body: dict[str, Any] = {"scores": outputs.astype(float).tolist()}
            if self.threshold is not None:
                body["decisions"] = (outputs > self.threshold).tolist()
                body["threshold"] = self.threshold
            return body
        if hook == "log_likelihood":
            return {"log_likelihood": outputs.astype(float).tolist()}
        if self.info.task == "classify":
            logits = outputs.astype(np.float64)
            shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
            return {"predictions": logits.argmax(1).tolist(),
                    "probabilities": (shifted / shifted.sum(1, keepdims=True)).tolist()}
        return {"predictions": outputs.astype(float).tolist()}

    def sample(self, n: int, seed: int | None, fmt: str) -> dict[str, Any]:
        """``n`` samples drawn as evaluation draws them, with ``seed`` (chosen and returned
        when ``None``); images as nested lists or base64 PNG, text as strings."""
        from zoo.evaluation.samples import decode, draw_samples

        if fmt == "png" and self.info.modality != "image":
            raise ZooError(f"format 'png' is for image models; this one is {self.info.modality}")
        seed = secrets.randbelow(2**31) if seed is None else seed
        samples = draw_samples(self.package.model, n, tuple(self.info.shape), seed)
        if self.vocab is not None:
            # draw_samples checks samples as floats; token ids are whole numbers in them.
            values: list[Any] = [decode(row.long(), self.vocab) for row in samples]
        elif fmt == "png":
            values = [_png_base64(image) for image in samples.numpy()]
        else:
            values = samples.tolist()
        return {"samples": values, "seed": seed}


def _first_non_finite_row(values: np.ndarray) -> int | None:
    """The index of the first row of ``values`` holding NaN or infinity; ``None`` if none."""
    if values.dtype.kind != "f" or np.isfinite(values).all():
        return None
    return int(np.argwhere(~np.isfinite(values.reshape(len(values), -1)))[0][0])


def _check_finite(rows: np.ndarray) -> np.ndarray:
    """``rows``, once every value is finite."""
    bad = _first_non_finite_row(rows)
    if bad is not None:
        limit = float(np.finfo(np.float32).max)
        raise ZooError(f"inputs must be finite numbers within float32's range (magnitude at "
                       f"most {limit:.6g}); row {bad} has NaN, infinity or a larger value")
    return rows


def _png_base64(image: np.ndarray) -> str:
    """One image ``(C, H, W)`` in [0, 1] as base64 PNG (greyscale or RGB)."""
    from zoo.evaluation.images import encode_png, to_uint8

    pixels = to_uint8(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0))
    return base64.b64encode(encode_png(pixels)).decode()
