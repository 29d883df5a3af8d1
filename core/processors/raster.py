"""``raster``: reproject, resample, convert and compress GIS rasters with rasterio (GDAL).

Per file: open with GDAL → (when ``crs`` or ``resolution`` asks for it) a WarpedVRT that
reprojects on read → copy it chunk by chunk, each chunk a run of whole output blocks, into a
tiled, compressed GeoTIFF → build internal overviews if asked → for ``format=cog``, let GDAL's
COG driver lay that GeoTIFF out as a Cloud-Optimized GeoTIFF (overviews included).

Why chunks of blocks: memory then depends on the chunk (at most ``CHUNK_BYTES`` of pixels,
plus GDAL's block cache, capped at ``GDAL_CACHE_BYTES``), never on the raster, so a raster
larger than the worker's memory converts; and each chunk is a point to report progress at.

Why one GDAL thread per worker unless asked (``threads``): N workers already keep N cores
busy; GDAL's own threads (compression, warping, overviews) on top of that only contend.

Kept from the source: CRS and transform (reprojected when asked), nodata, band descriptions,
colour interpretation, the colour table, units, scales and offsets, and the dataset's and
each band's metadata. A file GDAL cannot open fails with GDAL's own message.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchmill.core.context import ProcessorContext
from batchmill.core.processors.base import Param, ParamError, Processor

if TYPE_CHECKING:
    from rasterio.io import DatasetReader, DatasetWriter
    from rasterio.vrt import WarpedVRT
    from rasterio.windows import Window

FORMATS = ("gtiff", "cog")
ALIASES = {"geotiff": "gtiff", "tif": "gtiff", "tiff": "gtiff"}
COMPRESSIONS = ("deflate", "lzw", "zstd", "none")
RESAMPLINGS = ("nearest", "bilinear", "cubic", "cubic_spline", "lanczos", "average", "mode", "min", "max", "med")
EXTENSION = ".tif"  # GeoTIFF and COG alike
NEEDS_RASTERIO = ("the raster processor needs rasterio: pip install 'batchmill[raster]' (the frozen bundle does "
                  "not carry it: install Batchmill into a Python environment with that extra instead)")
CHUNK_BYTES = 64 << 20  # pixels of one chunk, all bands: the bound on what this module holds
GDAL_CACHE_BYTES = 128 << 20  # GDAL's block cache; its default is 5 % of the machine's RAM
MIN_OVERVIEW = 256  # overviews are halved down to this size (pixels of the longer side)


class RasterProcessor(Processor):
    name = "raster"
    description = ("Reproject, resample and convert GIS rasters to compressed, tiled GeoTIFF or Cloud-Optimized "
                   "GeoTIFF, in blocks so any size fits in memory (needs rasterio).")
    params = (
        Param("format", str, "gtiff", FORMATS, "gtiff: tiled GeoTIFF; cog: Cloud-Optimized GeoTIFF (always tiled, "
                                               "with overviews). The output's extension is .tif."),
        Param("crs", str, "", (), "Reproject to this CRS (EPSG:3857, a WKT or PROJ string); empty keeps the source's."),
        # A string, not a float: a pixel size in degrees (0.0001) needs more digits than a number field shows.
        Param("resolution", str, "", (), "Pixel size in units of the output CRS (metres, degrees…); empty lets GDAL "
                                         "choose, as gdalwarp does."),
        Param("resampling", str, "nearest", RESAMPLINGS, "How pixels are resampled when reprojecting or resizing, "
                                                         "and for the overviews."),
        Param("compression", str, "deflate", COMPRESSIONS, "Compression of the output."),
        Param("tiled", bool, True, (), "Write square tiles (gtiff; cog is always tiled) instead of strips."),
        Param("blocksize", int, 512, (), "Tile size in pixels (a multiple of 16).", minimum=16, maximum=4096),
        Param("overviews", bool, False, (), "Build internal overviews (gtiff; cog always has them)."),
        Param("nodata", str, "", (), "Nodata value of the output (a number, or 'none'); empty keeps the source's. "
                                     "Areas outside the source get it when reprojecting."),
        Param("threads", int, 1, (), "GDAL threads per worker for compression and warping; 0 uses all cores "
                                     "(each worker already uses one).", minimum=0),
    )

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        try:
            from rasterio.crs import CRS
            from rasterio.errors import CRSError
        except ImportError:
            raise ParamError(NEEDS_RASTERIO) from None
        given = dict(raw)
        for key in ("format", "compression", "resampling"):
            if key in given:
                word = str(given[key]).strip().lower().lstrip(".")
                given[key] = ALIASES.get(word, word) if key == "format" else word
        values = super().validate(given)
        if values["crs"].strip():
            try:
                CRS.from_user_input(values["crs"].strip())
            except CRSError as exc:
                raise ParamError(f"parameter 'crs': not a CRS GDAL knows: {exc}") from None
        parse_nodata(values["nodata"])
        values["resolution"] = parse_resolution(values["resolution"])
        if values["blocksize"] % 16:
            raise ParamError(f"parameter 'blocksize' must be a multiple of 16; got {values['blocksize']}")
        return values

    def task(self, params: Mapping[str, Any]) -> functools.partial[dict[str, Any]]:
        return functools.partial(convert_raster, **{p.name: params[p.name] for p in self.params})

    def output_name(self, params: Mapping[str, Any], name: str) -> str:
        return Path(name).stem + EXTENSION


def parse_resolution(text: str | float) -> float:
    """A positive pixel size, or 0.0 (empty) to let GDAL choose."""
    word = str(text).strip()
    try:
        value = float(word) if word else 0.0
    except ValueError:
        value = -1.0
    if value < 0 or value != value:  # negative, not a number, or NaN
        raise ParamError(f"parameter 'resolution' must be a positive number or empty; got {text!r}")
    return value


def parse_nodata(text: str) -> tuple[bool, float | None]:
    """``(keep the source's?, else the value)``: ``""`` keeps it, ``"none"`` removes it, a number sets it."""
    word = text.strip().lower()
    if not word:
        return True, None
    if word == "none":
        return False, None
    try:
        return False, float(word)
    except ValueError:
        raise ParamError(f"parameter 'nodata' must be a number, 'none' or empty; got {text!r}") from None


def convert_raster(src: Path, dst: Path | None, context: ProcessorContext, format: str = "gtiff", crs: str = "",
                   resolution: float = 0.0, resampling: str = "nearest", compression: str = "deflate",
                   tiled: bool = True, blocksize: int = 512, overviews: bool = False, nodata: str = "",
                   threads: int = 1) -> dict[str, Any]:
    """The per-file function: read ``src`` with GDAL, write ``dst`` as GeoTIFF or COG. Returns
    the output's size, bands, data type and CRS."""
    import rasterio
    from rasterio.enums import Resampling

    assert dst is not None, "the raster processor always makes an output"
    method = Resampling[resampling]
    with gdal_environment(threads):
        with opening(src) as source:
            keep, wanted = parse_nodata(nodata)
            with warped(source, crs, resolution, method, None if keep else wanted, keep, threads) as view:
                profile = output_profile(view, view.nodata if keep else wanted, compression,
                                         tiled or format == "cog", blocksize)
                staging = dst if format == "gtiff" else staging_path(dst)
                try:
                    with rasterio.open(staging, "w", **profile) as out:
                        copy_metadata(source, out)
                        copy_chunks(view, out, context, 0.8 if format == "cog" or overviews else 1.0)
                        if overviews and format == "gtiff":
                            context.progress(0.85, "building overviews")
                            out.build_overviews(overview_factors(out.width, out.height), method)
                    if format == "cog":
                        write_cog(staging, dst, compression, blocksize, resampling, threads, context)
                finally:
                    if staging != dst:
                        staging.unlink(missing_ok=True)
                result = {"width": view.width, "height": view.height, "bands": view.count,
                          "dtype": view.dtypes[0], "crs": view.crs.to_string() if view.crs else None}
        context.progress(1.0, "written")
    return result


@contextmanager
def gdal_environment(threads: int) -> Iterator[None]:
    import rasterio

    count = "ALL_CPUS" if threads == 0 else str(threads)
    # PAM off: GDAL would otherwise put statistics in a .aux.xml beside the temporary output,
    # which the rename into place would leave behind.
    with rasterio.Env(GDAL_NUM_THREADS=count, GDAL_CACHEMAX=GDAL_CACHE_BYTES, GDAL_PAM_ENABLED="NO"):
        yield


@contextmanager
def opening(src: Path) -> Iterator[DatasetReader]:
    """Open ``src`` with GDAL; GDAL's own message when it cannot (a file-system error stays one)."""
    import rasterio
    from rasterio.errors import RasterioIOError

    if not os.access(src, os.R_OK):
        open(src, "rb").close()  # raises the OSError that names the file and the reason
    try:
        dataset = rasterio.open(src)
    except RasterioIOError as exc:
        raise ValueError(f"not a raster GDAL can read: {exc}") from None
    with dataset:
        yield dataset


@contextmanager
def warped(source: DatasetReader, crs: str, resolution: float, method: Any, nodata: float | None, keep: bool,
           threads: int) -> Iterator[DatasetReader | WarpedVRT]:
    """The source as it should come out: itself, or a WarpedVRT that reprojects and resamples on read."""
    from rasterio.crs import CRS
    from rasterio.vrt import WarpedVRT
    from rasterio.warp import calculate_default_transform

    target = CRS.from_user_input(crs.strip()) if crs.strip() else source.crs
    if (not crs.strip() or target == source.crs) and not resolution:
        yield source
        return
    if source.crs is None:
        raise ValueError("the raster has no CRS, so it cannot be reprojected or resampled (set crs= only on "
                         "rasters that have one)")
    options: dict[str, Any] = {"crs": target, "resampling": method,
                               "warp_extras": {"NUM_THREADS": "ALL_CPUS" if threads == 0 else str(threads)}}
    if not keep:
        options["nodata"] = nodata
    if resolution:
        transform, width, height = calculate_default_transform(
            source.crs, target, source.width, source.height, *source.bounds, resolution=resolution)
        options.update(transform=transform, width=width, height=height)
    with WarpedVRT(source, **options) as vrt:
        yield vrt


def output_profile(view: DatasetReader | WarpedVRT, nodata: float | None, compression: str, tiled: bool,
                   blocksize: int) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "driver": "GTiff", "width": view.width, "height": view.height, "count": view.count,
        "dtype": view.dtypes[0], "crs": view.crs, "transform": view.transform, "nodata": nodata,
        "BIGTIFF": "IF_SAFER",
    }
    if compression != "none":
        profile["compress"] = compression.upper()
        if compression in ("deflate", "lzw", "zstd"):
            profile["predictor"] = 3 if view.dtypes[0].startswith("float") else 2
    if tiled:
        profile.update(tiled=True, blockxsize=blocksize, blockysize=blocksize)
    else:
        profile["blockysize"] = max(1, min(view.height, (8 << 10) // max(1, view.width)))  # ~8 KiB strips
    return profile


def copy_metadata(source: DatasetReader, out: DatasetWriter) -> None:
    """What a GeoTIFF can carry besides pixels: tags, band descriptions, colours, units, scales."""
    out.update_tags(**source.tags())
    out.colorinterp = source.colorinterp
    for band in range(1, source.count + 1):
        description = source.descriptions[band - 1]
        if description:
            out.set_band_description(band, description)
        unit = source.units[band - 1]
        if unit:
            out.set_band_unit(band, unit)
        out.update_tags(band, **source.tags(band))
        try:
            out.write_colormap(band, source.colormap(band))
        except ValueError:
            pass  # this band has no colour table (GDAL says so by raising)
    out.scales, out.offsets = source.scales, source.offsets


def chunks(out: DatasetWriter) -> list[Window]:
    """Windows of whole output blocks, each at most CHUNK_BYTES of pixels (or one block if that is larger)."""
    import numpy
    from rasterio.windows import Window

    block_h, block_w = out.block_shapes[0]
    pixel = out.count * int(numpy.dtype(out.dtypes[0]).itemsize)
    per_row_of_blocks = out.width * block_h * pixel
    if per_row_of_blocks <= CHUNK_BYTES:
        rows = max(1, CHUNK_BYTES // per_row_of_blocks) * block_h
        return [Window(0, y, out.width, min(rows, out.height - y)) for y in range(0, out.height, rows)]
    cols = max(1, CHUNK_BYTES // (block_w * block_h * pixel)) * block_w
    return [Window(x, y, min(cols, out.width - x), min(block_h, out.height - y))
            for y in range(0, out.height, block_h) for x in range(0, out.width, cols)]


def copy_chunks(view: DatasetReader | WarpedVRT, out: DatasetWriter, context: ProcessorContext,
                share: float) -> None:
    """Read each chunk from the (warped) source and write it; progress after each one."""
    from rasterio.errors import RasterioIOError

    windows = chunks(out)
    for index, window in enumerate(windows):
        try:
            data = view.read(window=window)
        except RasterioIOError as exc:
            raise ValueError(f"GDAL could not read the raster (truncated or corrupt?): {exc}") from None
        out.write(data, window=window)
        context.progress(share * (index + 1) / len(windows), f"block {index + 1} of {len(windows)}")


def overview_factors(width: int, height: int) -> list[int]:
    factors, factor = [], 2
    while math.ceil(max(width, height) / factor) >= MIN_OVERVIEW // 2 and max(width, height) > MIN_OVERVIEW:
        factors.append(factor)
        factor *= 2
    return factors


def staging_path(dst: Path) -> Path:
    """The tiled GeoTIFF the COG is laid out from: hidden beside ``dst``, named like a temporary output
    (``.NAME.<8 hex>.bmpart``) when ``dst`` is one, so a scan never takes it for an input."""
    return dst.with_name(f".cog-{dst.name.lstrip('.')}")


def write_cog(staging: Path, dst: Path, compression: str, blocksize: int, resampling: str, threads: int,
              context: ProcessorContext) -> None:
    import rasterio.shutil

    context.progress(0.85, "writing COG")
    options: dict[str, Any] = {"BLOCKSIZE": blocksize, "BIGTIFF": "IF_SAFER",
                               "OVERVIEW_RESAMPLING": resampling.upper(),
                               "NUM_THREADS": "ALL_CPUS" if threads == 0 else str(threads)}
    options["COMPRESS"] = "NONE" if compression == "none" else compression.upper()
    if compression != "none":
        options["PREDICTOR"] = "YES"
    rasterio.shutil.copy(staging, dst, driver="COG", **options)
