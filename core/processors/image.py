"""``image``: convert and resize images with libvips (pyvips) when it is installed, else Pillow
(both optional dependencies). ``library`` picks one; ``auto`` prefers libvips, which streams
images instead of decoding them whole (see ``image_vips.py`` for the few ways its results differ).
What follows is the Pillow path; the libvips one keeps the same rules.

Per file: decode (JPEGs decode at a reduced scale, 1/2 to 1/8, while that is still at least the
output's size, which is computed from the full image) → apply the EXIF orientation → shrink so the longest side is at most
``max_size`` → convert the mode to one the output format can hold → write with
an explicit ``format=`` (the worker's temporary output name has no useful
extension).

What happens to the pictures' details:
- **Orientation**: applied to the pixels; the orientation tag is removed.
- **ICC profile and EXIF**: kept unless ``strip_metadata`` (then XMP and
  comments go too; colours are not converted, so an image in a wide-gamut
  profile such as Display P3 will look flatter once its profile is stripped).
  EXIF is copied from JPEG, PNG and WebP inputs, not from TIFF tags.
- **Modes**: transparency written as JPEG is flattened onto white; CMYK written
  as PNG or WebP becomes RGB (Pillow's conversion, without colour management,
  and the CMYK profile is dropped); 16-bit greyscale stays 16-bit in PNG and
  TIFF and is scaled (not clipped) to 8 bits for JPEG and WebP.
- **Animated or multi-page inputs** (GIF, APNG, WebP, TIFF): every frame is
  kept when writing ``webp`` or ``tiff``; for ``png`` and ``jpeg`` the file
  fails with "animated image with N frames: …". An MPO (the JPEG some cameras
  write with a preview image inside) counts as its first frame.
- A truncated or corrupt file fails with "truncated or corrupt image: …".
- **Pixel limit**: ``max_pixels`` refuses larger images, naming the limit. 0 means the library's
  own: none for libvips; for Pillow its guard against decompression bombs, 178,956,970 pixels
  (Pillow decodes the whole image: that many pixels take at least 0.5–0.7 GB).

``quality`` applies to JPEG and WebP; PNG is written losslessly and TIFF with
LZW compression.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchmill.core.context import ProcessorContext
from batchmill.core.processors.base import Param, ParamError, Processor

if TYPE_CHECKING:
    from PIL.Image import Image

FORMATS = ("png", "jpeg", "webp", "tiff")
EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "tiff": ".tif"}
PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "tiff": "TIFF"}
ALIASES = {"jpg": "jpeg", "tif": "tiff"}
ORIENTATION_TAG = 0x0112
MULTI_FRAME_FORMATS = ("webp", "tiff")
LIBRARIES = ("auto", "vips", "pillow")
NEEDS_PILLOW = "the image processor needs Pillow: pip install 'batchmill[image]'"
NEEDS_A_LIBRARY = "the image processor needs Pillow or pyvips: pip install 'batchmill[image]' (or 'batchmill[vips]')"
NEEDS_VIPS = ("library=vips needs pyvips: pip install 'batchmill[vips]' (the frozen bundle does not carry it: "
              "install Batchmill into a Python environment with that extra instead)")
# Pillow's DecompressionBombError threshold: twice its Image.MAX_IMAGE_PIXELS default.
PILLOW_MAX_PIXELS = 2 * 89_478_485

# Modes each format can hold as they are; anything else is converted.
KEEPS_MODES = {
    "jpeg": {"L", "RGB", "CMYK"},
    "png": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"},
    "webp": {"RGB", "RGBA"},
    "tiff": {"1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "I;16", "I;16B", "I", "F"},
}
ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
WIDE_GREY_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}
GREY_MODES = {"1", "L", "LA", "La"} | WIDE_GREY_MODES
# Families of colour spaces: an ICC profile only stays valid within one.
FAMILIES = {**{m: "grey" for m in GREY_MODES}, "CMYK": "cmyk",
            **{m: "rgb" for m in ("RGB", "RGBA", "RGBa", "RGBX", "P", "PA")}}


class ImageProcessor(Processor):
    name = "image"
    description = ("Convert images to PNG, JPEG, WebP or TIFF, optionally shrinking them; "
                   "applies EXIF orientation, keeps ICC/EXIF unless stripping (libvips if pyvips is "
                   "installed, else Pillow).")
    params = (
        Param("format", str, "png", FORMATS, "Output format; the output's extension follows it "
                                             "(.png, .jpg, .webp, .tif)."),
        Param("max_size", int, 0, (), "Longest side in pixels; larger images are shrunk to fit. 0 keeps the size.",
              minimum=0),
        Param("quality", int, 90, (), "JPEG and WebP quality, 1 (smallest) to 100 (best).", minimum=1, maximum=100),
        Param("strip_metadata", bool, False, (), "Drop EXIF (camera, GPS), ICC profile, XMP and comments."),
        Param("max_pixels", int, 0, (), "Refuse images with more pixels than this. 0: no limit with libvips; "
                                        "Pillow's decompression-bomb guard (178,956,970) with Pillow.", minimum=0),
        Param("library", str, "auto", LIBRARIES, "auto: libvips if pyvips is installed (streams, no pixel limit), "
                                                 "else Pillow; vips or pillow to choose."),
    )

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        given = dict(raw)
        for key in ("format", "library"):
            if key in given:
                word = str(given[key]).strip().lower().lstrip(".")
                given[key] = ALIASES.get(word, word) if key == "format" else word
        values = super().validate(given)
        library = values["library"]
        if library == "vips" and not vips_available():
            raise ParamError(NEEDS_VIPS)
        if library == "auto" and vips_available():
            return values
        try:
            from PIL import features
        except ImportError:
            raise ParamError(NEEDS_PILLOW if library == "pillow" else NEEDS_A_LIBRARY) from None
        if library != "vips" and values["format"] == "webp" and not features.check("webp"):
            raise ParamError("parameter 'format': this Pillow was built without WebP support")
        return values

    def task(self, params: Mapping[str, Any]) -> functools.partial[dict[str, Any]]:
        return functools.partial(convert_image, format=params["format"], max_size=params["max_size"],
                                 quality=params["quality"], strip_metadata=params["strip_metadata"],
                                 max_pixels=params["max_pixels"], library=params["library"])

    def output_name(self, params: Mapping[str, Any], name: str) -> str:
        return Path(name).stem + EXTENSIONS[params["format"]]


@functools.cache
def vips_available() -> bool:
    """pyvips imports and finds libvips (its binary wheel, or the system's)."""
    try:
        import pyvips  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def convert_image(src: Path, dst: Path | None, context: ProcessorContext, format: str = "png",
                  max_size: int = 0, quality: int = 90, strip_metadata: bool = False, max_pixels: int = 0,
                  library: str = "auto") -> dict[str, Any]:
    """The per-file function: read ``src``, write ``dst`` in ``format``. Returns the output's size and
    mode, and the library that made it."""
    assert dst is not None, "the image processor always makes an output"
    if library == "vips" or (library == "auto" and vips_available() and not is_apng(src)):
        from batchmill.core.processors.image_vips import convert_with_vips

        return convert_with_vips(src, dst, context, format, max_size, quality, strip_metadata, max_pixels)
    return convert_with_pillow(src, dst, context, format, max_size, quality, strip_metadata, max_pixels)


def is_apng(src: Path) -> bool:
    """An animated PNG (an acTL chunk before the image data): libvips reads only its first frame, so
    ``auto`` gives it to Pillow, which reads them all."""
    try:
        with open(src, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return False  # the conversion reports it
    if not head.startswith(b"\x89PNG\r\n\x1a\n"):
        return False
    data = head.split(b"IDAT", 1)[0]
    return b"acTL" in data


def check_pixels(width: int, height: int, max_pixels: int, pillow: bool = False) -> None:
    """Refuse an image over the pixel limit, saying which limit and what to do."""
    limit = max_pixels or (PILLOW_MAX_PIXELS if pillow else 0)
    if not limit or width * height <= limit:
        return
    if max_pixels:
        raise ValueError(f"image of {width}×{height} has {width * height:,} pixels, more than "
                         f"max_pixels={max_pixels:,}: raise max_pixels (or 0) to convert it")
    raise ValueError(f"image of {width}×{height} has {width * height:,} pixels, more than Pillow's guard "
                     f"against decompression bombs ({limit:,}): set max_pixels to at least {width * height:,} "
                     f"to convert it with Pillow, which decodes the whole image in memory, or install pyvips "
                     f"(pip install 'batchmill[vips]'), which streams it")


def convert_with_pillow(src: Path, dst: Path, context: ProcessorContext, format: str, max_size: int,
                        quality: int, strip_metadata: bool, max_pixels: int) -> dict[str, Any]:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # check_pixels is the guard, with max_pixels in its message
    with open(src, "rb") as handle:  # outside the decoding guard: an unreadable file is the worker's to report
        with decoding():
            img = Image.open(handle)
            frames = count_frames(img)
        refuse_frames(img, frames, format)
        check_pixels(img.width, img.height, max_pixels, pillow=True)
        with decoding():
            target = None
            if frames == 1:
                # The size comes from the full image, turned upright: never from a reduced decode.
                turned = int(img.getexif().get(ORIENTATION_TAG, 1)) >= 5
                target = target_size(img.height if turned else img.width, img.width if turned else img.height,
                                     max_size)
                if target != img.size[::-1 if turned else 1]:
                    # JPEG: decode at 1/2, 1/4 or 1/8 scale while still at least the target; others ignore it
                    img.draft(None, target[::-1] if turned else target)
            pictures = [prepare_frame(img, index, frames, max_size, target, context) for index in range(frames)]
            icc = pictures[0].info.get("icc_profile")
            exif = pictures[0].getexif() if "exif" in pictures[0].info and not strip_metadata else None
    fitted = [fit_mode(picture, format, icc) for picture in pictures]
    pictures = [picture for picture, _ in fitted]
    context.progress(0.8, f"writing {PILLOW_FORMATS[format]}")
    save_frames(pictures, dst, format, quality, None if strip_metadata else fitted[0][1], exif,
                strip_metadata, img.info)
    context.progress(1.0, "written")
    width, height = pictures[0].size
    result: dict[str, Any] = {"width": width, "height": height, "mode": pictures[0].mode, "library": "pillow"}
    if frames > 1:
        result["frames"] = frames
    return result


@contextmanager
def decoding() -> Iterator[None]:
    """Turn whatever Pillow raises on bad data into one message that says the file is bad."""
    from PIL import Image, UnidentifiedImageError

    try:
        yield
    except UnidentifiedImageError:
        raise ValueError("not an image Pillow can read (unknown or unsupported format)") from None
    except Image.DecompressionBombError as exc:
        raise ValueError(f"image too large to decode safely: {exc}") from None
    except MemoryError:
        raise
    except OSError as exc:
        if exc.filename is not None:
            raise  # a file-system error, not bad image data
        raise ValueError(f"truncated or corrupt image: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - Pillow raises SyntaxError, struct.error, EOFError… on bad data
        raise ValueError(f"truncated or corrupt image: {type(exc).__name__}: {exc}") from exc


def refuse_frames(img: Image, frames: int, format: str) -> None:
    refuse_kind(str(img.format), frames, format)


def refuse_kind(file_format: str, frames: int, format: str) -> None:
    """Frames are kept only where the output format can hold them; ``file_format`` as Pillow names it."""
    if frames > 1 and format not in MULTI_FRAME_FORMATS:
        kind = "animated" if file_format in ("GIF", "PNG", "WEBP") else "multi-page"
        raise ValueError(f"{kind} image with {frames} frames: not supported by the image processor "
                         f"for format={format} (use format=webp or format=tiff to keep every frame)")


def count_frames(img: Image) -> int:
    if img.format == "MPO":  # camera JPEG with an embedded preview: the first frame is the photo
        return 1
    return int(getattr(img, "n_frames", 1))


def prepare_frame(img: Image, index: int, frames: int, max_size: int, target: tuple[int, int] | None,
                  context: ProcessorContext) -> Image:
    """Decode one frame, turn it upright and shrink it (to ``target``, else to fit ``max_size``)."""
    from PIL import ImageOps

    if frames > 1:
        img.seek(index)
    img.load()
    if frames == 1:
        context.progress(0.4, f"decoded {img.width}×{img.height}")
    frame = ImageOps.exif_transpose(img)
    frame = shrink(frame, target or target_size(frame.width, frame.height, max_size))
    if frames == 1:
        context.progress(0.6, f"resized to {frame.width}×{frame.height}")
    else:
        context.progress(0.8 * (index + 1) / frames, f"frame {index + 1} of {frames}")
    return frame


def target_size(width: int, height: int, max_size: int) -> tuple[int, int]:
    """The output's size on either path: the longest side to ``max_size``, each side rounded, never enlarged."""
    longest = max(width, height)
    if not max_size or longest <= max_size:
        return width, height
    scale = max_size / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def shrink(img: Image, size: tuple[int, int]) -> Image:
    from PIL import Image as PILImage

    if img.size == size:
        return img
    mode = img.mode
    if mode in ("1", "P", "PA"):  # resizing these would pick nearest pixels: resample in full colour
        img = img.convert("L" if mode == "1" else "RGBA" if has_alpha(img) else "RGB")
    elif mode.startswith("I;16"):  # not every Pillow resizes 16-bit modes; 32-bit holds them exactly
        img = img.convert("I")
    # reducing_gap: an integer box reduction first, then Lanczos over the last factor of 3 or more
    # (Pillow: indistinguishable from Lanczos all the way, several times faster on photos)
    resized = img.resize(size, PILImage.Resampling.LANCZOS, reducing_gap=3.0)
    return resized.convert("I;16") if mode.startswith("I;16") else resized


def has_alpha(img: Image) -> bool:
    return img.mode in ALPHA_MODES or "transparency" in img.info


def fit_mode(img: Image, format: str, icc: bytes | None) -> tuple[Image, bytes | None]:
    """Convert to a mode ``format`` can hold. The ICC profile is dropped when the colour space changes."""
    before = img.mode
    img = convert_mode(img, format)
    if icc is not None and FAMILIES.get(before) != FAMILIES.get(img.mode):
        icc = None
    return img, icc


def convert_mode(img: Image, format: str) -> Image:
    keeps = KEEPS_MODES[format]
    if img.mode in keeps and not (img.mode == "P" and "transparency" in img.info and format != "png"):
        return img
    grey = img.mode in GREY_MODES
    if format == "jpeg" and has_alpha(img):
        flat = flatten_on_white(img)
        return flat.convert("L") if grey else flat
    if img.mode in WIDE_GREY_MODES:
        if "I;16" in keeps and img.mode != "F":
            return img.convert("I;16")
        eight = to_eight_bits(img)
        return eight if "L" in keeps else eight.convert("RGB")
    if img.mode == "1" and "L" in keeps:
        return img.convert("L")
    if img.mode == "La" and "LA" in keeps:
        return img.convert("LA")
    return img.convert("RGBA" if has_alpha(img) and "RGBA" in keeps else "RGB")


def flatten_on_white(img: Image) -> Image:
    from PIL import Image as PILImage

    rgba = img.convert("RGBA")
    flat = PILImage.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def to_eight_bits(img: Image) -> Image:
    """16- or 32-bit grey to 8 bits by scaling; ``convert("L")`` would clip everything above 255."""
    wide = img if img.mode in ("I", "F") else img.convert("I")
    high = float(wide.getextrema()[1])  # type: ignore[arg-type]  # one band: (low, high) numbers
    top = 65535.0 if wide.mode == "I" and high <= 65535 else high or 1.0
    if wide.mode == "F" and high <= 1.0:
        top = 1.0  # floating-point images usually hold 0..1
    return wide.point(lambda v: v * (255.0 / top)).convert("L")


def save_frames(frames: list[Image], dst: Path, format: str, quality: int, icc: bytes | None,
                exif: Any, strip: bool, source_info: Mapping[Any, Any]) -> None:
    """Write every frame to ``dst``; metadata only as asked, never whatever Pillow would pick up on its own."""
    first = frames[0]
    options: dict[str, Any] = {"format": PILLOW_FORMATS[format]}
    if format in ("jpeg", "webp"):
        options["quality"] = quality
    if format == "tiff":
        options["compression"] = "tiff_lzw"
    if icc:
        options["icc_profile"] = icc
    if exif is not None and len(exif):
        options["exif"] = exif
    if "dpi" in first.info and format != "webp":
        options["dpi"] = first.info["dpi"]
    if len(frames) > 1:
        options.update(save_all=True, append_images=frames[1:])
        if format == "webp":
            options["duration"] = [f.info.get("duration", source_info.get("duration", 100)) for f in frames]
            options["loop"] = source_info.get("loop", 0)
    kept = {"transparency"} if strip else {"transparency", "xmp"}
    for frame in frames:
        frame.info = {k: v for k, v in frame.info.items() if k in kept}
    first.save(dst, **options)
