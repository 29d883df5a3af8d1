"""Sorting more items than should sit in memory: sorted runs spilled to temporary files, merged.

A job's final step (the checksum manifest) needs every file's result, sorted; at a million files
that is hundreds of MiB as Python objects. Here at most ``run_size`` items are held at a time:
each full run is sorted and pickled, in blocks, to an anonymous temporary file, and ``sorted()``
merges the runs lazily (``heapq.merge``), reading one block of each run at a time. Items that
came in order are neither sorted nor merged.
"""

from __future__ import annotations

import heapq
import itertools
import operator
import pickle
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, Generic, TypeVar

T = TypeVar("T")

RUN_SIZE = 10_000  # items in memory before a run is spilled (~3 MiB of a checksum's results)
BLOCK = 256  # items per pickled block: what each run holds in memory while merging
FAN_IN = 16  # runs of one size merged into one of the next: a merge never reads more runs at once


class SpillSorter(Generic[T]):
    """Collects items, then yields them sorted by ``key`` with bounded memory. ``key=None``: by the
    items themselves (tuples whose first fields are unique: list.sort and heapq.merge then compare
    in C, with no call per item)."""

    def __init__(self, key: Callable[[T], Any] | None, run_size: int | None = None) -> None:
        self.key = key
        self.run_size = run_size or RUN_SIZE
        self.items: list[T] = []
        self.runs: list[IO[bytes]] = []
        self.levels: list[int] = []  # of each run: a level-n run holds FAN_IN**n spills
        self.count = 0
        self.in_order = True  # every item so far came after the one before: nothing to sort or merge
        self._last: Any = None

    def add(self, item: T) -> None:
        if self.in_order:
            key = item if self.key is None else self.key(item)
            if self.count and key < self._last:
                self.in_order = False
            self._last = key
        self.items.append(item)
        self.count += 1
        if len(self.items) >= self.run_size:
            self._spill()

    def extend(self, items: Iterable[T]) -> None:
        """``add`` each of ``items``, a block at a time: with ``key=None`` the order is checked in C."""
        it = iter(items)
        while block := list(itertools.islice(it, self.run_size - len(self.items))):
            if self.in_order:
                keys: list[Any] = block if self.key is None else list(map(self.key, block))
                if (self.count and keys[0] < self._last) or not all(map(operator.le, keys, keys[1:])):
                    self.in_order = False
                self._last = keys[-1]
            self.items += block
            self.count += len(block)
            if len(self.items) >= self.run_size:
                self._spill()

    def __len__(self) -> int:
        return self.count

    def _spill(self) -> None:
        if not self.in_order:
            self.items.sort(key=self.key)
        self._add_run(iter(self.items), 0)
        self.items = []
        # Like sizes merge as they fill up, so the runs stay few (a merge holds one block of each)
        # and every item is rewritten only log_FAN_IN(count / run_size) times.
        while len(self.levels) >= FAN_IN and len(set(self.levels[-FAN_IN:])) == 1:
            level, runs = self.levels[-1], self.runs[-FAN_IN:]
            del self.runs[-FAN_IN:], self.levels[-FAN_IN:]
            merged = (itertools.chain(*map(_read_run, runs)) if self.in_order  # runs in order: one after the other
                      else heapq.merge(*map(_read_run, runs), key=self.key))
            self._add_run(merged, level + 1)
            for handle in runs:
                handle.close()

    def _add_run(self, items: Iterator[T], level: int) -> None:
        import tempfile  # here: a worker loads this module with checksum, and never spills

        handle = tempfile.TemporaryFile(prefix="batchmill-spill-")  # gone when closed, even after a crash
        while block := list(itertools.islice(items, BLOCK)):
            pickle.dump(block, handle, pickle.HIGHEST_PROTOCOL)
        handle.seek(0)
        self.runs.append(handle)
        self.levels.append(level)

    def sorted(self) -> Iterator[T]:
        """Every item added, in order of ``key``; the sorter is spent (and its files closed) after."""
        runs = [_read_run(handle) for handle in self.runs]
        try:
            if self.in_order:
                yield from itertools.chain(*runs, self.items)
                return
            self.items.sort(key=self.key)
            yield from heapq.merge(*runs, iter(self.items), key=self.key) if runs else iter(self.items)
        finally:
            self.close()

    def close(self) -> None:
        for handle in self.runs:
            handle.close()
        self.runs, self.levels, self.items = [], [], []


def _read_run(handle: IO[bytes]) -> Iterator[Any]:
    while True:
        try:
            block = pickle.load(handle)
        except EOFError:
            return
        yield from block
