"""``checksum``: one coreutils-style manifest per input folder (``OUTPUT/X.name/SHA256SUMS``).

Workers hash files and return the hex digest; the manifest is written once at
the end from the journaled digests, so a resumed job writes the same manifest.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from core.context import ProcessorContext
from core.outputs import write_atomically
from core.processors.base import Param, Processor, RootOutput

ALGORITHMS = ("sha256", "md5", "sha1", "sha512", "blake2b")
MANIFEST_NAMES = {"sha256": "SHA256SUMS", "md5": "MD5SUMS", "sha1": "SHA1SUMS",
                  "sha512": "SHA512SUMS", "blake2b": "B2SUMS"}
CHUNK = 1 << 20
PROGRESS_FROM_BYTES = 64 << 20


def hash_file(src: str | Path, dst: Path | None, context: ProcessorContext, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(src, "rb") as handle:
        size = context.input_size = os.fstat(handle.fileno()).st_size
        if size < PROGRESS_FROM_BYTES:
            digest.update(handle.read())
            return digest.hexdigest()
        done = 0
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            context.progress(done / size, f"{done >> 20} of {size >> 20} MiB")
    return digest.hexdigest()


def manifest_line(digest: str, relpath: str) -> str:
    """One line as ``sha256sum`` writes it, escaping names the way coreutils does."""
    if "\\" in relpath or "\n" in relpath or "\r" in relpath:
        escaped = relpath.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"\\{digest}  {escaped}\n"
    return f"{digest}  {relpath}\n"


class ChecksumProcessor(Processor):
    name = "checksum"
    description = ("Hash every file and write one manifest per input folder "
                   "(OUTPUT/<folder>/SHA256SUMS) that `sha256sum -c` verifies.")
    params = (Param("algorithm", str, "sha256", ALGORITHMS, "Hash algorithm; the manifest is named after it."),)
    makes_file_outputs = False

    def task(self, params: Mapping[str, Any]) -> functools.partial[str]:
        task = functools.partial(hash_file, algorithm=params["algorithm"])
        task.raw_paths = True  # type: ignore[attr-defined]  # str paths in, size reported: see core.worker
        return task

    def finalize(self, params: Mapping[str, Any], roots: list[RootOutput],
                 results: Iterator[tuple[int, str, Any]], overwrite: str) -> list[str]:
        manifest = MANIFEST_NAMES[params["algorithm"]]
        by_folder: dict[Path, list[str]] = defaultdict(list)
        # Paths relative to the dropped folder (or a dropped file's own folder), by string
        # slicing: this runs once per file, and pathlib would cost more than the hashing.
        cut = [len(str(r.input if r.is_dir else r.input.parent).rstrip(os.sep)) + 1 for r in roots]
        for root_index, src, digest in results:
            relpath = src[cut[root_index]:]
            if os.sep != "/":
                relpath = relpath.replace(os.sep, "/")
            by_folder[roots[root_index].output].append(manifest_line(str(digest), relpath))
        lines = []
        for folder, entries in sorted(by_folder.items()):
            entries.sort(key=lambda line: line.rsplit("  ", 1)[-1])
            target = write_atomically(folder / manifest, "".join(entries).encode("utf-8"), overwrite)
            if target is None:
                lines.append(f"kept the existing {folder / manifest} (use --overwrite replace to rewrite it)")
            else:
                lines.append(f"wrote {target} ({len(entries)} files)")
        return lines
