"""``python``: run the operator's own function, from a .py file, on every file.

The function is loaded here, in the main process, and shipped to the workers
by value with ``dill.dumps(fn, recurse=True)``: it never has to be importable
by them. Its contract: ``process(src: Path, dst: Path, **params)`` reads
``src`` and writes ``dst`` (a temporary path, renamed into place when the
function returns); a JSON-able return value is recorded with the file's result;
a parameter named ``context`` receives the ProcessorContext.
"""

from __future__ import annotations

import inspect
import os
import runpy
import sys
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from batchmill.core.context import ProcessorContext
from batchmill.core.payload import PayloadError, dumps_checked
from batchmill.core.processors.base import Param, ParamError, Processor, convert_value

FIXED_ARGS = ("src", "dst", "context")
SCRIPT_RUN_NAME = "__batchmill_script__"
_LOADING: set[str] = set()  # scripts whose body is running now, to find their function


class UserFunction:
    """The user's function as dill bytes, loaded in the worker on first call.

    Loading lazily lets the script's own folder go on ``sys.path`` first, so a
    helper module sitting next to the script imports in the worker too."""

    def __init__(self, script_dir: str, payload: bytes, kwargs: dict[str, Any], wants_context: bool) -> None:
        self.script_dir = script_dir
        self.payload = payload
        self.kwargs = kwargs
        self.wants_context = wants_context
        self._fn: Callable[..., Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fn": None}

    def __call__(self, src: Path, dst: Path | None, context: ProcessorContext) -> Any:
        if self._fn is None:
            import dill

            if self.script_dir and self.script_dir not in sys.path:
                sys.path.insert(0, self.script_dir)
            self._fn = dill.loads(self.payload)
        if self.wants_context:
            return self._fn(src, dst, context=context, **self.kwargs)
        return self._fn(src, dst, **self.kwargs)


def load_function(script: Path, function: str) -> Callable[..., Any]:
    """Run the script (as a module nobody can import) and return its function."""
    if not script.is_file():
        raise ParamError(f"script {script} does not exist or is not a file")
    resolved = str(script.resolve())
    if resolved in _LOADING:
        # Its body, run to find the function, starts a job with itself again: it would recurse for ever.
        raise ParamError(f"script {script} starts a Batchmill job with itself while it is loaded to find its "
                         f"function {function!r}; put the script's own work under  if __name__ == \"__main__\":")
    script_dir = str(script.resolve().parent)
    added = script_dir not in sys.path
    if added:
        sys.path.insert(0, script_dir)
    _LOADING.add(resolved)
    try:
        namespace = runpy.run_path(str(script), run_name=SCRIPT_RUN_NAME)
    except SyntaxError as exc:
        raise ParamError(f"script {script} has a syntax error on line {exc.lineno}: {exc.msg}") from None
    except BaseException as exc:  # noqa: BLE001 - the user's module code can raise anything
        raise ParamError(f"script {script} failed while loading: {type(exc).__name__}: {exc}") from None
    finally:
        _LOADING.discard(resolved)
        if added:
            sys.path.remove(script_dir)
    fn = namespace.get(function)
    if fn is None:
        names = sorted(k for k, v in namespace.items() if inspect.isfunction(v) and not k.startswith("_"))
        raise ParamError(f"script {script} has no function {function!r} (it defines: {', '.join(names) or 'none'})")
    if not callable(fn):
        raise ParamError(f"{function!r} in script {script} is not a function")
    return fn


def function_params(fn: Callable[..., Any]) -> tuple[Param, ...]:
    """The keyword parameters of a user function, typed from its hints (for CLI and GUI)."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable hints just mean "no conversion"
        hints = {}
    params = []
    positional = 0
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and positional < 2 and p.name != "context":
            positional += 1  # src and dst
            continue
        if p.name == "context":
            continue
        kind, choices = _kind_of(hints.get(p.name), p.default)
        required = p.default is inspect.Parameter.empty
        params.append(Param(p.name, kind, None if required else p.default, choices, "", required))
    return tuple(params)


def _kind_of(hint: Any, default: Any) -> tuple[type, tuple[str, ...]]:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return str, tuple(str(a) for a in typing.get_args(hint))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _kind_of(args[0] if args else None, default)
    if isinstance(hint, type) and hint in (int, float, bool, str, Path):
        return hint, ()
    if default is not inspect.Parameter.empty and default is not None and type(default) in (int, float, bool, str):
        return type(default), ()
    return str, ()


class PythonProcessor(Processor):
    name = "python"
    description = ("Run your own Python function on every file: process(src, dst, **params) "
                   "from a .py file. Other --param values are passed to it as keyword arguments.")
    params = (
        Param("script", Path, None, (), "Path to the .py file that defines the function.", required=True),
        Param("function", str, "process", (), "Name of the function to call for each file."),
    )

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        if "script" not in raw or not str(raw["script"]).strip():
            raise ParamError("processor 'python' needs the parameter 'script' (path to a .py file)")
        script = Path(str(raw["script"])).expanduser().absolute()
        function = str(raw.get("function", "process"))
        fn = load_function(script, function)
        extras = {k: v for k, v in raw.items() if k not in ("script", "function")}
        kwargs = _convert_kwargs(fn, extras, script, function)
        try:
            payload = dumps_checked(fn, f"function {function!r} of {script}")
        except PayloadError as exc:
            raise ParamError(str(exc)) from None
        wants_context = "context" in inspect.signature(fn).parameters
        user = UserFunction(str(script.parent), payload, kwargs, wants_context)
        return {"script": str(script), "function": function, "kwargs": kwargs, "_user": user}

    def task(self, params: Mapping[str, Any]) -> UserFunction:
        return params["_user"]

    def identity(self, params: Mapping[str, Any]) -> str:
        return f"python:{params['script']}:{params['function']}"

    def restore(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """A resumed job runs its journaled payload; the script need not exist any more."""
        return {"script": str(raw.get("script", "")), "function": str(raw.get("function", "process"))}


def _convert_kwargs(fn: Callable[..., Any], extras: Mapping[str, Any], script: Path, function: str) -> dict[str, Any]:
    declared = {p.name: p for p in function_params(fn)}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(fn).parameters.values())
    kwargs: dict[str, Any] = {}
    for key, raw in extras.items():
        param = declared.get(key)
        if param is None:
            if not takes_any:
                raise ParamError(
                    f"function {function!r} in {script} takes no parameter {key!r} "
                    f"(it takes: {', '.join(declared) or 'none'})")
            kwargs[key] = raw
            continue
        kwargs[key] = param.convert(raw) if not param.choices else _choice(param, raw)
    missing = [p.name for p in declared.values() if p.required and p.name not in kwargs]
    if missing:
        raise ParamError(f"function {function!r} in {script} needs --param {missing[0]}=VALUE")
    return kwargs


def _choice(param: Param, raw: Any) -> Any:
    value = convert_value(param.name, param.type, raw)
    if str(value) not in param.choices:
        raise ParamError(f"parameter {param.name!r} must be one of {', '.join(param.choices)}; got {raw!r}")
    return value


def script_processor_name(script: Path, function: str = "process") -> str:
    return f"{os.path.splitext(script.name)[0]}.{function}"



