"""``checksum``: one coreutils-style manifest per input folder (``OUTPUT/X.name/SHA256SUMS``).

Workers hash files and return the hex digest; the manifest is written once at
the end from the journaled digests, so a resumed job writes the same manifest.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import operator
import os
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from batchmill.core.context import ProcessorContext
from batchmill.core.file_kinds import kind_of_mode
from batchmill.core.outputs import sidecar_if_missing, write_atomically
from batchmill.core.processors.base import Param, Processor, RootOutput
from batchmill.core.spill import SpillSorter

ALGORITHMS = ("sha256", "md5", "sha1", "sha512", "blake2b")
MANIFEST_NAMES = {"sha256": "SHA256SUMS", "md5": "MD5SUMS", "sha1": "SHA1SUMS",
                  "sha512": "SHA512SUMS", "blake2b": "B2SUMS"}
CHUNK = 1 << 20
PROGRESS_FROM_BYTES = 64 << 20


# O_NONBLOCK: a FIFO put in a file's place since the scan opens at once (and is then refused by
# its type) instead of waiting for ever for a writer; regular files read the same with it.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)


class FileHasher:
    """The checksum task: hash one file, return its hex digest.

    Reads with plain ``os.open``/``os.read``: a file object and its buffer cost more than
    hashing a 4 KiB file. Takes str paths and reports the input's size itself
    (``raw_paths``, see ``batchmill.core.worker``), so the worker makes no stat of its own."""

    raw_paths = True

    def __init__(self, algorithm: str = "sha256") -> None:
        self.algorithm = algorithm
        self._new = getattr(hashlib, algorithm)

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return (FileHasher, (self.algorithm,))

    def __call__(self, src: str | Path, dst: Path | None, context: ProcessorContext) -> str:
        fd = os.open(src, _READ_FLAGS)
        try:
            return self._hash_open(fd, context)
        except OSError as exc:  # os.read names no file: say which one, as open() would
            if exc.filename is None:
                exc.filename = os.fspath(src)
            raise
        finally:
            os.close(fd)

    def _hash_open(self, fd: int, context: ProcessorContext) -> str:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):  # a folder: os.read says so
            raise OSError(errno.EINVAL, f"{kind_of_mode(st.st_mode)}, not a regular file")
        size = context.input_size = st.st_size
        if size >= PROGRESS_FROM_BYTES:
            return self._hash_large(fd, size, context)
        data = os.read(fd, size + 1)
        digest = self._new(data)
        if len(data) != size:  # it grew or shrank since the fstat: read on to its end
            got = len(data)
            while chunk := os.read(fd, CHUNK):
                digest.update(chunk)
                got += len(chunk)
            context.input_size = got
        return digest.hexdigest()

    def _hash_large(self, fd: int, size: int, context: ProcessorContext) -> str:
        digest, done = self._new(), 0
        while chunk := os.read(fd, CHUNK):
            digest.update(chunk)
            done += len(chunk)
            context.progress(min(done / size, 1.0), f"{done >> 20} of {size >> 20} MiB")
        context.input_size = done
        return digest.hexdigest()


_FS_ENCODING, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()


def manifest_line(digest: str, relpath: str) -> bytes:
    """One line as ``sha256sum`` writes it: the name as the file system's raw bytes (a name that
    is not valid UTF-8 stays the bytes it is, as ``os.fsencode`` gives them back), and a name with
    a backslash, newline or carriage return escaped, the line marked with a leading backslash."""
    name = os.fsencode(relpath)
    if b"\\" in name or b"\n" in name or b"\r" in name:
        escaped = name.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
        return b"\\" + digest.encode("ascii") + b"  " + escaped + b"\n"
    return digest.encode("ascii") + b"  " + name + b"\n"


def manifest_bytes(entries: list[tuple[str, str]]) -> bytes:
    """The manifest for ``(relative path, digest)`` pairs, as bytes: names are file-system names,
    not text. Built the fast way (one encode of the whole text, as os.fsencode would encode each
    name: digests are ASCII), then checked once for the rare name that must be escaped (a
    backslash, a carriage return or an extra newline can only come from a name): this runs for
    every file."""
    if os.sep != "/":
        entries = [(relpath.replace(os.sep, "/"), digest) for relpath, digest in entries]
    data = "".join([f"{digest}  {relpath}\n" for relpath, digest in entries]).encode(_FS_ENCODING, _FS_ERRORS)
    if b"\\" in data or b"\r" in data or data.count(b"\n") != len(entries):
        data = b"".join([manifest_line(digest, relpath) for relpath, digest in entries])
    return data


MANIFEST_PIECE = 10_000  # lines encoded at once
SPOOL_BYTES = 1 << 20  # a manifest larger than this is made in a temporary file, not in memory
COMPARE_BYTES = 1 << 20


_folder = operator.itemgetter(0)  # of a manifest entry (folder index, relative path, digest)


def _manifest_pieces(entries: Iterable[tuple[int, str, str]], count: list[int]) -> Iterator[bytes]:
    """A folder's manifest in pieces of MANIFEST_PIECE lines; ``count[0]`` ends as the number of lines."""
    it = iter(entries)
    while piece := [(relpath, digest) for _folder_index, relpath, digest in itertools.islice(it, MANIFEST_PIECE)]:
        count[0] += len(piece)
        yield manifest_bytes(piece)


class ChecksumProcessor(Processor):
    name = "checksum"
    description = ("Hash every file and write one manifest per input folder "
                   "(OUTPUT/<folder>/SHA256SUMS) that `sha256sum -c` verifies.")
    params = (Param("algorithm", str, "sha256", ALGORITHMS, "Hash algorithm; the manifest is named after it."),)
    makes_file_outputs = False

    def task(self, params: Mapping[str, Any]) -> FileHasher:
        return FileHasher(params["algorithm"])

    def finalize(self, params: Mapping[str, Any], roots: list[RootOutput],
                 results: Iterator[tuple[int, str, Any]], overwrite: str) -> list[str]:
        manifest = MANIFEST_NAMES[params["algorithm"]]
        # Paths relative to the dropped folder (or a dropped file's own folder), by string
        # slicing: this runs once per file, and pathlib would cost more than the hashing.
        cut = [len(str(r.input if r.is_dir else r.input.parent).rstrip(os.sep)) + 1 for r in roots]
        folders = sorted({r.output for r in roots})  # dropped files share one folder, and one manifest
        folder_of = [folders.index(r.output) for r in roots]
        # By folder, then by name (each is unique): a manifest a person can read down. The results
        # come sorted by root and input, so by name within a root: when each folder is one root's,
        # in the roots' order, they are in manifest order already and go straight into it.
        # Otherwise they are sorted again, on disk past a bound, so a million never sit in memory.
        ordered: Iterator[tuple[int, str, str]]
        if len(roots) == 1:  # the usual case, without a look-up per file
            only_cut = cut[0]
            ordered = ((0, src[only_cut:], str(digest)) for _root, src, digest in results)
        else:
            ordered = ((folder_of[root_index], src[cut[root_index]:], str(digest))
                       for root_index, src, digest in results)
            if folder_of != sorted(set(folder_of)):  # two roots share a folder, or sort otherwise
                entries: SpillSorter[tuple[int, str, str]] = SpillSorter(None)  # (folder, name) is unique
                entries.extend(ordered)
                ordered = entries.sorted()
        lines, failed = [], []
        for folder_index, group in itertools.groupby(ordered, key=_folder):
            count = [0]
            text = _Spooled(_manifest_pieces(group, count))
            path = folders[folder_index] / manifest
            try:
                lines.append(write_manifest(path, text, count[0], overwrite))
            except OSError as exc:  # this folder's manifest only: the other folders' are still written
                text.close()
                failed.append(f"cannot write the manifest {path}: {exc.strerror or exc}")
        if failed:
            written = f" ({len(lines)} other manifest{'s' if len(lines) > 1 else ''} written)" if lines else ""
            raise ManifestError("; ".join(failed) + written)
        return lines


class ManifestError(OSError):
    """One or more manifests could not be written; the message names each and why."""

    def __str__(self) -> str:
        return str(self.args[0])


def write_manifest(path: Path, text: bytes | _Spooled, count: int, overwrite: str) -> str:
    """The manifest lists the folder as it is now, every file of it: one that already says so is
    left alone, and a stale one (a file added or changed since) is never kept: ``sha256sum -c``
    passes on a manifest that misses a file, and the file goes unchecked. Only ``rename`` keeps
    the old one, writing the new one beside it."""
    spooled = text if isinstance(text, _Spooled) else _Spooled(iter([text]))
    try:
        with open(path, "rb") as handle:
            current: bool | None = spooled.same_as(handle)
            listed = _count_lines(handle) if not current else 0
    except OSError:
        current = None
    if current:
        sidecar_if_missing(path)  # --provenance sidecar on a manifest made without one
        return f"{path} is up to date ({count} files)"
    target = write_atomically(path, spooled.pieces(), "rename" if overwrite == "rename" else "replace")
    if current is not None and overwrite != "rename":
        return f"rewrote {target} ({count} files; the one there listed {listed})"
    return f"wrote {target} ({count} files)"


class _Spooled:
    """A manifest made in pieces: held as bytes while small, in an anonymous temporary file past
    SPOOL_BYTES (a million lines are ~90 MiB), so it can be compared with the one there and then
    written without ever being one bytes object."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self.small: list[bytes] = []
        self.file: IO[bytes] | None = None
        size = 0
        for piece in pieces:
            size += len(piece)
            if self.file is None and size > SPOOL_BYTES:
                import tempfile

                self.file = tempfile.TemporaryFile(prefix="batchmill-manifest-")
                self.file.writelines(self.small)
                self.small = []
            if self.file is not None:
                self.file.write(piece)
            else:
                self.small.append(piece)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def pieces(self) -> Iterator[bytes]:
        if self.file is None:
            yield from self.small
            return
        self.file.seek(0)
        while piece := self.file.read(COMPARE_BYTES):
            yield piece
        self.file.close()

    def same_as(self, handle: IO[bytes]) -> bool:
        """Whether ``handle`` (read from its start) holds exactly these bytes; leaves it at the end."""
        same = True
        for piece in self.small if self.file is None else self._peek():
            if handle.read(len(piece)) != piece:
                same = False
                break
        return same and handle.read(1) == b""

    def _peek(self) -> Iterator[bytes]:
        assert self.file is not None
        self.file.seek(0)
        while piece := self.file.read(COMPARE_BYTES):
            yield piece


def _count_lines(handle: IO[bytes]) -> int:
    handle.seek(0)
    return sum(block.count(b"\n") for block in iter(lambda: handle.read(COMPARE_BYTES), b""))
