"""What the window remembers between runs, in ``BATCHMILL_HOME/settings.ini``.

An INI file next to the journal (not the platform registry), so one
``BATCHMILL_HOME`` holds everything and tests stay isolated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from core.journal import default_home

GEOMETRY = "window/geometry"
SPLITTERS = "window/splitters"
OUTPUT = "job/output"
WORKERS = "job/workers"
PROCESSOR = "job/processor"
PARAMS = "job/params"  # JSON: {processor: {name: value}}
DECLINED = "resume/declined"  # job ids the operator chose not to resume: not asked again


class Settings:
    def __init__(self, home: Path | None = None) -> None:
        self.path = (home or default_home()) / "settings.ini"
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

    def declined_resumes(self) -> set[str]:
        value = self.qsettings.value(DECLINED, [])
        return {str(v) for v in value} if isinstance(value, list) else ({str(value)} if value else set())

    def decline_resume(self, job_id: str) -> None:
        self.qsettings.setValue(DECLINED, sorted(self.declined_resumes() | {job_id})[-50:])
        self.qsettings.sync()

    def save(self, *, geometry: QByteArray, splitters: list[QByteArray], output: str, workers: int,
             processor: str, params: dict[str, dict[str, Any]]) -> None:
        self.qsettings.setValue(GEOMETRY, geometry)
        self.qsettings.setValue(SPLITTERS, splitters)
        self.qsettings.setValue(OUTPUT, output)
        self.qsettings.setValue(WORKERS, workers)
        self.qsettings.setValue(PROCESSOR, processor)
        self.qsettings.setValue(PARAMS, json.dumps(params, default=str))
        self.qsettings.sync()
