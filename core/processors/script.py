"""A user's .py file as a processor of its own (dropped on the window, or *Load script…*).

Its function's keyword parameters become the form (types from the hints,
defaults from the signature, help from the docstring); running it is the
``python`` processor with ``script`` and ``function`` filled in, so the
function still travels to the workers by value with dill."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from batchmill.core.processors.base import Param, ParamError, Processor
from batchmill.core.processors.python_script import PythonProcessor, function_params, load_function

_SPHINX = re.compile(r"^\s*:param\s+(?:\w+\s+)?(\w+):\s*(.+)$")
_GOOGLE = re.compile(r"^\s{2,}(\w+)\s*(?:\([^)]*\))?:\s*(.+)$")


class ScriptProcessor(Processor):
    """``process(src, dst, *, size: int = 256, ...)`` from a script, as a processor with a form."""

    def __init__(self, script: Path, function: str = "process") -> None:
        self.script = script.expanduser().absolute()
        self.function = function
        fn = load_function(self.script, function)
        doc = inspect.getdoc(fn) or ""
        summary = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
        self.name = f"{self.script.stem}.{function}"
        self.description = summary or f"{function}() from {self.script.name}"
        helps = param_help(doc)
        self.params = tuple(replace(p, help=helps.get(p.name, p.help)) for p in function_params(fn))
        self._python = PythonProcessor()

    def spec_params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """What a JobSpec carries to run this: the ``python`` processor's parameters."""
        return {"script": str(self.script), "function": self.function,
                **{k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()}}

    @property
    def processor_name(self) -> str:
        return self._python.name

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return self._python.validate(self.spec_params(raw))

    def task(self, params: Mapping[str, Any]) -> Callable[..., Any]:
        return self._python.task(params)


def param_help(doc: str) -> dict[str, str]:
    """``name -> help`` from a Google-style ``Args:`` section or Sphinx ``:param name:`` lines."""
    helps: dict[str, str] = {}
    in_args = False
    for line in doc.splitlines():
        if match := _SPHINX.match(line):
            helps[match.group(1)] = match.group(2).strip()
            continue
        stripped = line.strip()
        if stripped.rstrip(":").lower() in ("args", "arguments", "parameters", "params", "keyword arguments"):
            in_args = True
            continue
        if in_args:
            if stripped and not line.startswith((" ", "\t")):
                in_args = False
            elif match := _GOOGLE.match("  " + line.lstrip() if line.startswith((" ", "\t")) else line):
                helps[match.group(1)] = match.group(2).strip()
    return helps


def load_script_processor(script: Path, function: str = "process") -> ScriptProcessor:
    """Raises ParamError with a message naming the script and the problem."""
    try:
        return ScriptProcessor(script, function)
    except ParamError:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken script must say so, not crash the window
        raise ParamError(f"script {script} cannot be used as a processor: {type(exc).__name__}: {exc}") from None


__all__ = ["Param", "ScriptProcessor", "load_script_processor", "param_help"]
