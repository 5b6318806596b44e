"""piad.image_files: finding, decoding, cropping and resizing image files, and bad files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from piad.errors import PIADError
from piad.image_arrays import resize_uint8
from piad.image_files import (
    ImageRecipe,
    UnreadableImageError,
    collect_images,
    crop_box,
    find_images,
    load_images,
    open_image,
    read_image,
)


def _warnings():
    lines: list[str] = []
    return lines, lines.append


# ------------------------------------------------------------------------------ finding files
def test_find_images_recursive_sorted_all_formats(tmp_path):
    for name in (
        "b/x.PNG",
        "a.jpg",
        "a.jpeg",
        "c/d/e.bmp",
        "f.tif",
        "g.tiff",
        "notes.txt",
        ".hidden.png",
    ):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    names = [p.relative_to(tmp_path).as_posix() for p in find_images(tmp_path)]
    assert names == ["a.jpeg", "a.jpg", "b/x.PNG", "c/d/e.bmp", "f.tif", "g.tiff"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: None, "does not exist"),
        (lambda d: d.mkdir(), "is empty"),
        (lambda d: (d.mkdir(), (d / "readme.txt").write_text("hi")), "no images"),
        (lambda d: d.write_text("a file"), "is not a folder"),
    ],
)
def test_find_images_bad_folders_are_one_line(tmp_path, make, message):
    folder = tmp_path / "imgs"
    make(folder)
    with pytest.raises(PIADError, match=message) as err:
        find_images(folder)
    assert str(folder) in str(err.value) and "\n" not in str(err.value)
    if message == "no images":
        assert "readme.txt" in str(err.value)  # names an example of what is there


def test_collect_images_mixes_files_and_folders_once(tmp_path, mnist5k, files):
    paths = files.write_images(tmp_path / "d", files.digits(mnist5k, 3, 3))
    got = collect_images([paths[2], tmp_path / "d"])
    assert got == [paths[2], paths[0], paths[1]]  # the file first, then the folder, no repeat
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(PIADError, match="is not an image file"):
        collect_images([tmp_path / "x.txt"])
    with pytest.raises(PIADError, match="does not exist"):
        collect_images([tmp_path / "missing.png"])


# ------------------------------------------------------------------------------ real digits
def test_png_digits_equal_the_suites_resize(tmp_path, mnist5k, files):
    """28x28 PNG digits -> 32x32: the pixels of piad.image_arrays.resize_uint8 (as the datasets)."""
    digits = files.digits(mnist5k, 5, 12)
    files.write_images(tmp_path, digits)
    loaded = load_images([tmp_path], ImageRecipe(32))
    assert loaded.images.shape == (12, 32, 32, 1) and loaded.images.dtype == np.uint8
    assert np.array_equal(loaded.images, resize_uint8(digits, 32))
    assert loaded.source_sizes == [(28, 28)] * 12 and loaded.source_channels == [1] * 12
    assert loaded.skipped == []


def _pil_resized(images: np.ndarray, size: int) -> np.ndarray:
    """PIL's bilinear resize image by image (torch's antialiased one differs by 1 grey level
    on about 1% of the pixels when shrinking 28 -> 16)."""
    out = [np.asarray(Image.fromarray(x).resize((size, size), Image.BILINEAR)) for x in images]
    return np.stack(out)[..., None]


def test_jpeg_bmp_tiff_rgb_and_16_bit_digits(tmp_path, mnist5k, files):
    digits = files.digits(mnist5k, 2, 6)
    want = _pil_resized(digits, 16)
    for suffix in (".bmp", ".tif"):
        files.write_images(tmp_path / suffix[1:], digits, suffix)
        assert np.array_equal(load_images([tmp_path / suffix[1:]], ImageRecipe(16)).images, want)
    files.write_images(tmp_path / "jpg", digits, ".jpg")
    jpeg = load_images([tmp_path / "jpg"], ImageRecipe(16)).images.astype(float)
    assert np.abs(jpeg - want).mean() < 3.0  # lossy, but the same digits
    files.write_images(tmp_path / "rgb", digits, rgb=True)
    rgb = load_images([tmp_path / "rgb"], ImageRecipe(16))
    assert rgb.channels == 3 and rgb.source_channels == [3] * 6
    assert all(np.array_equal(rgb.images[..., c], want[..., 0]) for c in range(3))
    grey = load_images([tmp_path / "rgb"], ImageRecipe(16, channels=1)).images
    assert np.array_equal(grey, want)  # luma of r = g = b is that value
    (tmp_path / "16").mkdir()
    for i, d in enumerate(digits):  # 16-bit grey PNG and TIFF: value * 257
        wide = Image.fromarray(d.astype(np.uint16) * 257)
        assert wide.mode == "I;16"
        wide.save(tmp_path / "16" / f"{i}.png")
        wide.save(tmp_path / "16" / f"{i}.tiff")
    sixteen = load_images([tmp_path / "16"], ImageRecipe(16))
    assert sixteen.channels == 1 and np.array_equal(sixteen.images, np.repeat(want, 2, axis=0))


def test_palette_alpha_and_modes(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)
    colour = Image.fromarray(pixels).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    colour.save(tmp_path / "colour.png")
    grey_pal = Image.fromarray(pixels[..., 0]).convert("P")  # an all-grey palette
    grey_pal.putpalette([v for i in range(256) for v in (i, i, i)])
    grey_pal.save(tmp_path / "greypal.png")
    Image.fromarray(np.dstack([pixels, pixels[..., :1]]), "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(pixels[..., 0]).convert("1").save(tmp_path / "bw.png")
    im, c = open_image(tmp_path / "colour.png")
    assert c == 3 and np.array_equal(np.asarray(im), np.asarray(colour.convert("RGB")))
    im, c = open_image(tmp_path / "greypal.png")
    assert c == 1 and im.mode == "L"
    im, c = open_image(tmp_path / "rgba.png")
    assert c == 3 and np.array_equal(np.asarray(im), pixels)  # alpha dropped
    im, c = open_image(tmp_path / "bw.png")
    assert c == 1 and set(np.unique(np.asarray(im)).tolist()) <= {0, 255}


# ------------------------------------------------------------------------------ crops
def test_square_crop_is_central_for_wide_and_tall_images(tmp_path):
    wide = np.zeros((20, 40), np.uint8)
    wide[:, 10:30] = 200  # the central 20x20 square
    Image.fromarray(wide).save(tmp_path / "wide.png")
    Image.fromarray(wide.T.copy()).save(tmp_path / "tall.png")
    loaded = load_images([tmp_path], ImageRecipe(20))
    assert (loaded.images == 200).all()
    assert loaded.source_sizes == [(20, 40), (40, 20)]  # (width, height): tall, wide
    assert crop_box(41, 20, "square") == (10, 0, 30, 20)  # (41 - 20) / 2 = 10.5 -> 10


def test_celeba_crop_is_the_central_140_of_178x218(tmp_path):
    rng = np.random.default_rng(1)
    face = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
    Image.fromarray(face).save(tmp_path / "face.png")
    got = load_images([tmp_path], ImageRecipe(64, crop="celeba")).images[0]
    want = Image.fromarray(face).crop((19, 39, 159, 179)).resize((64, 64), Image.BILINEAR)
    assert np.array_equal(got, np.asarray(want))
    assert crop_box(178, 218, "celeba") == (19, 39, 159, 179)
    assert crop_box(356, 436, "celeba") == (38, 78, 318, 358)  # same fraction at twice the size


def test_the_datasets_loaders_crop_as_the_piad_command(tmp_path):
    """A 256x341 photo: LSUN's loader path gives the same pixels as ``piad``'s image files."""
    from benchmarks.data.loaders.common import square_crop_resize

    rng = np.random.default_rng(2)
    photo = Image.fromarray(rng.integers(0, 256, (256, 341, 3), dtype=np.uint8))
    photo.save(tmp_path / "p.png")
    got = load_images([tmp_path], ImageRecipe(64)).images[0]
    want = photo.crop((42, 0, 298, 256)).resize((64, 64), Image.BILINEAR)  # central square
    assert np.array_equal(got, np.asarray(want))
    assert np.array_equal(got, square_crop_resize(photo, 64))


# ------------------------------------------------------------------------------ bad files
def test_unreadable_files_are_skipped_with_one_warning_each(tmp_path, mnist5k, files):
    digits = files.digits(mnist5k, 4, 3)
    files.write_images(tmp_path, digits)
    bad = files.corrupt_files(tmp_path, digits[0])
    lines, warn = _warnings()
    loaded = load_images([tmp_path], ImageRecipe(32), warn=warn)
    assert len(loaded.paths) == 3 and [p for p, _ in loaded.skipped] == sorted(bad)
    assert len(lines) == 4 and all(str(p) in " ".join(lines) for p in bad)
    assert "skipped 3 of 6" in lines[-1] and "--strict" in lines[-1]
    reasons = dict(loaded.skipped)
    assert "truncated" in reasons[tmp_path / "cut.png"]
    assert "empty" in reasons[tmp_path / "empty.jpg"]


def test_strict_refuses_the_first_unreadable_file(tmp_path, mnist5k, files):
    digits = files.digits(mnist5k, 4, 2)
    files.write_images(tmp_path, digits)
    files.truncated_png(tmp_path / "cut.png", digits[0])
    with pytest.raises(PIADError, match=r"cut\.png") as err:
        load_images([tmp_path], ImageRecipe(32), strict=True)
    assert "--strict" in str(err.value) and "truncated" in str(err.value)
    with pytest.raises(UnreadableImageError):
        open_image(tmp_path / "cut.png")


def test_no_readable_image_at_all(tmp_path, mnist5k, files):
    files.corrupt_files(tmp_path, files.digits(mnist5k, 0, 1)[0])
    with pytest.raises(PIADError, match="none of the 3 image files could be read"):
        load_images([tmp_path], ImageRecipe(32), warn=lambda m: None)


def test_mixed_channels_refused_unless_converted(tmp_path, mnist5k, files):
    digits = files.digits(mnist5k, 6, 2)
    files.write_images(tmp_path / "a", digits[:1])
    files.write_images(tmp_path / "b", digits[1:], rgb=True)
    with pytest.raises(PIADError, match="--channels") as err:
        load_images([tmp_path], ImageRecipe(32))
    message = str(err.value)
    assert "a/000.png is grayscale" in message and "b/000.png is RGB" in message
    loaded = load_images([tmp_path], ImageRecipe(32, channels=3))
    assert loaded.images.shape == (2, 32, 32, 3) and loaded.source_channels == [1, 3]


def test_recipe_checks_and_round_trip():
    recipe = ImageRecipe(64, 3, "celeba")
    assert ImageRecipe.from_dict(recipe.to_dict()) == recipe
    for bad in ({"size": 0}, {"size": 8, "channels": 2}, {"size": 8, "crop": "round"}):
        with pytest.raises(PIADError):
            ImageRecipe(**bad)


def test_read_image_is_one_file_of_load_images(tmp_path):
    """read_image gives the pixels load_images gives for the same file and recipe."""
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (20, 40), dtype=np.uint8)).save(tmp_path / "a.png")
    for recipe in (ImageRecipe(16, 3), ImageRecipe(16), ImageRecipe(12, 3, "celeba")):
        x = read_image(tmp_path / "a.png", recipe)
        assert x.shape == (recipe.size, recipe.size, recipe.channels or 1)
        np.testing.assert_array_equal(x, load_images([tmp_path], recipe).images[0])
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(UnreadableImageError, match=r"bad\.png"):
        read_image(tmp_path / "bad.png", ImageRecipe(16))
