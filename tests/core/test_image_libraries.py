"""Which library the ``image`` processor runs on: libvips when pyvips is installed (``auto``), Pillow
when it is not (pyvips hidden from the workers by a stand-in that fails to import, as on a machine
without it); the same outputs from both on the photos of tests/core/test_image.py; ``max_pixels`` on
both; a 30,000 × 20,000 TIFF through libvips in bounded memory, and refused by Pillow naming
``max_pixels``."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PIL")
pyvips = pytest.importorskip("pyvips")
from PIL import Image  # noqa: E402

from batchmill.core.processors import image as image_module  # noqa: E402
from batchmill.core.processors.image import convert_image  # noqa: E402
from test_image import (  # noqa: E402
    RecordingContext, animated_gif, camera_exif, hide_pyvips, photo, reopen, sixteen_bit_png, top_red_bottom_blue,
    truncated_jpeg)

pytestmark = pytest.mark.timeout(180)


def hide_pyvips_from_workers(tmp_path: Path) -> dict[str, str]:
    """An environment whose Python finds a ``pyvips`` that cannot be imported, as if it were absent."""
    shadow = tmp_path / "no-pyvips"
    (shadow / "pyvips").mkdir(parents=True)
    (shadow / "pyvips" / "__init__.py").write_text("raise ImportError('pyvips hidden by the test')\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(shadow), os.environ.get("PYTHONPATH")]))}


def batchmill(*args: str, env: dict[str, str] | None = None, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """The kinds of picture test_image.py uses: rotated, transparent, CMYK, 16-bit, animated, big, broken."""
    folder = tmp_path / "card"
    folder.mkdir()
    top_red_bottom_blue(120, 80).save(folder / "portrait.jpg", exif=camera_exif(6))
    logo = Image.new("RGBA", (90, 30), (0, 0, 0, 0))
    logo.paste((0, 0, 255, 255), (45, 0, 90, 30))
    logo.save(folder / "logo.png")
    Image.new("CMYK", (100, 50), (0, 255, 255, 0)).save(folder / "scan.jpg")
    sixteen_bit_png(folder / "depth.png")
    animated_gif(folder / "anim.gif")
    photo(3000, 2000).save(folder / "big.jpg", quality=80)
    photo(1234, 777).save(folder / "odd.webp")
    truncated_jpeg(folder / "broken.jpg")
    return folder


def outputs(folder: Path) -> dict[str, tuple[str, tuple[int, int], str, int]]:
    made = {}
    for path in sorted(folder.iterdir()):
        img = reopen(path)
        made[path.name] = (img.format, img.size, img.mode, getattr(img, "n_frames", 1))
    return made


@pytest.mark.parametrize(("fmt", "max_size"), [("jpeg", 160), ("webp", 0), ("png", 100), ("tiff", 500)])
def test_both_libraries_give_the_same_outputs(photos: Path, tmp_path: Path, fmt: str, max_size: int) -> None:
    runs = {}
    for library in ("vips", "pillow"):
        out = tmp_path / library
        done = batchmill("run", "image", str(photos), "--output", str(out), "--param", f"format={fmt}",
                         "--param", f"max_size={max_size}", "--param", f"library={library}", "--json")
        data = json.loads(done.stdout)
        runs[library] = (data["done"], sorted(Path(f["input"]).name for f in data["failures"]), outputs(out / "card"))

    vips, pillow = runs["vips"], runs["pillow"]
    assert vips[:2] == pillow[:2]
    assert "broken.jpg" in vips[1]
    same = {name: (fmt_, size, frames) for name, (fmt_, size, _, frames) in vips[2].items()}
    assert same == {name: (fmt_, size, frames) for name, (fmt_, size, _, frames) in pillow[2].items()}
    modes = {name: mode for name, (_, _, mode, _) in vips[2].items()}
    pillow_modes = {name: mode for name, (_, _, mode, _) in pillow[2].items()}
    # Pillow keeps a GIF's palette in TIFF; libvips reads it as RGBA. Every other mode is the same.
    assert {k: v for k, v in modes.items() if k != "anim.tif"} == {
        k: v for k, v in pillow_modes.items() if k != "anim.tif"}
    portrait = reopen(tmp_path / "vips" / "card" / f"portrait{image_module.EXTENSIONS[fmt]}")
    assert portrait.height > portrait.width  # turned upright, as by Pillow


def test_auto_uses_libvips_when_pyvips_is_installed(tmp_path: Path) -> None:
    src = tmp_path / "photo.jpg"
    photo(64, 48).save(src)

    result = convert_image(src, tmp_path / "out", RecordingContext(), format="png")  # type: ignore[arg-type]

    assert result["library"] == "vips"


def test_without_pyvips_auto_falls_back_to_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "photo.jpg"
    photo(64, 48).save(src)
    hide_pyvips(monkeypatch)

    result = convert_image(src, tmp_path / "out", RecordingContext(), format="png")  # type: ignore[arg-type]

    assert result["library"] == "pillow"


def test_an_animated_png_goes_to_pillow_which_reads_its_frames(tmp_path: Path) -> None:
    src = tmp_path / "spinner.png"
    frames = [Image.new("RGB", (40, 30), colour) for colour in ("red", "green", "blue")]
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100)

    with pytest.raises(ValueError, match="^animated image with 3 frames: "):
        convert_image(src, tmp_path / "out", RecordingContext(), format="png")  # type: ignore[arg-type]
    result = convert_image(src, tmp_path / "out", RecordingContext(), format="webp")  # type: ignore[arg-type]

    assert (result["library"], result["frames"]) == ("pillow", 3)


def test_libvips_reports_progress_as_it_writes(tmp_path: Path) -> None:
    src = tmp_path / "scan.png"
    photo(2000, 1500).save(src)
    context = RecordingContext()

    convert_image(src, tmp_path / "out", context, format="png", library="vips")  # type: ignore[arg-type]

    writing = [(f, m) for f, m in context.reports if m.startswith("writing PNG: ")]
    assert len(writing) >= 3 and writing == sorted(writing, key=lambda r: r[0] or 0.0)
    assert all(m.endswith("%") for _, m in writing) and context.reports[-1] == (1.0, "written")


@pytest.mark.parametrize("library", ["vips", "pillow"])
def test_max_pixels_refuses_larger_images_on_both_paths(tmp_path: Path, library: str) -> None:
    src = tmp_path / "photo.png"
    photo(200, 150).save(src)

    with pytest.raises(ValueError, match=r"^image of 200×150 has 30,000 pixels, more than max_pixels=29,999: raise "
                                         r"max_pixels \(or 0\) to convert it$"):
        convert_image(src, tmp_path / "out", RecordingContext(), format="png",  # type: ignore[arg-type]
                      max_pixels=29_999, library=library)
    result = convert_image(src, tmp_path / "out", RecordingContext(), format="png",  # type: ignore[arg-type]
                           max_pixels=30_000, library=library)
    assert (result["width"], result["height"]) == (200, 150)


# -- a 30,000 × 20,000 TIFF ---------------------------------------------------------------
PEAK_RSS = textwrap.dedent("""
    import json, resource, subprocess, sys
    done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB: the largest of the CLI and its workers
    print(json.dumps({"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr[-2000:], "peak_kib": peak}))
""")


@pytest.fixture(scope="module")
def huge_tiff(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30,000 × 20,000 RGB (1.8 GB decoded, ten times Pillow's bomb guard) as a tiled deflate TIFF of ~13 MB."""
    path = tmp_path_factory.mktemp("huge") / "scan.tif"
    grey = pyvips.Image.grey(30_000, 20_000, uchar=True)
    grey.bandjoin([grey.flip("horizontal"), grey]).copy(interpretation="srgb").tiffsave(
        str(path), tile=True, tile_width=256, tile_height=256, compression="deflate")
    return path


@pytest.mark.slow
def test_a_30000_by_20000_tiff_converts_on_libvips_in_bounded_memory(huge_tiff: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "batchmill.gui.launcher", "run", "image", str(huge_tiff), "--output", str(out),
               "--param", "format=jpeg", "--param", "max_size=3000", "--workers", "1", "--json"]

    done = subprocess.run([sys.executable, "-c", PEAK_RSS, *command], capture_output=True, text=True, timeout=170,
                          check=True)

    report: dict[str, Any] = json.loads(done.stdout)
    assert report["rc"] == 0, report["stdout"] + report["stderr"]
    peak_mib = report["peak_kib"] / 1024
    print(f"30,000 x 20,000 RGB TIFF (1.8 GB decoded) to a 3000 px JPEG on libvips: peak RSS {peak_mib:.0f} MiB")
    assert peak_mib < 500
    made = reopen(out / "scan.jpg")
    assert (made.format, made.size, made.mode) == ("JPEG", (3000, 2000), "RGB")


def test_without_pyvips_a_30000_by_20000_tiff_is_refused_naming_max_pixels(huge_tiff: Path, tmp_path: Path) -> None:
    done = batchmill("run", "image", str(huge_tiff), "--output", str(tmp_path / "out"), "--param", "format=jpeg",
                     "--json", env=hide_pyvips_from_workers(tmp_path))

    assert done.returncode == 1, done.stdout + done.stderr
    error = json.loads(done.stdout)["failures"][0]["error"]
    assert error == ("processor raised ValueError: image of 30000×20000 has 600,000,000 pixels, more than Pillow's "
                     "guard against decompression bombs (178,956,970): set max_pixels to at least 600,000,000 to "
                     "convert it with Pillow, which decodes the whole image in memory, or install pyvips "
                     "(pip install 'batchmill[vips]'), which streams it")
