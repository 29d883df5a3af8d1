"""Presets: a job's processor, parameters and output options saved under a name.

Stored as JSON, one file per preset, in ``BATCHMILL_HOME/presets`` (else beside the window's
settings: batchmill.core.paths). The window
saves them and the CLI uses them (``--preset NAME``): the same file, the same job."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from batchmill.core.paths import places
from batchmill.core.outputs import write_atomically

_SAFE_NAME = re.compile(r"^[\w][\w .+-]{0,79}$")


class PresetError(ValueError):
    pass


@dataclass(frozen=True)
class Preset:
    name: str
    processor: str
    params: dict[str, Any] = field(default_factory=dict)
    output: str | None = None
    overwrite: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    recursive: bool = True
    workers: int | None = None
    timeout_s: float | None = None
    retries: int | None = None
    name_template: str | None = None
    provenance: str | None = None  # "sidecar": a provenance sidecar beside each output (JobSpec.provenance)

    def to_json(self) -> str:
        data = asdict(self)
        data["params"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in self.params.items()}
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Preset:
        data = json.loads(text)
        known = set(cls.__dataclass_fields__)
        data = {k: v for k, v in data.items() if k in known}
        for key in ("include", "exclude"):
            data[key] = tuple(data.get(key) or ())
        return cls(**data)


def presets_dir(home: Path | None = None) -> Path:
    return home / "presets" if home is not None else places().presets


def _path(name: str, home: Path | None) -> Path:
    if not _SAFE_NAME.match(name):
        raise PresetError(f"preset name {name!r} may use letters, digits, spaces and . + - _ (up to 80)")
    return presets_dir(home) / f"{name}.json"


def save_preset(preset: Preset, home: Path | None = None) -> Path:
    path = _path(preset.name, home)
    written = write_atomically(path, preset.to_json().encode("utf-8"), "replace")
    assert written is not None
    return written


def load_preset(name: str, home: Path | None = None) -> Preset:
    path = _path(name, home)
    try:
        return Preset.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(list_presets(home)) or "none saved yet"
        raise PresetError(f"no preset named {name!r} (presets: {known})") from None
    except (ValueError, TypeError) as exc:
        raise PresetError(f"preset {name!r} in {path} cannot be read: {exc}") from None


def list_presets(home: Path | None = None) -> list[str]:
    folder = presets_dir(home)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json"))


def delete_preset(name: str, home: Path | None = None) -> None:
    try:
        os.unlink(_path(name, home))
    except FileNotFoundError:
        raise PresetError(f"no preset named {name!r}") from None
