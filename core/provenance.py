"""Provenance: what made every output — which input (size, mtime, hash on request), which
processor, version, parameters and code, in which job — kept in the journal.

Two tables, added beside the job log (an older journal gains them when first opened):

- ``recipes``: a processor, its version, its parameters (JSON) and its code fingerprint (the
  payload hash; for a ``python`` script the hash of the script's text, since dill's bytes for
  a function loaded from a file differ from one process to the next), stored once under the
  hash of the four.
- ``outputs``: one row per output, the latest wins (written through ``output_log``, below): the input as it was when the file was
  planned, the recipe, the output's size and mtime when it was made, the function's result
  and the job. An output is its file; for a processor that makes none per input (checksum,
  whose per-folder manifest is built from the results) it is the input within the output
  folder of its job, so a later run can reuse the result.

``--overwrite changed`` compares against these rows (``batchmill.core.freshness``);
``batchmill why`` and ``batchmill show --files`` read them.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import marshal
import operator
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from batchmill.core.journal import Journal
from batchmill.core.processors.base import Processor, RootOutput

SCHEMA = """
CREATE TABLE IF NOT EXISTS recipes (
    hash TEXT PRIMARY KEY,
    processor TEXT NOT NULL,
    version TEXT NOT NULL,
    params TEXT NOT NULL,  -- JSON, sorted keys
    code TEXT NOT NULL  -- the code's fingerprint (see code_fingerprint)
);
CREATE TABLE IF NOT EXISTS job_recipes (job_id TEXT PRIMARY KEY, recipe TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outputs (
    target TEXT PRIMARY KEY,  -- the output file, or "<job's output folder>/\\0<input>" (no per-file output)
    output TEXT,  -- the output file, NULL when the processor makes none or made none for this input
    input TEXT NOT NULL,
    in_size INTEGER,
    in_mtime_ns INTEGER,
    in_hash TEXT,  -- sha256 of the input, when asked for (--hash-inputs)
    recipe TEXT NOT NULL,
    out_size INTEGER,
    out_mtime_ns INTEGER,
    result TEXT,  -- the processor's return value, JSON
    job_id TEXT NOT NULL,
    made REAL NOT NULL,  -- when it was recorded (Unix time)
    reason TEXT  -- why it was made (again): --overwrite changed's verdict
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS outputs_by_input ON outputs (input);
CREATE TABLE IF NOT EXISTS output_log (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,
    data TEXT NOT NULL  -- JSON: logged records, or where they are (below), folded into outputs before anyone reads it
);
"""
# What a running job writes: one row of output_log per journal flush, either
# - a JSON list of records [target, output, input, in_size, in_mtime_ns, in_hash, out_size,
#   out_mtime_ns, result, made, reason] (a job under --overwrite changed or --hash-inputs, whose
#   records hold what only it knows: the input's stat when checked, hashes, the verdict), or
# - a JSON object, a reference: {"done_records": ID, "roots": [each root's output folder],
#   "unmade": [idx, ...], "made": TIME}: the files of file_records row ID (the done records written
#   in the same flush) are the records, each [target_for(root, input, output), output unless its
#   idx is in unmade, input, the done record's size, None, None, None, None, its result, TIME,
#   None], input, output and root from the file's planned record. Everything else a record would
#   hold is in the job log already; building records cost the engine thread of a job of 20,000
#   4 KiB files ~20 % of its time (issue 14), a reference costs nothing per file.
# A row of outputs per file cost the engine thread ~5 µs a file (two B-tree inserts of long
# text keys), as much as hashing a small file. The log is folded into outputs (its recipe from
# job_recipes) by the first reader that needs it, or before a job's file records are deleted.
LOOKUP_CHUNK = 500  # targets per query: under SQLite's oldest limit of 999 bound values
# A record as an up-to-date check reads it: ROW_COLUMNS in order (see there).
Row: TypeAlias = "sqlite3.Row | tuple[Any, ...] | list[Any]"
# A record as an up-to-date check reads it (rows_many, logged): the log's layout, then the recipe
# and the job. From the table, a tuple (or sqlite3.Row) whose result is JSON text; from the log, a
# list whose result is decoded (record_of_row and the check tell them apart by that type).
ROW_COLUMNS = ("target", "output", "input", "in_size", "in_mtime_ns", "in_hash", "out_size", "out_mtime_ns",
               "result", "made", "reason", "recipe", "job_id")
OUTPUT_COLUMNS = ("target", "output", "input", "in_size", "in_mtime_ns", "in_hash", "recipe", "out_size",
                  "out_mtime_ns", "result", "job_id", "made", "reason")


@dataclass(frozen=True)
class Recipe:
    """What, besides the input, decides an output."""

    processor: str
    version: str
    params: str  # JSON
    code: str

    @functools.cached_property
    def hash(self) -> str:  # cached: an up-to-date check compares it with every file's record
        text = json.dumps([self.processor, self.version, self.params, self.code])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]

    def differences(self, newer: Recipe) -> list[str]:
        """What changed from this recipe to ``newer``, in words."""
        found = []
        if self.processor != newer.processor:
            found.append(f"the processor changed ({self.processor} -> {newer.processor})")
        elif self.version != newer.version:
            found.append(f"the processor's version changed ({self.version} -> {newer.version})")
        if self.params != newer.params:
            found.append(f"the parameters changed ({param_changes(self.params, newer.params)})")
        if self.code != newer.code:
            found.append(f"the code changed (fingerprint {self.code[:12]} -> {newer.code[:12]})")
        return found


@dataclass(frozen=True)
class OutputRecord:
    target: str
    output: str | None
    input: str
    in_size: int | None
    in_mtime_ns: int | None
    in_hash: str | None
    recipe: str
    out_size: int | None
    out_mtime_ns: int | None
    result: Any
    job_id: str
    made: float
    reason: str | None


def shown_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that decide an output: private ones (a shipped function) left out,
    a user function's own keyword arguments put in."""
    shown = {k: v for k, v in params.items() if not k.startswith("_")}
    user = params.get("_user")
    if user is not None and "kwargs" not in shown:
        shown["kwargs"] = getattr(user, "kwargs", {})
    return shown


def params_json(params: Mapping[str, Any]) -> str:
    return json.dumps(shown_params(params), sort_keys=True, default=str)


def code_fingerprint(processor: Processor, params: Mapping[str, Any], payload_key: str) -> str:
    """Changes when the code that makes the outputs changes. A ``python`` script: its text (dill's
    bytes for a function run from a file differ between processes). A function handed to
    ``batchmill.run()``: its payload, and its compiled code (a function shipped by reference to
    its module has the same payload whatever its body). Otherwise the processor's payload."""
    script = params.get("script") if "_user" in params else None
    if script:
        return script_fingerprint(str(script))
    fn = getattr(processor, "fn", None)
    code = getattr(fn, "__code__", None)
    if code is not None:
        digest = hashlib.sha256(payload_key.encode("ascii") + marshal.dumps(code))
        return "function:" + digest.hexdigest()
    return str(params.get("_key") or payload_key)


def script_fingerprint(script: str) -> str:
    """A ``python`` script's code fingerprint: the hash of its text (``script-missing:`` when it
    cannot be read). A retry compares it with the job's journaled one (batchmill.core.prepare)."""
    try:
        with open(script, "rb") as handle:
            return "script:" + hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return f"script-missing:{script}"


def make_recipe(processor: Processor, params: Mapping[str, Any], payload_key: str) -> Recipe:
    version = str(getattr(processor, "version", "") or "")
    return Recipe(processor.name, version, params_json(params), code_fingerprint(processor, params, payload_key))


def target_for(root: RootOutput, src: str, dst: str | None) -> str:
    """The key of an output's row (see the ``outputs`` table)."""
    return dst if dst is not None else f"{root.output}{os.sep}\0{src}"


def param_changes(old: str, new: str) -> str:
    """``quality 80 -> 90, strip added``: what differs between two parameter sets (JSON)."""
    try:
        before, after = json.loads(old), json.loads(new)
    except ValueError:
        return f"{old} -> {new}"
    if not isinstance(before, dict) or not isinstance(after, dict):
        return f"{old} -> {new}"
    before, after = _flat(before), _flat(after)
    parts = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            parts.append(f"{key}={json.dumps(after[key])} added")
        elif key not in after:
            parts.append(f"{key} removed")
        elif before[key] != after[key]:
            parts.append(f"{key} {json.dumps(before[key])} -> {json.dumps(after[key])}")
    return ", ".join(parts) or "reordered"


def _flat(params: dict[str, Any]) -> dict[str, Any]:
    """A user function's keyword arguments beside the other parameters, as the operator gave them."""
    flat = {k: v for k, v in params.items() if k != "kwargs"}
    kwargs = params.get("kwargs")
    if isinstance(kwargs, dict):
        flat.update(kwargs)
    elif "kwargs" in params:
        flat["kwargs"] = kwargs
    return flat


class LoggedRecords:
    """Records read from output_log (ProvenanceStore.logged), by target; each is taken once."""

    def __init__(self) -> None:
        self.records: dict[str, list[Any]] = {}  # as logged: ROW_COLUMNS but the last two
        self.job: tuple[str, str] | None = None  # (recipe, job) of them all, while one job logged them all
        self.jobs: dict[str, tuple[str, str]] = {}  # else (recipe, job) of each

    def __len__(self) -> int:
        return len(self.records)

    def add(self, records: list[list[Any]], job: tuple[str, str]) -> None:
        targets = list(map(_first, records))
        if self.job is None and not self.records:
            self.job = job
        elif self.job is not None and job != self.job:  # another job's: each record says whose it is
            self.jobs = dict.fromkeys(self.records, self.job)
            self.job = None
        self.records.update(zip(targets, records))  # in C: nothing done per record in Python
        if self.job is None:
            self.jobs.update(dict.fromkeys(targets, job))

    def take(self, target: str) -> list[Any] | None:
        """The record of ``target`` as a row of ROW_COLUMNS (a list: its result decoded), let go here."""
        record = self.records.pop(target, None)
        if record is not None:
            record += self.job or self.jobs.pop(target)
        return record


_first = operator.itemgetter(0)


class ProvenanceStore:
    """The two tables, over the journal's connection."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        with journal.write_transaction() as db:
            for statement in filter(None, (s.strip() for s in SCHEMA.split(";"))):
                db.execute(statement)
        self._recipes: dict[str, Recipe | None] = {}
        self._folded = False

    # -- recipes ------------------------------------------------------------
    def save_recipe(self, job_id: str, recipe: Recipe) -> None:
        with self.journal.write_transaction() as db:
            db.execute("INSERT OR IGNORE INTO recipes (hash, processor, version, params, code) VALUES (?, ?, ?, ?, ?)",
                       (recipe.hash, recipe.processor, recipe.version, recipe.params, recipe.code))
            db.execute("INSERT OR REPLACE INTO job_recipes (job_id, recipe) VALUES (?, ?)", (job_id, recipe.hash))
        self._recipes[recipe.hash] = recipe

    def recipe(self, recipe_hash: str) -> Recipe | None:
        if recipe_hash not in self._recipes:
            rows = self.journal.read("SELECT processor, version, params, code FROM recipes WHERE hash = ?",
                                     (recipe_hash,))
            self._recipes[recipe_hash] = Recipe(*rows[0]) if rows else None
        return self._recipes[recipe_hash]

    def job_recipe(self, job_id: str) -> Recipe | None:
        rows = self.journal.read("SELECT recipe FROM job_recipes WHERE job_id = ?", (job_id,))
        return self.recipe(rows[0][0]) if rows else None

    # -- outputs ------------------------------------------------------------
    def get(self, target: str) -> OutputRecord | None:
        self.fold()
        rows = self.journal.read(f"SELECT {', '.join(OUTPUT_COLUMNS)} FROM outputs WHERE target = ?",
                                 (sql_path(target),))
        return _record(rows[0]) if rows else None

    def get_many(self, targets: list[str]) -> dict[str, OutputRecord]:
        """The records of these targets that exist, by target: one query per few hundred (a
        query per file was most of an up-to-date re-run's time)."""
        return {target: record_of_row(row) for target, row in self.rows_many(targets).items()}

    def rows_many(self, targets: list[str], fold: bool = True) -> dict[str, Row]:
        """As get_many, the rows as read (ROW_COLUMNS, paths decoded, the result still JSON
        text): an up-to-date check compares a few columns of each and decodes no more.
        ``fold=False``: the table alone, for a reader that holds what is logged (``logged``)."""
        if fold:
            self.fold()
        found: dict[str, Row] = {}
        for start in range(0, len(targets), LOOKUP_CHUNK):
            part = targets[start:start + LOOKUP_CHUNK]
            rows = self.journal.read(
                f"SELECT {', '.join(ROW_COLUMNS)} FROM outputs WHERE target IN ({', '.join('?' * len(part))})",
                [sql_path(t) for t in part])
            row: Row
            for row in rows:
                target = row[0]
                if isinstance(target, bytes) or isinstance(row[1], bytes) or isinstance(row[2], bytes):
                    row = (*[os.fsdecode(v) if isinstance(v, bytes) else v for v in row[:3]], *row[3:])
                    target = row[0]
                found[target] = row
        return found

    def by_input(self, path: str) -> list[OutputRecord]:
        self.fold()
        rows = self.journal.read(f"SELECT {', '.join(OUTPUT_COLUMNS)} FROM outputs WHERE input = ? "
                                 "ORDER BY made DESC", (sql_path(path),))
        return [_record(row) for row in rows]

    def by_output(self, path: str) -> OutputRecord | None:
        return self.get(path)

    def of_job(self, job_id: str) -> Iterator[OutputRecord]:
        self.fold()
        rows = self.journal.read(f"SELECT {', '.join(OUTPUT_COLUMNS)} FROM outputs WHERE job_id = ?", (job_id,))
        return (_record(row) for row in rows)

    def append(self, job_id: str, records: list[list[Any]]) -> None:
        """Files a job finished (see output_log): one row, cheap, on the engine thread."""
        try:
            data = json.dumps(records, default=repr)
        except ValueError:  # a result that contains itself (or a repr that fails): kept as words
            data = json.dumps([[*r[:8], _shown(r[8]), *r[9:]] for r in records], default=repr)
        with self.journal.write_transaction() as db:
            db.execute("INSERT INTO output_log (job_id, data) VALUES (?, ?)", (job_id, data))

    def append_reference(self, job_id: str, done_row: int, roots: list[str], unmade: list[int]) -> None:
        """Files a job finished, as a reference to their done records (see output_log): nothing
        per file on the engine thread."""
        data = json.dumps({"done_records": done_row, "roots": roots, "unmade": unmade, "made": time.time()})
        with self.journal.write_transaction() as db:
            db.execute("INSERT INTO output_log (job_id, data) VALUES (?, ?)", (job_id, data))

    def logged(self, prefixes: tuple[str, ...], limit: int) -> LoggedRecords | None:
        """What jobs logged and no reader has folded into ``outputs`` yet, read without folding
        it: the records whose target starts with one of ``prefixes`` (the latest wins). None when
        more than ``limit`` records are logged: the caller folds them instead.

        The fold writes every record into two B-trees (4 µs a record here, and all of them in
        memory at once): the run after a job of 200,000 files spent most of its time on it, while
        reading them costs a JSON decode. A check in bulk reads them so; the readers that look
        up one output (why, show) fold."""
        found = LoggedRecords()
        if self._folded:
            return found
        recipes: dict[str, str] = {}
        planned_of: dict[str, dict[int, list[Any]]] = {}  # by job: each file's [root, input, output]
        seen = 0
        collecting = gc.isenabled()  # decoded records hold no cycles: the collector would only walk them
        gc.disable()
        try:  # in one snapshot: a fold by another process meanwhile must not move half of them away
            with self.journal.read_snapshot() as db:
                elsewhere = _jobs_elsewhere(db, prefixes)
                for log_id, job_id in db.execute("SELECT id, job_id FROM output_log ORDER BY id").fetchall():
                    if job_id in elsewhere:
                        continue  # none of its records can be one of these: not even read
                    (data,) = db.execute("SELECT data FROM output_log WHERE id = ?", (log_id,)).fetchone()
                    records = list(_logged_records(_reader(db), job_id, json.loads(data), planned_of))
                    seen += len(records)
                    if seen > limit:
                        return None
                    recipe = recipes.get(job_id)
                    if recipe is None:
                        found_recipe = self.journal.read("SELECT recipe FROM job_recipes WHERE job_id = ?",
                                                         (job_id,))
                        recipe = recipes[job_id] = found_recipe[0][0] if found_recipe else ""
                    found.add([record for record in records if record[0].startswith(prefixes)], (recipe, job_id))
        finally:
            if collecting:
                gc.enable()
        return found

    def fold(self) -> None:
        """Move what jobs logged into ``outputs``, once per store (later rows win)."""
        if self._folded:
            return
        self._folded = True
        with self.journal.write_transaction() as db:
            logged = db.execute("SELECT id, job_id, data FROM output_log ORDER BY id").fetchall()
            if not logged:
                return
            recipes = dict(db.execute("SELECT job_id, recipe FROM job_recipes WHERE job_id IN "
                                      "(SELECT DISTINCT job_id FROM output_log)").fetchall())
            rows = []
            planned_of: dict[str, dict[int, list[Any]]] = {}  # by job: each file's [root, input, output]
            for _id, job_id, data in logged:
                recipe = recipes.get(job_id, "")
                for (target, output, src, in_size, in_mtime, in_hash, out_size, out_mtime, result, made,
                     reason) in _logged_records(_reader(db), job_id, json.loads(data), planned_of):
                    rows.append((target, output, src, in_size, in_mtime, in_hash, recipe, out_size, out_mtime,
                                 result_json(result), job_id, made, reason))
            db.executemany(f"INSERT OR REPLACE INTO outputs ({', '.join(OUTPUT_COLUMNS)}) "
                           f"VALUES ({', '.join('?' * len(OUTPUT_COLUMNS))})",
                           [(sql_path(row[0]), sql_path(row[1]), sql_path(row[2]), *row[3:]) for row in rows])
            db.execute("DELETE FROM output_log WHERE id <= ?", (logged[-1][0],))


Read = Callable[[str, tuple[Any, ...]], list[Any]]  # a query's rows


def _reader(db: sqlite3.Connection) -> Read:
    return lambda sql, params: db.execute(sql, params).fetchall()


def _jobs_elsewhere(db: sqlite3.Connection, prefixes: tuple[str, ...]) -> set[str]:
    """The jobs in output_log whose output folder neither holds nor lies in one of ``prefixes``:
    no target of theirs can start with one (a target starts with its job's output folder)."""
    elsewhere = set()
    for job_id, output in db.execute("SELECT id, json_extract(spec, '$.output') FROM jobs "
                                     "WHERE id IN (SELECT DISTINCT job_id FROM output_log)"):
        if isinstance(output, str) and output and not any(
                prefix.startswith(output) or output.startswith(prefix) for prefix in prefixes):
            elsewhere.add(job_id)
    return elsewhere


def _logged_records(read: Read, job_id: str, data: Any,
                    planned_of: dict[str, dict[int, list[Any]]]) -> Iterator[list[Any]]:
    """The records of one output_log row: as written, or those its reference points at."""
    if isinstance(data, list):
        yield from data
        return
    rows = read("SELECT data FROM file_records WHERE id = ? AND job_id = ?", (data["done_records"], job_id))
    if not rows:
        return  # the job's file records were deleted before its log was folded
    planned = planned_of.get(job_id)
    if planned is None:
        planned = planned_of[job_id] = {}
        for (text,) in read("SELECT data FROM file_records WHERE job_id = ? AND kind = 'planned'", (job_id,)):
            for idx, root, src, dst, _state, _size in json.loads(text):
                planned[idx] = [root, src, dst]
    roots, unmade, made = data["roots"], set(data["unmade"]), data["made"]
    sep = os.sep
    for idx, _attempts, _duration, size, result in json.loads(rows[0][0]):
        entry = planned.get(idx)
        if entry is None:
            continue
        root, src, dst = entry
        target = dst if dst is not None else f"{roots[root]}{sep}\0{src}"  # target_for, from the folder's name
        yield [target, None if idx in unmade else dst, src, size, None, None, None, None, result, made, None]


def sql_path(path: Any) -> Any:
    """A path as SQLite can hold it: text, or, for a name that is not valid UTF-8 (a str with
    surrogates, which SQLite refuses), its raw bytes as a BLOB; ``_record`` turns them back."""
    if isinstance(path, str):
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            return os.fsencode(path)
    return path


def record_of_row(row: Row) -> OutputRecord:
    """An OutputRecord from a row of ROW_COLUMNS (as rows_many or LoggedRecords.take give it)."""
    target, output, src, in_size, in_mtime, in_hash, out_size, out_mtime, result, made, reason, recipe, job = row
    if type(row) is not list:  # from the table: paths maybe as bytes (sql_path), the result as JSON text
        target, output, src = (os.fsdecode(v) if isinstance(v, bytes) else v for v in (target, output, src))
        result = None if result is None else json.loads(result)
    return OutputRecord(target, output, src, in_size, in_mtime, in_hash, recipe, out_size, out_mtime, result, job,
                        made, reason)


def _record(row: sqlite3.Row | tuple[Any, ...]) -> OutputRecord:
    values = list(row)
    for column in range(3):  # target, output, input (see sql_path)
        if isinstance(values[column], bytes):
            values[column] = os.fsdecode(values[column])
    result = values[9]
    values[9] = None if result is None else json.loads(result)
    return OutputRecord(*values)


def _shown(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - any object's __repr__, or an int too long to write: never the job's end
        return f"<a {type(value).__name__} that cannot be written>"


def result_json(value: Any) -> str | None:
    """A result as the outputs table keeps it (a value JSON cannot hold is kept as its repr)."""
    if value is None:
        return None
    try:
        return json.dumps(value, default=repr)
    except ValueError:  # it contains itself
        return json.dumps(_shown(value))


def record_json(record: OutputRecord) -> dict[str, Any]:
    return {"job_id": record.job_id, "made": record.made, "reason": record.reason,
            "input_size": record.in_size, "input_mtime_ns": record.in_mtime_ns, "input_sha256": record.in_hash,
            "output": record.output, "output_size": record.out_size, "output_mtime_ns": record.out_mtime_ns}


def job_recipe_json(store: ProvenanceStore, job: Any) -> dict[str, Any]:
    """What made a job's outputs, for ``show``: processor, version, parameters, code, payload."""
    recipe = store.job_recipe(job.id)
    return {"processor": job.processor, "identity": job.identity, "payload_hash": job.payload_hash,
            "batchmill_version": job.created_by, "host": job.owner_host,
            "processor_version": recipe.version if recipe else None,
            "params": json.loads(recipe.params) if recipe else job.spec.params,
            "code": recipe.code if recipe else None}


def job_files(journal: Journal, job: Any, roots: list[RootOutput]) -> Iterator[dict[str, Any]]:
    """Every file of a job, in planning order: its state, its result (a function's return value)
    and error, and the journal's record of its output (``provenance``: None when none was kept,
    as for a job from before provenance, or a file that failed). A file skipped as up to date
    shows the record of the job that made it."""
    store = ProvenanceStore(journal)
    for file in journal.files(job.id):
        record = None
        if file.root < len(roots):
            record = store.get(target_for(roots[file.root], file.input, file.output))
        yield {"idx": file.idx, "input": file.input, "output": file.output, "state": file.state.value,
               "attempts": file.attempts, "result": file.result, "error": file.error, "kind": file.kind,
               "duration_s": file.duration, "size": file.size,
               "provenance": record_json(record) if record is not None and record.input == file.input else None}
