"""JobSpec: everything needed to run (and later resume) a job, as plain JSON."""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from batchmill.core.early import default_workers as default_workers  # where it lives: light, read first


class Overwrite(str, enum.Enum):
    SKIP = "skip"  # an existing output is kept and the file is counted as skipped
    REPLACE = "replace"  # an existing output is replaced (atomically)
    RENAME = "rename"  # the new output gets a free name: "name (1).ext"
    CHANGED = "changed"  # redo a file only when its input, the processor, its parameters or code, or its output changed


BACKENDS = ("local", "dask")
# Where the provenance of each output is kept: the journal always; "sidecar" also writes a small
# JSON file beside each output (batchmill.core.sidecar), "<output>.provenance.json".
PROVENANCE_MODES = ("journal", "sidecar")




@dataclass(frozen=True)
class JobSpec:
    """A job as the operator described it. Round-trips through JSON; never pickled."""

    processor: str
    inputs: tuple[str, ...]
    output: str
    params: dict[str, Any] = field(default_factory=dict)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    recursive: bool = True
    overwrite: Overwrite = Overwrite.SKIP
    workers: int = field(default_factory=default_workers)
    timeout_s: float | None = None
    retries: int = 0
    max_files_per_worker: int | None = None
    halt_after: str | None = None  # "N" failures or "P%" of files
    name: str = ""
    name_template: str | None = None  # output naming, e.g. "{stem}_small{ext}" (batchmill.core.naming)
    backend: str = "local"  # "local" (own process pool) or "dask"
    scheduler: str | None = None  # Dask scheduler address; None with backend "dask": a LocalCluster
    ignore_case: bool | None = None  # patterns ignore case; None: as the platform's file systems do (core.patterns)
    # Only these files of the one folder input, relative to it: a list of inputs (core.inputs_list)
    files: tuple[str, ...] = ()
    hash_inputs: bool = False  # --overwrite changed compares inputs by content (sha256), not only size and mtime
    provenance: str = "journal"  # "sidecar": also a JSON file beside each output (PROVENANCE_MODES)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(str(Path(p).absolute()) for p in self.inputs))
        object.__setattr__(self, "output", str(Path(self.output).absolute()))
        object.__setattr__(self, "include", tuple(self.include))
        object.__setattr__(self, "exclude", tuple(self.exclude))
        object.__setattr__(self, "files", tuple(self.files))
        if self.files and len(self.inputs) != 1:
            raise ValueError("listed files belong to one folder input, their root")
        object.__setattr__(self, "overwrite", Overwrite(self.overwrite))
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, not {self.workers}")
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, not {self.retries}")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {self.timeout_s}")
        if self.halt_after is not None:
            parse_halt(self.halt_after)
        if self.name_template is not None:
            from batchmill.core.naming import check_template

            check_template(self.name_template)
        if self.scheduler and self.backend == "local":
            object.__setattr__(self, "backend", "dask")
        if self.provenance not in PROVENANCE_MODES:
            raise ValueError(f"provenance must be one of {', '.join(PROVENANCE_MODES)}, not {self.provenance!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if not self.name:
            names = ", ".join(Path(p).name or p for p in self.inputs[:3])
            more = f" +{len(self.inputs) - 3}" if len(self.inputs) > 3 else ""
            object.__setattr__(self, "name", f"{self.processor}: {names}{more}")

    def to_json(self) -> str:
        data = asdict(self)
        data["overwrite"] = self.overwrite.value
        return json.dumps(data, sort_keys=True, default=_plain)

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        data = json.loads(text)
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def sidecars(self) -> bool:
        """Each output gets a provenance sidecar (``--provenance sidecar``)."""
        return self.provenance == "sidecar"

    def with_changes(self, **changes: Any) -> JobSpec:
        return replace(self, **changes)


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} in a job's parameters cannot be saved as JSON: {value!r}")


def parse_halt(text: str) -> tuple[int | None, float | None]:
    """``"5"`` -> (5, None); ``"10%"`` -> (None, 10.0). Raises ValueError with a clear message."""
    raw = text.strip()
    try:
        if raw.endswith("%"):
            pct = float(raw[:-1])
            if not 0 < pct <= 100:
                raise ValueError
            return None, pct
        count = int(raw)
        if count < 1:
            raise ValueError
        return count, None
    except ValueError:
        raise ValueError(
            f"--halt-after takes a number of failures (e.g. 5) or a percentage (e.g. 10%), not {text!r}"
        ) from None
