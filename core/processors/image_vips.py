"""The ``image`` processor's libvips path (pyvips): the same parameters and results as the Pillow
path in ``image.py``, without decoding whole images.

Why libvips: it streams an image through the pipeline (load → turn upright → shrink → convert →
save) a strip at a time, and JPEGs decode at 1/2, 1/4 or 1/8 scale when the size asked allows it,
so a 30,000 × 20,000 TIFF converts in a few hundred MB and there is no pixel-count limit
(``max_pixels`` sets one if wanted).

Kept as on the Pillow path: sizes (the longest side computed the same way, after the same
JPEG reduced-scale decode), EXIF orientation applied and the tag reset, ICC profile and EXIF
kept unless ``strip_metadata`` (the profile dropped when the colour space changes), alpha
flattened onto white for JPEG, CMYK to RGB by Pillow's formula where the format needs it,
16-bit greyscale kept in PNG/TIFF and scaled to 8 bits elsewhere, animation rules and messages.
Differences: 16-bit colour stays 16-bit in PNG and TIFF (Pillow reads it as 8-bit), palette
images come out as RGB(A), and TIFF outputs carry no EXIF (libvips' TIFF writer has none).

One libvips thread per worker (unless ``VIPS_CONCURRENCY`` says otherwise): the workers already
keep every core busy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchmill.core.context import ProcessorContext
from batchmill.core.processors.image import check_pixels, refuse_kind, target_size

if TYPE_CHECKING:
    import pyvips

SAVERS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "tiff": ".tif"}
KINDS = {"gifload": "GIF", "pngload": "PNG", "webpload": "WEBP", "tiffload": "TIFF", "jpegload": "JPEG"}
PAGED_LOADERS = ("gifload", "webpload", "tiffload", "heifload", "pdfload", "magickload")
ICC = "icc-profile-data"


def convert_with_vips(src: Path, dst: Path, context: ProcessorContext, format: str, max_size: int, quality: int,
                      strip_metadata: bool, max_pixels: int) -> dict[str, Any]:
    """The per-file function on libvips; what ``image.convert_image`` runs when pyvips is there."""
    import pyvips

    set_up_vips()
    open(src, "rb").close()  # an unreadable file is the worker's to report, with its OSError
    with vips_errors():
        header = pyvips.Image.new_from_file(str(src), fail_on="truncated")
        loader = str(header.get("vips-loader"))
        frames = count_frames(header, loader)
        refuse_kind(KINDS.get(loader, loader.removesuffix("load").upper()), frames, format)
        check_pixels(header.width, header.height, max_pixels)
        if frames > 1:
            pictures, delays, loop = load_frames(src, frames, max_size, context)
        else:
            pictures = [load_single(src, header, loader, max_size, context)]
        fitted = [fit(picture, format) for picture in pictures]
        out = join_frames(fitted, delays, loop) if frames > 1 else fitted[0]
        context.progress(0.1, f"writing {format.upper()}")
        report_eval(out, context, format)
        save(out, dst, format, quality, strip_metadata)
    context.progress(1.0, "written")
    first = fitted[0]
    result: dict[str, Any] = {"width": first.width, "height": first.height, "mode": mode_of(first),
                              "library": "vips"}
    if frames > 1:
        result["frames"] = frames
    return result


def set_up_vips() -> None:
    import pyvips

    pyvips.cache_set_max(0)  # no operation cache across files: a worker's memory stays flat
    if "VIPS_CONCURRENCY" not in os.environ:
        pyvips.concurrency_set(1)


@contextmanager
def vips_errors() -> Iterator[None]:
    """libvips' errors as the Pillow path words them: unknown format, or truncated/corrupt data."""
    import pyvips

    try:
        yield
    except pyvips.Error as exc:
        lines = [line.strip() for line in str(exc.detail or "").splitlines() if line.strip()]
        if any("is not a known file format" in line for line in lines):
            raise ValueError("not an image libvips can read (unknown or unsupported format)") from None
        # The first line is the decoder's own; later ones name the temporary output ("unable to write…").
        raise ValueError(f"truncated or corrupt image: {lines[0] if lines else exc.message}") from None


def count_frames(header: pyvips.Image, loader: str) -> int:
    if loader not in PAGED_LOADERS or not header.get_typeof("n-pages"):
        return 1  # a JPEG (an MPO's preview too) is its first frame
    return int(header.get("n-pages"))


def load_single(src: Path, header: pyvips.Image, loader: str, max_size: int,
                context: ProcessorContext) -> pyvips.Image:
    """One picture, upright and shrunk; streamed (sequential) when no rotation needs random access."""
    import pyvips

    orientation = int(header.get("orientation")) if header.get_typeof("orientation") else 1
    options: dict[str, Any] = {"fail_on": "truncated"}
    if orientation == 1:
        options["access"] = "sequential"
    turned = orientation >= 5
    stored = target_size(header.width, header.height, max_size)
    target = stored[::-1] if turned else stored  # the Pillow path's size: from the full image, upright
    if loader == "jpegload" and stored != (header.width, header.height):
        factor = jpeg_shrink(header.width, header.height, stored)
        if factor > 1:
            options["shrink"] = factor
    img = pyvips.Image.new_from_file(str(src), **options)
    context.progress(0.05, f"opened {header.width}×{header.height}")
    if orientation != 1:
        img = img.autorot()
    return shrink(img, target, context)


def jpeg_shrink(width: int, height: int, target: tuple[int, int]) -> int:
    """The reduced-scale decode Pillow's ``draft`` picks for ``target``: the largest of 8, 4, 2 that
    still leaves both sides at least the target's."""
    scale = min(width // target[0], height // target[1])
    return next((factor for factor in (8, 4, 2) if scale >= factor), 1)


def shrink(img: pyvips.Image, size: tuple[int, int], context: ProcessorContext) -> pyvips.Image:
    width, height = size
    if (width, height) == (img.width, img.height):
        return img
    context.progress(0.1, f"resizing to {width}×{height}")
    alpha = img.hasalpha() and img.interpretation != "cmyk"
    band_format = img.format
    work = img.premultiply() if alpha else img  # resize colour weighted by alpha: no dark fringes
    work = work.resize(width / img.width, vscale=height / img.height, kernel="lanczos3")
    if alpha:
        work = work.unpremultiply()
    return work.cast(band_format) if work.format != band_format else work


def load_frames(src: Path, frames: int, max_size: int,
                context: ProcessorContext) -> tuple[list[pyvips.Image], list[int], int]:
    """Every page of an animation or multi-page file, upright and shrunk, with its timing."""
    import pyvips

    strip = pyvips.Image.new_from_file(str(src), n=-1, fail_on="truncated")
    page = int(strip.get("page-height")) if strip.get_typeof("page-height") else strip.height // frames
    delays = list(strip.get("delay")) if strip.get_typeof("delay") else [100] * frames
    loop = int(strip.get("loop")) if strip.get_typeof("loop") else 0
    pictures = []
    for index in range(frames):
        frame = strip.crop(0, index * page, strip.width, page)
        upright = frame.autorot()
        pictures.append(shrink(upright, target_size(upright.width, upright.height, max_size), context))
        context.progress(0.1 * (index + 1) / frames, f"frame {index + 1} of {frames}")
    return pictures, delays, loop


def join_frames(frames: list[pyvips.Image], delays: list[int], loop: int) -> pyvips.Image:
    """Pages stacked top to bottom, as libvips' savers take an animation or a multi-page file."""
    import pyvips

    joined = pyvips.Image.arrayjoin(frames, across=1).copy()
    joined.set_type(pyvips.GValue.gint_type, "page-height", frames[0].height)
    joined.set_type(pyvips.GValue.array_int_type, "delay", delays)
    joined.set_type(pyvips.GValue.gint_type, "loop", loop)
    return joined


# -- modes --------------------------------------------------------------------------------
def mode_of(img: pyvips.Image) -> str:
    """The Pillow mode name of an image, so both paths report alike."""
    if img.format in ("int", "uint"):
        return "I"
    if img.format in ("float", "double"):
        return "F"
    if img.format == "ushort" and img.bands == 1:
        return "I;16"
    names = {1: "L", 2: "LA", 3: "RGB", 4: "CMYK" if img.interpretation == "cmyk" else "RGBA"}
    name = names.get(img.bands, f"{img.bands} bands")
    return name + ("16" if img.format == "ushort" else "")


def family(img: pyvips.Image) -> str:
    if img.interpretation == "cmyk":
        return "cmyk"
    return "grey" if img.bands <= 2 else "rgb"


def fit(img: pyvips.Image, format: str) -> pyvips.Image:
    """Convert to what ``format`` can hold, as the Pillow path does; the ICC profile goes when the colour
    space changes."""
    before = family(img)
    img = convert_for(img, format)
    if family(img) != before and img.get_typeof(ICC):
        img = img.copy()
        img.remove(ICC)
    return img


def convert_for(img: pyvips.Image, format: str) -> pyvips.Image:
    cmyk = img.interpretation == "cmyk"
    if format == "tiff":
        return img
    if cmyk and format == "jpeg":
        return to_eight_bits(img)
    if cmyk:
        img = cmyk_to_rgb(img)
    if format == "png" and img.format in ("int", "uint") and img.bands == 1:
        return img.cast("ushort")  # as Pillow's "I" to "I;16": clipped
    if img.format not in ("uchar", "ushort") or (img.format == "ushort" and format in ("jpeg", "webp")):
        img = to_eight_bits(img)
    elif img.format == "ushort" and img.bands == 1 and format == "png":
        return img
    if format == "jpeg" and img.hasalpha():
        img = img.flatten(background=[255.0] * (img.bands - 1))
    if format == "webp" and img.bands <= 2:
        img = img.colourspace("srgb")
    return img if img.format in ("uchar", "ushort") else img.cast("uchar")


def cmyk_to_rgb(img: pyvips.Image) -> pyvips.Image:
    """Pillow's formula, no colour management: R = (255 − K)·(255 − C)/255, and so on."""
    eight = to_eight_bits(img) if img.format != "uchar" else img
    ink, black = eight[0:3], eight[3]
    rgb = ((255 - black) * (255 - ink) / 255 + 0.5).cast("uchar")
    return rgb.copy(interpretation="srgb")


def to_eight_bits(img: pyvips.Image) -> pyvips.Image:
    """Wide values to 0..255 by scaling (never clipping): 16 bits by 65535, floats of 0..1 by 1, else the maximum."""
    if img.format == "uchar":
        return img
    if img.format == "ushort":
        top = 65535.0
    else:
        high = float(img.max())
        top = 1.0 if img.format in ("float", "double") and high <= 1.0 else (65535.0 if high <= 65535 else high)
    interpretation = {"grey16": "b-w", "rgb16": "srgb"}.get(img.interpretation, img.interpretation)
    return (img * (255.0 / (top or 1.0)) + 0.5).cast("uchar").copy(interpretation=interpretation)


# -- writing ------------------------------------------------------------------------------
def report_eval(img: pyvips.Image, context: ProcessorContext, format: str) -> None:
    """libvips reports how far it has computed the image being saved: pass that on as progress."""
    def on_eval(_image: pyvips.Image, progress: Any) -> None:
        context.progress(0.1 + 0.85 * progress.percent / 100, f"writing {format.upper()}: {progress.percent}%")

    img.set_progress(True)
    img.signal_connect("eval", on_eval)


def save(img: pyvips.Image, dst: Path, format: str, quality: int, strip: bool) -> None:
    """The worker's temporary name has no useful extension: the saver is chosen by name."""
    options: dict[str, Any] = {"keep": "none"} if strip else {}
    if format == "jpeg":
        img.jpegsave(str(dst), Q=quality, **options)
    elif format == "webp":
        img.webpsave(str(dst), Q=quality, **options)
    elif format == "png":
        img.pngsave(str(dst), **options)
    else:
        img.tiffsave(str(dst), compression="lzw", **options)
