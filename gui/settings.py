"""What the window remembers between runs, in ``settings.ini``: in ``BATCHMILL_HOME``, else in
the platform's configuration folder (batchmill.core.paths).

An INI file (not the platform registry), so one ``BATCHMILL_HOME`` holds everything and
tests stay isolated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from batchmill.core.paths import places

GEOMETRY = "window/geometry"
SPLITTERS = "window/splitters"
OUTPUT = "job/output"
WORKERS = "job/workers"
PROCESSOR = "job/processor"
PARAMS = "job/params"  # JSON: {processor: {name: value}}
NAME_TEMPLATE = "job/name_template"
RETRIES = "job/retries"
BACKEND = "job/backend"
SCHEDULER = "job/scheduler"
SCRIPTS = "job/scripts"  # JSON: [[script, function]] loaded as processors, loaded again next time
PROVENANCE = "job/provenance"  # journal, or sidecar: a provenance sidecar beside each output
DECLINED = "resume/declined"  # job ids the operator chose not to resume: not asked again
HIDDEN = "history/hidden"  # job ids removed from the queue: not listed from the journal again


class Settings:
    def __init__(self, home: Path | None = None) -> None:
        self.path = home / "settings.ini" if home is not None else places().settings
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.qsettings = QSettings(str(self.path), QSettings.Format.IniFormat)

    def geometry(self) -> QByteArray | None:
        value = self.qsettings.value(GEOMETRY)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def splitters(self) -> list[QByteArray]:
        value = self.qsettings.value(SPLITTERS)
        if isinstance(value, QByteArray):
            return [value]
        return [v for v in value if isinstance(v, QByteArray)] if isinstance(value, list) else []

    def output(self) -> str:
        return str(self.qsettings.value(OUTPUT, "") or "")

    def workers(self) -> int | None:
        value = self.qsettings.value(WORKERS)
        try:
            return int(value) if value is not None else None  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return None

    def processor(self) -> str:
        return str(self.qsettings.value(PROCESSOR, "") or "")

    def params(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(str(self.qsettings.value(PARAMS, "{}") or "{}"))
        except ValueError:
            return {}
        return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}

    def name_template(self) -> str:
        return str(self.qsettings.value(NAME_TEMPLATE, "") or "")

    def provenance(self) -> str:
        """``journal`` (the default) or ``sidecar``: the window's Provenance choice."""
        value = str(self.qsettings.value(PROVENANCE, "journal") or "journal")
        return value if value in ("journal", "sidecar") else "journal"

    def retries(self) -> int:
        try:
            return max(0, int(self.qsettings.value(RETRIES, 0) or 0))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return 0

    def backend(self) -> tuple[str, str]:
        """``(backend, scheduler address)``: ``("local", "")`` unless Dask was chosen."""
        return str(self.qsettings.value(BACKEND, "local") or "local"), str(self.qsettings.value(SCHEDULER, "") or "")

    def scripts(self) -> list[tuple[str, str]]:
        try:
            data = json.loads(str(self.qsettings.value(SCRIPTS, "[]") or "[]"))
        except ValueError:
            return []
        if not isinstance(data, list):
            return []
        return [(str(item[0]), str(item[1])) for item in data if isinstance(item, list) and len(item) == 2]

    def declined_resumes(self) -> set[str]:
        value = self.qsettings.value(DECLINED, [])
        return {str(v) for v in value} if isinstance(value, list) else ({str(value)} if value else set())

    def decline_resume(self, job_id: str) -> None:
        self.qsettings.setValue(DECLINED, sorted(self.declined_resumes() | {job_id})[-50:])
        self.qsettings.sync()

    def hidden_jobs(self) -> set[str]:
        value = self.qsettings.value(HIDDEN, [])
        return {str(v) for v in value} if isinstance(value, list) else ({str(value)} if value else set())

    def hide_job(self, job_id: str) -> None:
        self.qsettings.setValue(HIDDEN, sorted(self.hidden_jobs() | {job_id})[-500:])
        self.qsettings.sync()

    def save(self, *, geometry: QByteArray, splitters: list[QByteArray], output: str, workers: int,
             processor: str, params: dict[str, dict[str, Any]], name_template: str = "", retries: int = 0,
             backend: str = "local", scheduler: str = "", scripts: list[tuple[str, str]] | None = None,
             provenance: str = "journal") -> None:
        self.qsettings.setValue(GEOMETRY, geometry)
        self.qsettings.setValue(SPLITTERS, splitters)
        self.qsettings.setValue(OUTPUT, output)
        self.qsettings.setValue(WORKERS, workers)
        self.qsettings.setValue(PROCESSOR, processor)
        self.qsettings.setValue(PARAMS, json.dumps(params, default=str))
        self.qsettings.setValue(NAME_TEMPLATE, name_template)
        self.qsettings.setValue(RETRIES, retries)
        self.qsettings.setValue(BACKEND, backend)
        self.qsettings.setValue(SCHEDULER, scheduler)
        self.qsettings.setValue(SCRIPTS, json.dumps([list(s) for s in scripts or []]))
        self.qsettings.setValue(PROVENANCE, provenance)
        self.qsettings.sync()
