"""The ``raster`` processor against GDAL's own command-line tools (Debian's gdal-bin: gdalwarp,
gdalinfo) on GeoTIFFs made here with a CRS, nodata and several bands; COG layout checked by
rio-cogeo and gdalinfo; a raster larger than its worker's address-space limit; GDAL's message for
a file it cannot open."""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp
from rasterio.transform import from_origin
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_validate

import batchmill.core.processors.raster as raster_module
from batchmill.core.processors import get_processor
from batchmill.core.processors.base import ParamError
from batchmill.core.processors.raster import convert_raster

pytestmark = pytest.mark.timeout(180)


def gdal_tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: packaging/install-system-deps.sh installs Debian's gdal-bin"
    return found


class RecordingContext:
    """Stands in for the worker's ProcessorContext; also notes GDAL's thread option at each report."""

    def __init__(self) -> None:
        self.reports: list[tuple[float | None, str]] = []
        self.threads: set[str | None] = set()

    def progress(self, fraction: float | None, message: str = "") -> None:
        self.reports.append((fraction, message))
        self.threads.add(rasterio.env.getenv().get("GDAL_NUM_THREADS"))


# -- making inputs ------------------------------------------------------------------------
def utm_rgb(path: Path, width: int = 300, height: int = 200) -> Path:
    """Three 16-bit bands in UTM 33N with nodata 9999 (a block of it), descriptions, colours and tags."""
    y, x = np.mgrid[0:height, 0:width]
    data = np.stack([(x + y) % 256, (x * 2) % 256, (y * 3) % 256]).astype("uint16") * 100
    data[:, 10:30, 10:40] = 9999
    profile = dict(driver="GTiff", width=width, height=height, count=3, dtype="uint16", crs="EPSG:32633",
                   transform=from_origin(500000, 5000000, 30, 30), nodata=9999)
    with rasterio.open(path, "w", **profile) as out:
        out.write(data)
        out.descriptions = ("red band", "green band", "blue band")
        out.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
        out.update_tags(SENSOR="batchmill test")
        out.update_tags(2, WAVELENGTH="560")
        out.set_band_unit(1, "DN")
    return path


def lonlat_elevation(path: Path, width: int = 240, height: int = 180) -> Path:
    """One float32 band in EPSG:4326, nodata -9999 in a corner: an elevation model."""
    y, x = np.mgrid[0:height, 0:width]
    data = (np.sin(x / 17.0) * 300 + np.cos(y / 11.0) * 200 + 500).astype("float32")[None]
    data[0, :20, :20] = -9999
    profile = dict(driver="GTiff", width=width, height=height, count=1, dtype="float32", crs="EPSG:4326",
                   transform=from_origin(5.0, 48.0, 0.001, 0.001), nodata=-9999)
    with rasterio.open(path, "w", **profile) as out:
        out.write(data)
        out.set_band_description(1, "elevation")
    return path


def paletted(path: Path) -> Path:
    """A land-cover map: one byte band with a colour table."""
    data = (np.arange(64 * 64).reshape(1, 64, 64) % 4).astype("uint8")
    profile = dict(driver="GTiff", width=64, height=64, count=1, dtype="uint8", crs="EPSG:32633",
                   transform=from_origin(500000, 5000000, 10, 10))
    with rasterio.open(path, "w", **profile) as out:
        out.write(data)
        out.write_colormap(1, {0: (0, 0, 0, 255), 1: (255, 0, 0, 255), 2: (0, 255, 0, 255), 3: (0, 0, 255, 255)})
    return path


@pytest.fixture
def geotiffs(tmp_path: Path) -> Path:
    folder = tmp_path / "scenes"
    folder.mkdir()
    utm_rgb(folder / "scene.tif")
    lonlat_elevation(folder / "dem.tif")
    return folder


def batchmill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True,
                          timeout=150)


def run(src: Path, tmp_path: Path, **params: Any) -> tuple[Path, dict[str, Any], RecordingContext]:
    """The per-file function as a worker calls it, writing to a temporary name with no extension."""
    context = RecordingContext()
    dst = tmp_path / f".{src.stem}.out.12345678.bmpart"
    result = convert_raster(src, dst, context, **params)  # type: ignore[arg-type]
    return dst, result, context


def gdalinfo(path: Path) -> dict[str, Any]:
    done = subprocess.run([gdal_tool("gdalinfo"), "-json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


# -- the same result as gdalwarp ----------------------------------------------------------
@pytest.mark.parametrize("resampling", ["bilinear", "nearest"])
def test_reprojecting_matches_gdalwarp(geotiffs: Path, tmp_path: Path, resampling: str) -> None:
    out = tmp_path / "out"

    result = batchmill("run", "raster", str(geotiffs), "--output", str(out), "--param", "crs=EPSG:3857",
                       "--param", f"resampling={resampling}", "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["done"] == 2
    for name in ("scene.tif", "dem.tif"):
        reference = tmp_path / f"gdalwarp-{name}"
        subprocess.run([gdal_tool("gdalwarp"), "-q", "-t_srs", "EPSG:3857", "-r", resampling,
                        str(geotiffs / name), str(reference)], check=True)
        with rasterio.open(out / "scenes" / name) as ours, rasterio.open(reference) as theirs:
            assert ours.crs == theirs.crs
            assert ours.transform.almost_equals(theirs.transform, precision=1e-6)
            assert (ours.width, ours.height, ours.count, ours.dtypes) == (
                theirs.width, theirs.height, theirs.count, theirs.dtypes)
            assert ours.nodata == theirs.nodata
            difference = np.abs(ours.read().astype("float64") - theirs.read().astype("float64"))
            assert difference.max() <= (1 if resampling == "bilinear" else 0)


def test_resolution_matches_gdalwarp_tr(tmp_path: Path) -> None:
    src = lonlat_elevation(tmp_path / "dem.tif")
    reference = tmp_path / "gdalwarp.tif"
    subprocess.run([gdal_tool("gdalwarp"), "-q", "-t_srs", "EPSG:3857", "-tr", "250", "250", "-r", "average",
                    str(src), str(reference)], check=True)

    dst, result, _ = run(src, tmp_path, crs="EPSG:3857", resolution=250.0, resampling="average")

    with rasterio.open(dst) as ours, rasterio.open(reference) as theirs:
        assert ours.res == pytest.approx((250.0, 250.0)) and ours.res == pytest.approx(theirs.res)
        assert ours.bounds == pytest.approx(theirs.bounds, abs=250)
        assert abs(ours.width - theirs.width) <= 1 and abs(ours.height - theirs.height) <= 1
    assert (result["width"], result["height"], result["crs"]) == (ours.width, ours.height, "EPSG:3857")


# -- what the output keeps ------------------------------------------------------------------
def test_georeferencing_descriptions_colours_and_tags_are_kept(tmp_path: Path) -> None:
    src = utm_rgb(tmp_path / "scene.tif")

    dst, _, _ = run(src, tmp_path, compression="zstd")

    with rasterio.open(src) as before, rasterio.open(dst) as after:
        assert (after.crs, after.transform, after.nodata) == (before.crs, before.transform, 9999)
        assert after.descriptions == ("red band", "green band", "blue band")
        assert after.colorinterp == (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
        assert after.tags()["SENSOR"] == "batchmill test" and after.tags(2)["WAVELENGTH"] == "560"
        assert after.units[0] == "DN"
        assert np.array_equal(after.read(), before.read())


def test_a_colour_table_is_kept(tmp_path: Path) -> None:
    src = paletted(tmp_path / "landcover.tif")

    dst, _, _ = run(src, tmp_path, crs="EPSG:3857")

    with rasterio.open(dst) as after:
        assert after.colorinterp == (ColorInterp.palette,)
        assert after.colormap(1)[1] == (255, 0, 0, 255) and after.colormap(1)[3] == (0, 0, 255, 255)


@pytest.mark.parametrize(("nodata", "expected"), [("", -9999.0), ("-32768", -32768.0), ("none", None)])
def test_nodata_is_kept_set_or_removed(tmp_path: Path, nodata: str, expected: float | None) -> None:
    src = lonlat_elevation(tmp_path / "dem.tif")

    dst, _, _ = run(src, tmp_path, crs="EPSG:3857", nodata=nodata)

    with rasterio.open(dst) as after:
        assert after.nodata == expected
        if expected is not None:
            corner = after.read(1)[0, 0]  # outside the source's footprint, or its own nodata corner
            assert corner == expected


@pytest.mark.parametrize("compression", ["deflate", "lzw", "zstd", "none"])
def test_compression_tiling_and_overviews_as_gdalinfo_reports_them(tmp_path: Path, compression: str) -> None:
    src = lonlat_elevation(tmp_path / "dem.tif", width=1100, height=700)

    dst, _, _ = run(src, tmp_path, compression=compression, blocksize=256, overviews=True)

    info = gdalinfo(dst)
    structure = info["metadata"]["IMAGE_STRUCTURE"]
    assert structure.get("COMPRESSION", "NONE") == compression.upper()
    band = info["bands"][0]
    assert band["block"] == [256, 256]
    assert [o["size"] for o in band["overviews"]] == [[550, 350], [275, 175], [138, 88]]


def test_strips_when_tiling_is_off(tmp_path: Path) -> None:
    src = lonlat_elevation(tmp_path / "dem.tif")

    dst, _, _ = run(src, tmp_path, tiled=False)

    assert gdalinfo(dst)["bands"][0]["block"][0] == 240  # a strip spans the whole width


def test_cog_passes_cog_validation_and_gdalinfo_reports_the_layout(tmp_path: Path) -> None:
    src = lonlat_elevation(tmp_path / "dem.tif", width=1100, height=700)
    (tmp_path / "plain").mkdir()
    plain, _, _ = run(src, tmp_path / "plain")
    assert not cog_validate(str(plain), strict=True)[0]  # a GeoTIFF this big without overviews is no COG
    assert "LAYOUT" not in gdalinfo(plain)["metadata"]["IMAGE_STRUCTURE"]

    dst, _, context = run(src, tmp_path, format="cog", compression="zstd", crs="EPSG:3857",
                          resampling="bilinear")

    valid, errors, warnings = cog_validate(str(dst), strict=True)
    assert valid, errors + warnings
    info = gdalinfo(dst)
    assert info["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"] == "COG"
    assert info["metadata"]["IMAGE_STRUCTURE"]["COMPRESSION"] == "ZSTD"
    assert info["bands"][0]["overviews"]
    assert "writing COG" in [message for _, message in context.reports]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cog-")]  # the staging file is gone


# -- progress, threads, errors ------------------------------------------------------------
def test_progress_is_reported_per_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raster_module, "CHUNK_BYTES", 512 * 512 * 4)  # one 512-px float block per chunk
    monkeypatch.setattr("batchmill.core.context.PROGRESS_INTERVAL_S", 0.0)
    src = lonlat_elevation(tmp_path / "dem.tif", width=1100, height=700)

    _, _, context = run(src, tmp_path, crs="EPSG:3857")

    blocks = [m for _, m in context.reports if m.startswith("block ")]
    assert len(blocks) >= 4 and blocks[-1] == f"block {len(blocks)} of {len(blocks)}"
    fractions = [f for f, _ in context.reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # type: ignore[type-var]


@pytest.mark.parametrize(("threads", "expected"), [(1, "1"), (3, "3"), (0, "ALL_CPUS")])
def test_gdal_threads_are_one_per_worker_unless_asked(tmp_path: Path, threads: int, expected: str) -> None:
    src = utm_rgb(tmp_path / "scene.tif")

    _, _, context = run(src, tmp_path, crs="EPSG:3857", threads=threads)

    assert context.threads == {expected}
    assert get_processor("raster").validate({})["threads"] == 1


def test_a_file_gdal_cannot_open_fails_with_gdals_message(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    utm_rgb(folder / "good.tif")
    (folder / "notes.tif").write_text("not a raster\n")
    whole = (folder / "good.tif").read_bytes()
    (folder / "half.tif").write_bytes(whole[: len(whole) // 2])

    result = batchmill("run", "raster", str(folder), "--output", str(tmp_path / "out"), "--json")

    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads(result.stdout)
    errors = {Path(f["input"]).name: f["error"] for f in data["failures"]}
    assert sorted(errors) == ["half.tif", "notes.tif"] and data["done"] == 1
    assert errors["notes.tif"].startswith("processor raised ValueError: not a raster GDAL can read: ")
    assert "notes.tif" in errors["notes.tif"] and "not recognized as being in a supported file format" in \
        errors["notes.tif"]
    assert "GDAL" in errors["half.tif"] and "half.tif" in errors["half.tif"]


def test_a_raster_without_crs_cannot_be_reprojected(tmp_path: Path) -> None:
    src = tmp_path / "plain.tif"
    with rasterio.open(src, "w", driver="GTiff", width=8, height=8, count=1, dtype="uint8") as out:
        out.write(np.zeros((1, 8, 8), "uint8"))

    with pytest.raises(ValueError, match="^the raster has no CRS, so it cannot be reprojected"):
        run(src, tmp_path, crs="EPSG:3857")


# -- parameters ---------------------------------------------------------------------------
def test_parameters_are_checked_and_the_extension_is_tif() -> None:
    processor = get_processor("raster")

    values = processor.validate({"format": "COG", "compression": "ZSTD", "crs": "EPSG:3857"})
    assert (values["format"], values["compression"], values["crs"]) == ("cog", "zstd", "EPSG:3857")
    assert processor.validate({"format": "GeoTIFF"})["format"] == "gtiff"
    assert processor.output_name(values, "scene.jp2") == "scene.tif"
    with pytest.raises(ParamError, match="^parameter 'crs': not a CRS GDAL knows: "):
        processor.validate({"crs": "EPSG:99999999"})
    with pytest.raises(ParamError, match="^parameter 'nodata' must be a number, 'none' or empty; got 'lots'$"):
        processor.validate({"nodata": "lots"})
    with pytest.raises(ParamError, match="^parameter 'compression' must be one of deflate, lzw, zstd, none"):
        processor.validate({"compression": "jpeg2000"})
    assert processor.validate({"resolution": "0.0001"})["resolution"] == 0.0001
    assert processor.validate({})["resolution"] == 0.0
    with pytest.raises(ParamError, match="^parameter 'resolution' must be a positive number or empty; got '-5'$"):
        processor.validate({"resolution": "-5"})
    with pytest.raises(ParamError, match="^parameter 'blocksize' must be a multiple of 16; got 100$"):
        processor.validate({"blocksize": "100"})


def test_without_rasterio_the_job_is_refused_with_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rasterio", None)
    monkeypatch.setitem(sys.modules, "rasterio.crs", None)

    with pytest.raises(ParamError, match=r"^the raster processor needs rasterio: pip install 'batchmill\[raster\]' "
                                         r"\(the frozen bundle does not carry it"):
        get_processor("raster").validate({})


def test_core_lists_processors_without_rasterio_or_numpy() -> None:
    code = ("import sys; sys.modules['rasterio'] = None; sys.modules['numpy'] = None\n"
            "from batchmill.core.processors import all_processors\n"
            "print(sorted(all_processors()))")

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "'raster'" in result.stdout


# -- bigger than the worker's memory ------------------------------------------------------
GIB = 1 << 30
PEAK_RSS = textwrap.dedent("""
    import json, resource, subprocess, sys
    limit = int(sys.argv[1])
    done = subprocess.run(sys.argv[2:], capture_output=True, text=True,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB: the largest of the CLI and its workers
    print(json.dumps({"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr[-2000:], "peak_kib": peak}))
""")


def sparse_float_raster(path: Path, size: int) -> Path:
    """``size`` × ``size`` float32 (4·size² bytes decoded), stored sparsely: a few blocks of data, the rest
    absent (read as nodata), so the file is small and quick to make but GDAL decodes every pixel."""
    profile = dict(driver="GTiff", width=size, height=size, count=1, dtype="float32", crs="EPSG:4326",
                   transform=from_origin(10, 50, 0.0001, 0.0001), nodata=-9999, tiled=True, blockxsize=512,
                   blockysize=512, compress="deflate", SPARSE_OK=True)
    block = np.arange(512 * 512, dtype="float32").reshape(1, 512, 512)
    with rasterio.open(path, "w", **profile) as out:
        for i in range(0, size - 512, 2048):
            out.write(block, window=Window(i, i, 512, 512))
    return path


@pytest.mark.slow
def test_a_raster_larger_than_the_workers_memory_limit_converts(tmp_path: Path) -> None:
    src = sparse_float_raster(tmp_path / "big.tif", 20_000)  # 1.6 GB of float32 pixels once decoded
    out = tmp_path / "out"
    command = [sys.executable, "-m", "batchmill.gui.launcher", "run", "raster", str(src), "--output", str(out),
               "--param", "crs=EPSG:3857", "--workers", "1", "--json"]

    done = subprocess.run([sys.executable, "-c", PEAK_RSS, str(GIB), *command], capture_output=True, text=True,
                          timeout=170, check=True)

    report = json.loads(done.stdout)
    assert report["rc"] == 0, report["stdout"] + report["stderr"]
    assert json.loads(report["stdout"])["done"] == 1
    peak_mib = report["peak_kib"] / 1024
    print(f"20,000 x 20,000 float32 (1.6 GB decoded) reprojected under RLIMIT_AS 1 GiB: peak RSS {peak_mib:.0f} MiB")
    assert peak_mib < 700
    with rasterio.open(out / "big.tif") as made:
        assert (made.crs.to_string(), made.dtypes[0]) == ("EPSG:3857", "float32")
        assert made.width * made.height * 4 > GIB
        assert made.read(1, window=Window(0, 0, 64, 64)).shape == (64, 64)
