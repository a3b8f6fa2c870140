"""PNG sample grids (decoded back with Pillow, pixel for pixel; reproducible byte for byte)
and binarisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zoo.errors import ZooError
from zoo.evaluation.images import binarize, make_grid, save_grid_png, to_uint8


def read_png(path: Path) -> tuple[dict[str, object], np.ndarray]:
    """Format, size and mode of a PNG file, and its pixels as Pillow decodes them."""
    with Image.open(path) as image:
        header = {"format": image.format, "width": image.width, "height": image.height,
                  "mode": image.mode}
        return header, np.asarray(image)


def test_a_greyscale_grid_reads_back_pixel_for_pixel(tmp_path: Path) -> None:
    images = np.random.default_rng(0).random((5, 1, 4, 3))
    path = save_grid_png(images, tmp_path / "sub" / "grid.png", nrow=2, padding=1,
                         pad_value=0.0)
    header, pixels = read_png(path)
    # 2 columns of width 3 and 3 rows of height 4, one pixel of padding around each
    assert header == {"format": "PNG", "width": 2 * 4 + 1, "height": 3 * 5 + 1, "mode": "L"}
    expected = np.round(images * 255).astype(np.uint8)
    assert np.array_equal(pixels[1:5, 1:4], expected[0, 0])
    assert np.array_equal(pixels[1:5, 5:8], expected[1, 0])
    assert np.array_equal(pixels[11:15, 1:4], expected[4, 0])
    assert (pixels[11:15, 5:8] == 0).all()  # the short last row is padding
    assert (pixels[0] == 0).all() and (pixels[:, 0] == 0).all()


def test_a_grid_decodes_to_its_array_and_is_the_same_bytes_each_time(tmp_path: Path) -> None:
    def drawn() -> torch.Tensor:  # samples drawn under a seed, as a generator's grid is
        return torch.rand((6, 3, 5, 4), generator=torch.Generator().manual_seed(7))

    once = save_grid_png(drawn(), tmp_path / "once.png", nrow=3, scale=2)
    again = save_grid_png(drawn(), tmp_path / "again.png", nrow=3, scale=2)
    assert once.read_bytes() == again.read_bytes()
    images = drawn()
    grid = make_grid(images, nrow=3).repeat(2, axis=1).repeat(2, axis=2)
    assert np.array_equal(read_png(once)[1], to_uint8(grid.transpose(1, 2, 0)))


def test_an_rgb_tensor_is_scaled_and_clipped(tmp_path: Path) -> None:
    images = torch.tensor([[[[2.0]], [[0.5]], [[-1.0]]]])  # one 1x1 RGB pixel, out of range
    header, pixels = read_png(save_grid_png(images, tmp_path / "rgb.png", padding=0, scale=3))
    assert (header["width"], header["height"], header["mode"]) == (3, 3, "RGB")
    assert (pixels == np.array([255, 128, 0], np.uint8)).all()


def test_grid_layout_matches_nrow() -> None:
    grid = make_grid(np.ones((7, 1, 2, 2)), nrow=3, padding=0)
    assert grid.shape == (1, 3 * 2, 3 * 2)


@pytest.mark.parametrize("shape", [(2, 2, 4, 4), (4, 4), (0, 1, 4, 4)])
def test_bad_shapes_are_one_line_errors(tmp_path: Path, shape: tuple[int, ...]) -> None:
    with pytest.raises(ZooError, match=r"\(N, C, H, W\)"):
        save_grid_png(np.zeros(shape), tmp_path / "bad.png")


def test_bad_scale_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ZooError, match="scale >= 1"):
        save_grid_png(np.zeros((1, 1, 2, 2)), tmp_path / "bad.png", scale=0)


def test_binarisation_is_fixed_by_its_seed_and_keeps_the_mean() -> None:
    x = np.random.default_rng(1).random((20_000,), dtype=np.float32)
    once, again = binarize(x, seed=3), binarize(x, seed=3)
    assert np.array_equal(once, again) and set(np.unique(once)) == {0.0, 1.0}
    assert abs(once.mean() - x.mean()) < 0.01
    assert not np.array_equal(once, binarize(x, seed=4))
    assert binarize(np.array([0.0, 1.0], np.float32), seed=0).tolist() == [0.0, 1.0]
