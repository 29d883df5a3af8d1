"""The ``image`` processor on photograph-like images made here with Pillow: EXIF orientation, ICC
profiles, transparency, CMYK, 16-bit, animation and broken files. Every output is reopened with
Pillow and checked for format, size, mode, orientation and metadata. Every test runs on both
paths, libvips (pyvips) and Pillow (``library``); ``auto`` and the fallback when pyvips is
absent, the pixel limit and a 30,000 × 20,000 TIFF come last."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image, ImageCms  # noqa: E402

import batchmill.core.processors.image as image_module  # noqa: E402
from batchmill.core.processors import get_processor  # noqa: E402
from batchmill.core.processors.base import ParamError  # noqa: E402
from batchmill.core.processors.image import convert_image  # noqa: E402

pytestmark = pytest.mark.timeout(120)
LIBRARY = {"name": "auto"}  # the path the tests' helpers ask for; set by the autouse fixture below


@pytest.fixture(autouse=True, params=["vips", "pillow"])
def library(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(LIBRARY, "name", request.param)
    return str(request.param)

MAKE, ORIENTATION = 0x010F, 0x0112
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


class RecordingContext:
    """Stands in for the worker's ProcessorContext when the per-file function is called directly."""

    def __init__(self) -> None:
        self.reports: list[tuple[float | None, str]] = []

    def progress(self, fraction: float | None, message: str = "") -> None:
        self.reports.append((fraction, message))


# -- making inputs ------------------------------------------------------------------------
def photo(width: int, height: int) -> Image.Image:
    """Smooth gradients plus sensor-like noise: compresses and resizes like a photograph."""
    red = Image.linear_gradient("L").resize((width, height))
    green = Image.radial_gradient("L").resize((width, height))
    blue = Image.effect_noise((width, height), 40)
    return Image.merge("RGB", (red, green, blue))


def camera_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = "Batchmill Camera"
    if orientation is not None:
        exif[ORIENTATION] = orientation
    return exif


def top_red_bottom_blue(width: int, height: int) -> Image.Image:
    """As stored in the file: red top half, blue bottom half; orientation tells where 'top' really is."""
    img = Image.new("RGB", (width, height), BLUE)
    img.paste(RED, (0, 0, width, height // 2))
    return img


def hide_pyvips(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import pyvips`` fails from now to the end of the test, as on a machine without it."""
    monkeypatch.setitem(sys.modules, "pyvips", None)
    monkeypatch.setattr(image_module, "vips_available", functools.cache(image_module.vips_available.__wrapped__))


def truncated_jpeg(path: Path) -> Path:
    whole = tmp_bytes(photo(200, 150), "JPEG")
    path.write_bytes(whole[: len(whole) // 2])
    return path


def tmp_bytes(img: Image.Image, fmt: str, **options: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def animated_gif(path: Path, frames: int = 4) -> Path:
    colours = ["red", "green", "blue", "yellow", "white", "black"][:frames]
    images = [Image.new("RGB", (64, 48), c) for c in colours]
    images[0].save(path, save_all=True, append_images=images[1:], duration=[80, 90, 100, 110][:frames], loop=0)
    return path


def sixteen_bit_png(path: Path) -> Path:
    """A 16-bit greyscale ramp: 0, 256, 512 … across, the way scientific cameras and scanners write."""
    img = Image.new("I;16", (256, 8))
    img.putdata([x * 257 for x in range(256)] * 8)
    img.save(path)
    return path


def convert(src: Path, tmp_path: Path, **params: Any) -> tuple[Any, dict[str, Any], RecordingContext]:
    """Run the per-file function as a worker would, then reopen what it wrote."""
    context = RecordingContext()
    dst = tmp_path / f".{src.stem}.out.12345678.bmpart"  # a temporary name with no useful extension
    result = convert_image(src, dst, context, **{"library": LIBRARY["name"], **params})  # type: ignore[arg-type]
    assert result["library"] == LIBRARY["name"]
    return reopen(dst), result, context


def reopen(path: Path) -> Any:
    """The output as Pillow reads it (an ImageFile, with n_frames and the like for its format)."""
    img = Image.open(path)
    img.load()
    return img


def colour_at(img: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    return img.convert("RGB").getpixel(xy)  # type: ignore[return-value]


def close_to(colour: tuple[int, ...], expected: tuple[int, ...], slack: int = 40) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(colour, expected))


def batchmill(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI; a ``run`` gets the library under test unless the arguments name one."""
    chosen = () if args[0] != "run" or any(a.startswith("library=") for a in args) else (
        "--param", f"library={LIBRARY['name']}")
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args, *chosen], capture_output=True,
                          text=True, timeout=90, env=env)


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    """A camera card's worth of trouble: rotated photo, transparent logo, CMYK scan, 16-bit ramp,
    an animation and a half-copied file."""
    folder = tmp_path / "card"
    folder.mkdir()
    top_red_bottom_blue(120, 80).save(folder / "portrait.jpg", exif=camera_exif(6), icc_profile=SRGB)
    logo = Image.new("RGBA", (90, 30), (0, 0, 0, 0))
    logo.paste((0, 0, 255, 255), (45, 0, 90, 30))
    logo.save(folder / "logo.png")
    Image.new("CMYK", (100, 50), (0, 255, 255, 0)).save(folder / "scan.jpg")
    sixteen_bit_png(folder / "depth.png")
    animated_gif(folder / "anim.gif")
    truncated_jpeg(folder / "broken.jpg")
    return folder


# -- through the CLI, end to end ----------------------------------------------------------
def test_a_card_to_small_jpegs_fails_only_the_bad_files(mixed_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"

    result = batchmill("run", "image", str(mixed_folder), "--output", str(out), "--param", "format=jpeg",
                       "--param", "max_size=60", "--json")

    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert (data["done"], data["failed"]) == (4, 2)
    errors = {Path(f["input"]).name: f["error"] for f in data["failures"]}
    assert errors["broken.jpg"].startswith("processor raised ValueError: truncated or corrupt image: ")
    assert errors["anim.gif"] == ("processor raised ValueError: animated image with 4 frames: not supported by the "
                                  "image processor for format=jpeg (use format=webp or format=tiff to keep every "
                                  "frame)")
    made = {p.name: reopen(p) for p in (out / "card").iterdir()}
    assert sorted(made) == ["depth.jpg", "logo.jpg", "portrait.jpg", "scan.jpg"]
    assert {name: (img.format, img.size) for name, img in made.items()} == {
        "portrait.jpg": ("JPEG", (40, 60)), "logo.jpg": ("JPEG", (60, 20)),
        "scan.jpg": ("JPEG", (60, 30)), "depth.jpg": ("JPEG", (60, 2))}
    portrait = made["portrait.jpg"]
    assert close_to(colour_at(portrait, (35, 30)), RED) and close_to(colour_at(portrait, (4, 30)), BLUE)
    assert portrait.info["icc_profile"] == SRGB
    assert portrait.getexif()[MAKE] == "Batchmill Camera" and portrait.getexif().get(ORIENTATION, 1) == 1
    logo = made["logo.jpg"]
    assert close_to(colour_at(logo, (5, 10)), WHITE) and close_to(colour_at(logo, (55, 10)), BLUE)


def test_a_card_to_tiff_keeps_every_frame_and_16_bits(mixed_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"

    result = batchmill("run", "image", str(mixed_folder), "--output", str(out), "--param", "format=tif", "--json")

    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert (data["done"], data["failed"]) == (5, 1)
    assert [Path(f["input"]).name for f in data["failures"]] == ["broken.jpg"]
    anim = reopen(out / "card" / "anim.tif")
    assert (anim.format, anim.n_frames, anim.size) == ("TIFF", 4, (64, 48))
    depth = reopen(out / "card" / "depth.tif")
    assert depth.mode == "I;16" and depth.getextrema() == (0, 65535)
    assert reopen(out / "card" / "scan.tif").mode == "CMYK"
    assert reopen(out / "card" / "logo.tif").mode == "RGBA"


# -- orientation, size, format ------------------------------------------------------------
@pytest.mark.parametrize(("orientation", "size", "red_at", "blue_at"), [
    (1, (120, 80), (60, 10), (60, 70)),   # as stored
    (3, (120, 80), (60, 70), (60, 10)),   # upside down
    (6, (80, 120), (70, 60), (10, 60)),   # camera turned clockwise: the stored top is on the right
    (8, (80, 120), (10, 60), (70, 60)),   # turned the other way
])
def test_exif_orientation_is_applied_to_the_pixels(tmp_path: Path, orientation: int, size: tuple[int, int],
                                                  red_at: tuple[int, int], blue_at: tuple[int, int]) -> None:
    src = tmp_path / "turned.jpg"
    top_red_bottom_blue(120, 80).save(src, exif=camera_exif(orientation))

    out, result, _ = convert(src, tmp_path, format="png")

    assert (out.format, out.size) == ("PNG", size)
    assert (result["width"], result["height"]) == size
    assert close_to(colour_at(out, red_at), RED) and close_to(colour_at(out, blue_at), BLUE)
    assert out.getexif().get(ORIENTATION, 1) == 1  # a viewer must not turn it a second time


@pytest.mark.parametrize(("size", "max_size", "expected"), [
    ((300, 200), 100, (100, 67)),
    ((200, 300), 100, (67, 100)),
    ((300, 200), 300, (300, 200)),
    ((30, 20), 100, (30, 20)),  # never enlarged
    ((300, 200), 0, (300, 200)),
    ((3000, 2000), 150, (150, 100)),  # big JPEG: decoded at a reduced scale, then resized
])
def test_max_size_bounds_the_longest_side(tmp_path: Path, size: tuple[int, int], max_size: int,
                                          expected: tuple[int, int]) -> None:
    src = tmp_path / "photo.jpg"
    photo(*size).save(src, quality=80)

    out, result, _ = convert(src, tmp_path, format="webp", max_size=max_size)

    assert (out.format, out.size) == ("WEBP", expected)
    assert (result["width"], result["height"]) == expected


@pytest.mark.parametrize(("fmt", "pillow_format", "extension"), [
    ("png", "PNG", ".png"), ("jpeg", "JPEG", ".jpg"), ("webp", "WEBP", ".webp"), ("tiff", "TIFF", ".tif")])
def test_the_format_decides_the_file_type_and_extension(tmp_path: Path, fmt: str, pillow_format: str,
                                                        extension: str) -> None:
    src = tmp_path / "holiday.photo.png"
    photo(64, 48).save(src)
    processor = get_processor("image")

    out, _, _ = convert(src, tmp_path, format=fmt)

    assert out.format == pillow_format
    assert processor.output_name(processor.validate({"format": fmt}), src.name) == "holiday.photo" + extension


def test_quality_changes_the_jpeg(tmp_path: Path) -> None:
    src = tmp_path / "photo.png"
    photo(200, 150).save(src)

    for name, quality in (("low", 10), ("high", 95)):
        convert_image(src, tmp_path / name, RecordingContext(), format="jpeg", quality=quality,  # type: ignore[arg-type]
                      library=LIBRARY["name"])

    assert (tmp_path / "low").stat().st_size * 2 < (tmp_path / "high").stat().st_size


# -- metadata -----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "tiff"])
def test_icc_profile_and_exif_are_kept(tmp_path: Path, fmt: str, library: str) -> None:
    src = tmp_path / "photo.jpg"
    photo(64, 48).save(src, exif=camera_exif(), icc_profile=SRGB)

    out, _, _ = convert(src, tmp_path, format=fmt, max_size=32)

    assert out.info.get("icc_profile") == SRGB
    if fmt == "tiff" and library == "vips":  # the one difference: libvips' TIFF writer writes no EXIF
        assert out.getexif().get(MAKE) is None
    else:
        assert out.getexif().get(MAKE) == "Batchmill Camera"


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "tiff"])
def test_strip_metadata_drops_icc_and_exif(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "photo.jpg"
    photo(64, 48).save(src, exif=camera_exif(6), icc_profile=SRGB)

    out, _, _ = convert(src, tmp_path, format=fmt, strip_metadata=True)

    assert not out.info.get("icc_profile")
    assert MAKE not in out.getexif()
    assert out.size == (48, 64)  # the orientation is still applied before the tag goes


# -- modes --------------------------------------------------------------------------------
def transparent_rgba() -> Image.Image:
    img = Image.new("RGBA", (40, 20), (255, 0, 0, 0))  # red, but fully transparent
    img.paste((0, 0, 255, 255), (20, 0, 40, 20))
    return img


def transparent_la() -> Image.Image:
    img = Image.new("LA", (40, 20), (0, 0))
    img.paste((30, 255), (20, 0, 40, 20))
    return img


def transparent_palette() -> Image.Image:
    img = transparent_rgba().convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    img.info["transparency"] = img.getpixel((0, 0))
    return img


@pytest.mark.parametrize(("make", "mode", "right"), [
    (transparent_rgba, "RGB", BLUE), (transparent_la, "L", (30, 30, 30)), (transparent_palette, "RGB", BLUE)],
    ids=["RGBA", "LA", "P-with-transparency"])
def test_transparency_is_flattened_onto_white_for_jpeg(tmp_path: Path, make: Any, mode: str,
                                                      right: tuple[int, int, int]) -> None:
    src = tmp_path / "logo.png"
    make().save(src)

    out, _, _ = convert(src, tmp_path, format="jpeg")

    assert (out.format, out.mode) == ("JPEG", mode)
    assert close_to(colour_at(out, (5, 10)), WHITE)  # not black, not the hidden red
    assert close_to(colour_at(out, (35, 10)), right)


@pytest.mark.parametrize(("fmt", "mode"), [("png", "RGBA"), ("webp", "RGBA"), ("tiff", "RGBA")])
def test_transparency_is_kept_where_the_format_can_hold_it(tmp_path: Path, fmt: str, mode: str) -> None:
    src = tmp_path / "logo.png"
    transparent_rgba().save(src)

    out, _, _ = convert(src, tmp_path, format=fmt, max_size=20)

    assert out.mode == mode
    assert out.getpixel((2, 5))[3] == 0 and out.getpixel((18, 5))[3] == 255


@pytest.mark.parametrize(("fmt", "mode"), [("png", "RGB"), ("webp", "RGB"), ("jpeg", "CMYK"), ("tiff", "CMYK")])
def test_cmyk_becomes_rgb_only_where_the_format_needs_it(tmp_path: Path, fmt: str, mode: str) -> None:
    src = tmp_path / "print.jpg"
    Image.new("CMYK", (60, 40), (0, 255, 255, 0)).save(src)  # red ink: no cyan, full magenta and yellow

    out, _, _ = convert(src, tmp_path, format=fmt)

    assert out.mode == mode
    assert close_to(colour_at(out, (30, 20)), RED)


def test_16_bit_greyscale_stays_16_bit_in_png_even_when_resized(tmp_path: Path) -> None:
    src = sixteen_bit_png(tmp_path / "ramp.png")

    out, result, _ = convert(src, tmp_path, format="png", max_size=128)

    assert (out.mode, out.size, result["mode"]) == ("I;16", (128, 4), "I;16")
    low, high = out.getextrema()
    assert low < 1000 and high > 64000  # the full 16-bit range survived the resize


def test_16_bit_greyscale_is_scaled_not_clipped_to_8_bits(tmp_path: Path) -> None:
    src = sixteen_bit_png(tmp_path / "ramp.png")

    out, _, _ = convert(src, tmp_path, format="jpeg", quality=100)

    assert out.mode == "L"
    assert [out.getpixel((x, 4)) for x in (0, 64, 128, 255)] == pytest.approx([0, 64, 128, 255], abs=3)


def test_16_bit_greyscale_becomes_rgb_for_webp(tmp_path: Path) -> None:
    src = sixteen_bit_png(tmp_path / "ramp.png")

    out, _, _ = convert(src, tmp_path, format="webp", quality=100)

    assert out.mode == "RGB"
    assert colour_at(out, (128, 4)) == pytest.approx((128, 128, 128), abs=4)


# -- animation and pages ------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_an_animation_is_refused_where_frames_cannot_be_kept(tmp_path: Path, fmt: str) -> None:
    src = animated_gif(tmp_path / "spinner.gif")

    with pytest.raises(ValueError, match=f"^animated image with 4 frames: not supported by the image processor for "
                                         f"format={fmt}"):
        convert(src, tmp_path, format=fmt)


def test_an_animation_keeps_frames_and_timing_as_webp(tmp_path: Path) -> None:
    src = animated_gif(tmp_path / "spinner.gif")

    out, result, context = convert(src, tmp_path, format="webp", max_size=32)

    assert (out.format, out.n_frames, out.size, result["frames"]) == ("WEBP", 4, (32, 24), 4)
    timing, colours = [], []
    for index in range(out.n_frames):
        out.seek(index)
        out.load()
        timing.append(out.info["duration"])
        colours.append(colour_at(out, (16, 12)))
    assert timing == [80, 90, 100, 110]
    assert [close_to(c, e) for c, e in zip(colours, [RED, (0, 128, 0), BLUE, (255, 255, 0)])] == [True] * 4
    assert "frame 4 of 4" in [message for _, message in context.reports]


def test_a_multi_page_tiff_is_refused_as_png_and_kept_as_tiff(tmp_path: Path) -> None:
    src = tmp_path / "fax.tif"
    pages = [Image.new("L", (50, 70), shade) for shade in (0, 128, 255)]
    pages[0].save(src, save_all=True, append_images=pages[1:])

    with pytest.raises(ValueError, match="^multi-page image with 3 frames: "):
        convert(src, tmp_path, format="png")
    out, _, _ = convert(src, tmp_path, format="tiff")

    assert out.n_frames == 3


def test_a_camera_mpo_counts_as_its_first_frame(tmp_path: Path) -> None:
    src = tmp_path / "camera.jpg"
    photo(80, 60).save(src, format="MPO", save_all=True, append_images=[Image.new("RGB", (40, 30), "white")])
    assert Image.open(src).format == "MPO"

    out, result, _ = convert(src, tmp_path, format="png")

    assert (out.size, "frames" in result) == ((80, 60), False)


# -- broken files -------------------------------------------------------------------------
def test_a_truncated_jpeg_fails_saying_so(tmp_path: Path, library: str) -> None:
    src = truncated_jpeg(tmp_path / "half.jpg")
    decoder = "image file is truncated" if library == "pillow" else "VipsJpeg: premature end of JPEG image$"

    with pytest.raises(ValueError, match=f"^truncated or corrupt image: {decoder}"):
        convert(src, tmp_path, format="png")


def test_a_truncated_png_fails_saying_so(tmp_path: Path) -> None:
    whole = tmp_bytes(photo(200, 150), "PNG")
    src = tmp_path / "half.png"
    src.write_bytes(whole[: len(whole) // 2])

    with pytest.raises(ValueError, match="^truncated or corrupt image: "):
        convert(src, tmp_path, format="jpeg")


@pytest.mark.parametrize("content", [b"", b"just some text, not a picture\n"], ids=["empty", "text"])
def test_a_file_that_is_no_image_fails_saying_so(tmp_path: Path, content: bytes, library: str) -> None:
    src = tmp_path / "notes.jpg"
    src.write_bytes(content)
    reader = "Pillow" if library == "pillow" else "libvips"

    with pytest.raises(ValueError, match=rf"^not an image {reader} can read \(unknown or unsupported format\)$"):
        convert(src, tmp_path, format="png")


# -- progress, parameters, Pillow missing -------------------------------------------------
def test_progress_is_reported_after_decoding_resizing_and_writing(tmp_path: Path, library: str) -> None:
    src = tmp_path / "photo.png"  # not a JPEG: its 1/4-scale decode would already be the size asked for
    photo(400, 300).save(src)

    _, _, context = convert(src, tmp_path, format="png", max_size=100)

    fractions = [f for f, _ in context.reports if f is not None]
    assert len(fractions) == len(context.reports) and fractions == sorted(fractions) and fractions[-1] == 1.0
    messages = [m for _, m in context.reports]
    if library == "pillow":
        assert messages[0].startswith("decoded ") and "resized to 100×75" in messages
    else:  # libvips decodes as it writes (how far it got: tests/core/test_image_libraries.py)
        assert messages[0] == "opened 400×300" and "resizing to 100×75" in messages
    assert "writing PNG" in messages


def test_parameters_are_checked_and_format_aliases_accepted() -> None:
    processor = get_processor("image")

    assert processor.validate({"format": "JPG"})["format"] == "jpeg"
    assert processor.validate({"format": ".tif", "strip_metadata": "yes"}) == {
        "format": "tiff", "max_size": 0, "quality": 90, "strip_metadata": True, "max_pixels": 0, "library": "auto"}
    with pytest.raises(ParamError, match="parameter 'format' must be one of png, jpeg, webp, tiff; got 'gif'"):
        processor.validate({"format": "gif"})
    with pytest.raises(ParamError, match="parameter 'quality' must be at most 100"):
        processor.validate({"quality": "101"})
    with pytest.raises(ParamError, match="parameter 'max_size' must be at least 0"):
        processor.validate({"max_size": "-5"})


def test_without_pillow_the_job_is_refused_with_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now raises ImportError

    with pytest.raises(ParamError, match=r"^the image processor needs Pillow: pip install 'batchmill\[image\]'$"):
        get_processor("image").validate({"format": "png", "library": "pillow"})
    assert get_processor("image").validate({"format": "png"})["library"] == "auto"  # libvips will do
    hide_pyvips(monkeypatch)
    with pytest.raises(ParamError, match=r"^the image processor needs Pillow or pyvips: pip install "
                                         r"'batchmill\[image\]' \(or 'batchmill\[vips\]'\)$"):
        get_processor("image").validate({"format": "png"})
    with pytest.raises(ParamError, match=r"^library=vips needs pyvips: pip install 'batchmill\[vips\]' \(the frozen "
                                         r"bundle does not carry it"):
        get_processor("image").validate({"library": "vips"})


def test_core_imports_and_lists_processors_without_pillow() -> None:
    code = ("import sys; sys.modules['PIL'] = None\n"
            "from batchmill.core.processors import all_processors\n"
            "print(sorted(all_processors()))")

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "'image'" in result.stdout and "'command'" in result.stdout
