"""``function``: a Python callable handed to ``batchmill.run()`` or ``batchmill.submit()``.

The callable — a lambda, a closure over a tool's parameters, a function of the host's
``__main__`` — travels to the workers by value (dill), like a ``python`` script's function,
inside a ``UserFunction``; it is called ``fn(src, dst, **params)`` (plus ``context=`` if it
declares one). The job is journaled like any other: its payload is what ``resume`` and
``retry`` run, so they need neither the callable nor the program that made the job.

From the command line or the window this processor cannot be started (there is no callable
to give it); the registry knows it only so that journaled jobs can be resumed.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from batchmill.core.payload import PayloadError, dumps_checked, payload_key
from batchmill.core.processors.base import ParamError, Processor
from batchmill.core.processors.python_script import UserFunction

NAME = "function"


class FunctionProcessor(Processor):
    name = NAME
    description = ("A Python function given to batchmill.run() or batchmill.submit(); "
                   "its jobs resume and retry from the journal.")

    def __init__(self, fn: Callable[..., Any] | None = None, kwargs: Mapping[str, Any] | None = None) -> None:
        self.fn = fn
        self.kwargs = dict(kwargs or {})

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Checks the call ``fn(src, dst, **params)`` and ships the function; ParamError or
        PayloadError name what is wrong."""
        if self.fn is None:
            raise ParamError(f"processor {NAME!r} runs a Python function given to batchmill.run() or "
                             "batchmill.submit() and cannot be started by name; for a function in a .py file "
                             "use the 'python' processor")
        wants_context = check_call(self.fn, self.kwargs)
        what = f"function {describe(self.fn)}"
        payload = dumps_checked(self.fn, what)
        check_importable(self.fn, payload, what)
        user = UserFunction(source_folder(self.fn), payload, self.kwargs, wants_context)
        return {"function": describe(self.fn), "_user": user, "_key": payload_key(payload)}

    def task(self, params: Mapping[str, Any]) -> UserFunction:
        user: UserFunction = params["_user"]
        return user

    def identity(self, params: Mapping[str, Any]) -> str:
        return f"{NAME}:{params['function']}:{params['_key'][:12]}"

    def restore(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """A resumed job runs its journaled payload; the callable is not needed."""
        return {"function": str(raw.get("function", ""))}


def describe(fn: Callable[..., Any]) -> str:
    """``module.qualname`` of a callable, for people (``tool.<locals>.<lambda>``)."""
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}.{name}"


def check_call(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> bool:
    """Raises ParamError unless ``fn(src, dst, **kwargs)`` is a call ``fn`` accepts. Returns
    whether it declares ``context`` (then it gets the processor context as well)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have none: the first file will tell
        return False
    wants_context = "context" in signature.parameters and "context" not in kwargs
    extra = {"context": None} if wants_context else {}
    try:
        signature.bind(Path("src"), Path("dst"), **kwargs, **extra)
    except TypeError as exc:
        raise ParamError(f"function {describe(fn)} cannot be called as fn(src, dst"
                         f"{''.join(f', {k}=…' for k in kwargs)}): {exc}") from None
    return wants_context


def check_importable(fn: Callable[..., Any], payload: bytes, what: str) -> None:
    """A function shipped by reference must be importable in a worker by its module's name.
    A host that loads a tool's module under a name of its own (a toolbox file loaded with
    importlib) has it in ``sys.modules`` only; a worker would fail on every file."""
    if b"dill._dill" in payload:
        return  # by value: nothing to import
    module = getattr(fn, "__module__", None)
    if not module or module in sys.modules and _findable(module.partition(".")[0]):
        return
    raise PayloadError(f"{what} belongs to the module {module!r}, which worker processes cannot import (it "
                       "was not loaded from sys.path); define the function in the script that calls Batchmill, "
                       "or make its module importable")


def _findable(top: str) -> bool:
    if top in sys.builtin_module_names:
        return True
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        try:
            if find_spec is not None and find_spec(top, None) is not None:
                return True
        except (ImportError, ValueError):
            continue
    return False


def source_folder(fn: Callable[..., Any]) -> str:
    """The folder of the file that defines ``fn`` (its helper modules import in the workers
    too), or "" when it was not defined in a file."""
    code = getattr(fn, "__code__", None)
    filename = getattr(code, "co_filename", "") if code is not None else ""
    return os.path.dirname(os.path.abspath(filename)) if filename and os.path.isfile(filename) else ""
