"""A processor that writes where it should not: onto its input, and a file beside it (as GDAL's
.aux.xml statistics do), then its output."""

from pathlib import Path


def process(src: Path, dst: Path) -> None:
    with open(src, "ab") as handle:
        handle.write(b"SCRIBBLED\n")
    src.with_name(src.name + ".aux.xml").write_text("<stats/>\n")
    dst.write_bytes(src.read_bytes())
