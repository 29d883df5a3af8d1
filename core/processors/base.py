"""What a processor is: a per-file function plus typed, declared parameters.

The declarations drive both the CLI (``--param K=V`` parsing and
``batchmill processors``) and the GUI's generated form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchmill.core.context import ProcessorContext

TaskFn = Callable[[Path, "Path | None", ProcessorContext], Any]
TRUE_WORDS = {"1", "true", "yes", "on", "y"}
FALSE_WORDS = {"0", "false", "no", "off", "n"}


class ParamError(ValueError):
    """A parameter value that cannot be used; the message names the parameter."""


@dataclass(frozen=True)
class Param:
    name: str
    type: type
    default: Any = None
    choices: tuple[str, ...] = ()
    help: str = ""
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None

    @property
    def type_name(self) -> str:
        return "choice" if self.choices else self.type.__name__

    def convert(self, raw: Any) -> Any:
        """Convert a value from the CLI (a string) or the GUI (typed) and check it."""
        value = convert_value(self.name, self.type, raw)
        if self.choices and value not in self.choices:
            raise ParamError(f"parameter {self.name!r} must be one of {', '.join(self.choices)}; got {raw!r}")
        if self.minimum is not None and value < self.minimum:
            raise ParamError(f"parameter {self.name!r} must be at least {self.minimum:g}; got {raw!r}")
        if self.maximum is not None and value > self.maximum:
            raise ParamError(f"parameter {self.name!r} must be at most {self.maximum:g}; got {raw!r}")
        return value


def convert_value(name: str, kind: type, raw: Any) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ParamError(f"parameter {name!r} must be true or false; got {raw!r}")
    if kind in (int, float):
        if isinstance(raw, bool):
            raise ParamError(f"parameter {name!r} must be a number; got {raw!r}")
        try:
            return kind(raw)
        except (TypeError, ValueError):
            noun = "a whole number" if kind is int else "a number"
            raise ParamError(f"parameter {name!r} must be {noun}; got {raw!r}") from None
    if kind is Path:
        return Path(raw).expanduser()
    if kind is str:
        return str(raw)
    try:
        return kind(raw)
    except Exception as exc:  # noqa: BLE001 - any constructor; re-raised with the parameter's name
        raise ParamError(f"parameter {name!r} could not be read as {kind.__name__}: {exc}") from None


@dataclass(frozen=True)
class RootOutput:
    """One input as given by the operator, and where its outputs go."""

    index: int
    input: Path
    is_dir: bool
    output: Path  # OUTPUT/X.name for a folder, OUTPUT for a single file


class Processor:
    """Base of every processor. Subclasses set the class attributes and override ``task``."""

    name: str = ""
    description: str = ""
    params: tuple[Param, ...] = ()
    makes_file_outputs: bool = True
    # Part of what an output was made with (batchmill.core.provenance): raise it when the same
    # input and parameters would now give another output, and --overwrite changed redoes them.
    version: str = "1"

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Check and convert parameters; unknown names and bad values raise ParamError."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            choices = ", ".join(known) or "none"
            raise ParamError(f"processor {self.name!r} has no parameter {unknown[0]!r} (it takes: {choices})")
        values: dict[str, Any] = {}
        for param in self.params:
            if param.name in raw:
                values[param.name] = param.convert(raw[param.name])
            elif param.required:
                raise ParamError(f"processor {self.name!r} needs the parameter {param.name!r} ({param.help})")
            else:
                values[param.name] = param.default
        return values

    def task(self, params: Mapping[str, Any]) -> TaskFn:
        """The per-file callable shipped to the workers (with dill)."""
        raise NotImplementedError

    def output_name(self, params: Mapping[str, Any], name: str) -> str | None:
        """Output file name for an input named ``name``; None if this processor makes none."""
        return name if self.makes_file_outputs else None

    def finalize(self, params: Mapping[str, Any], roots: list[RootOutput],
                 results: Iterator[tuple[int, str, Any]], overwrite: str) -> list[str]:
        """Write aggregate outputs after every file ran, from ``(root index, input path, result)``
        of each file done, sorted by root index and input path. Returns log lines for the operator."""
        return []

    def identity(self, params: Mapping[str, Any]) -> str:
        """Names the processor in the journal (user code adds the hash of its payload)."""
        return self.name


def restore_params(processor: Processor, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters of a journaled job, for planning and finalizing only (the payload is journaled)."""
    restore = getattr(processor, "restore", None)
    return restore(raw) if restore is not None else processor.validate(raw)
