"""Image utilities: sample grids written as PNG files, binarisation.

A grid is assembled with numpy and encoded by Pillow as an 8-bit greyscale or RGB PNG; the
same pixels always give the same bytes (no time or text chunk is written), so a grid drawn
under a seed is byte-for-byte reproducible. Importing this module costs numpy only (Pillow
is imported when a grid is written); torch tensors are accepted wherever arrays are, without
importing torch.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ZooError

#: Channels a grid may have: 1 (greyscale) or 3 (RGB).
_CHANNELS = (1, 3)


def as_array(images: Any) -> np.ndarray:
    """A float64 numpy copy of ``images``: a numpy array or a torch tensor on any device."""
    if hasattr(images, "detach"):  # a torch tensor, possibly on an accelerator
        images = images.detach().float().cpu().numpy()
    return np.asarray(images, dtype=np.float64)


def make_grid(images: Any, *, nrow: int = 8, padding: int = 2,
              pad_value: float = 0.5) -> np.ndarray:
    """Tile images ``(N, C, H, W)`` into one image ``(C, rows * (H + p) + p, ...)``.

    ``nrow`` images per row (as torchvision's ``make_grid``), ``padding`` pixels of
    ``pad_value`` around each; the last row is filled with ``pad_value`` where it is short.

    Raises:
        ZooError: ``images`` is not 4-dimensional with 1 or 3 channels, is empty, or
            ``nrow`` / ``padding`` are out of range.
    """
    array = as_array(images)
    if array.ndim != 4 or array.shape[1] not in _CHANNELS or not len(array):
        raise ZooError(f"a sample grid needs images of shape (N, C, H, W) with N >= 1 and C "
                       f"1 (greyscale) or 3 (RGB); got shape {array.shape}")
    if nrow < 1 or padding < 0:
        raise ZooError(f"a sample grid needs nrow >= 1 and padding >= 0; got nrow={nrow}, "
                       f"padding={padding}")
    n, channels, height, width = array.shape
    columns = min(nrow, n)
    rows = -(-n // columns)
    grid = np.full((channels, rows * (height + padding) + padding,
                    columns * (width + padding) + padding), pad_value, dtype=np.float64)
    for i, image in enumerate(array):
        top = padding + (i // columns) * (height + padding)
        left = padding + (i % columns) * (width + padding)
        grid[:, top:top + height, left:left + width] = image
    return grid


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An image in [0, 1] as bytes 0..255 (values outside are clipped, NaN becomes 0)."""
    return np.round(np.clip(np.nan_to_num(image, nan=0.0), 0.0, 1.0) * 255).astype(np.uint8)


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of ``uint8`` pixels ``(H, W)`` (greyscale) or ``(H, W, 3)`` (RGB).

    The same pixels give the same bytes: Pillow writes no time, and the compression level is
    fixed.
    """
    from PIL import Image

    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or (
            pixels.ndim == 3 and pixels.shape[2] != 3):
        raise ZooError(f"PNG pixels must be uint8 of shape (H, W) or (H, W, 3); got "
                       f"{pixels.dtype} {pixels.shape}")
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(out, format="PNG", compress_level=9)
    return out.getvalue()


def save_grid_png(images: Any, path: str | Path, *, nrow: int = 8, padding: int = 2,
                  scale: int = 1, pad_value: float = 0.5) -> Path:
    """Write images ``(N, C, H, W)`` in [0, 1] as one PNG grid; return the path.

    Args:
        images: numpy array or torch tensor, 1 (greyscale) or 3 (RGB) channels; values
            outside [0, 1] are clipped.
        path: The file to write (parent folders are created); replaced atomically, so a
            reader never sees half a file.
        nrow: Images per row.
        padding: Pixels between images (before scaling).
        scale: Each pixel becomes a ``scale`` x ``scale`` block (nearest neighbour), so small
            images (8x8 digits) are visible.
        pad_value: Grey level of the padding.

    Raises:
        ZooError: Bad shape or arguments (see :func:`make_grid`), or ``scale < 1``.
    """
    if scale < 1:
        raise ZooError(f"a sample grid needs scale >= 1; got {scale}")
    grid = make_grid(images, nrow=nrow, padding=padding, pad_value=pad_value)
    grid = grid.repeat(scale, axis=1).repeat(scale, axis=2)
    pixels = to_uint8(grid[0] if grid.shape[0] == 1 else grid.transpose(1, 2, 0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    partial.write_bytes(encode_png(pixels))
    os.replace(partial, path)
    return path


def binarize(x: np.ndarray, seed: int) -> np.ndarray:
    """Stochastic binarisation: each pixel is 1 with probability its intensity in [0, 1].

    The draw of Salakhutdinov & Murray 2008, "On the quantitative analysis of deep belief
    networks" (https://dl.acm.org/doi/10.1145/1390156.1390266), made once with ``seed`` so
    the binarised dataset is fixed. Returns float32 zeros and ones of ``x``'s shape.
    """
    rng = np.random.default_rng(seed)
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)
