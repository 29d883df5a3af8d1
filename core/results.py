"""A processor's return value in its journal form, made in the worker.

The journal keeps each file's result as JSON. Converting it there, in the engine thread,
let one bad value end a whole job: JSON that cannot be written (a dict with tuple keys), an
object the main process cannot even unpickle (a class from a module only the worker
imported), or a 200 MB value written whole into the journal. So the worker converts the value
itself, before it leaves: what crosses the pipe is plain JSON data (dicts, lists, str, numbers,
bools, None), the main process never unpickles a user's type, and a value that cannot be
recorded fails its own file, saying why.

The form: a JSON value as it is; any other object as its ``repr()`` (as the journal always
kept it), once it is known to be picklable — an object that is not fails as it always has
("could not be sent back"). The cap: ``BATCHMILL_MAX_RESULT_BYTES`` (default 1 MiB) on the
size of the JSON text, read by each worker when it starts.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import traceback
from typing import Any

from batchmill.core.messages import Failure, FailureKind

MAX_RESULT_ENV = "BATCHMILL_MAX_RESULT_BYTES"
DEFAULT_MAX_RESULT_BYTES = 1 << 20
_SCALARS = (type(None), bool, int, float)
# CPython converts an int of more than this many digits to text only if told to (a limit of the
# process, not of the value: a worker's processor may raise it, the engine's never does).
_INT_DIGITS = 4300
_INT_BITS = 14_284  # an int of at most this many bits has at most _INT_DIGITS digits
_ESCAPED_CHAR = 6  # the longest a character can become in JSON text: \uXXXX


def max_result_bytes() -> int:
    """The cap on a result's JSON text, from the environment (a bad value falls back to the default)."""
    text = os.environ.get(MAX_RESULT_ENV, "")
    try:
        value = int(text)
    except ValueError:
        return DEFAULT_MAX_RESULT_BYTES
    return value if value > 0 else DEFAULT_MAX_RESULT_BYTES


class _TooLarge(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class _Unpicklable(Exception):
    def __init__(self, value: object, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.value, self.cause = value, cause


def journal_form(value: Any, cap: int, _made_finite: bool = False) -> tuple[Any, Failure | None]:
    """``value`` as the journal will keep it, or the Failure that says why it cannot be."""
    kind = type(value)
    if kind in _SCALARS:
        if kind is int and value.bit_length() > _INT_BITS:  # str() of it raises in the engine
            return None, _unrecordable(ValueError(f"an int of {value.bit_length():,} bits has more than "
                                                  f"{_INT_DIGITS:,} digits, more than JSON text of it may have"))
        if kind is float and not math.isfinite(value):  # JSON has no NaN or Infinity: kept as its repr
            return repr(value), None
        return value, None
    if kind is str:
        if len(value) * _ESCAPED_CHAR <= cap or len(json.dumps(value)) <= cap:
            return value, None
        return None, _too_large(f"str of {len(value):,} characters", cap)
    try:
        text = json.dumps(value, default=_Leaves(cap), allow_nan=False)
    except _TooLarge as exc:
        return None, _too_large(exc.what, cap)
    except _Unpicklable as exc:
        return None, _unpicklable(exc.value, exc.cause)
    except ValueError as exc:  # a value that contains itself: kept as its repr, as the journal did
        if "Out of range float" in str(exc) and not _made_finite:  # NaN or Infinity inside: each as its repr
            try:
                finite = _finite(value, set())
            except _Circular:
                return _repr_form(value, cap)
            except RecursionError as deep:
                return None, _unrecordable(deep)
            return journal_form(finite, cap, _made_finite=True)
        if "Circular reference" not in str(exc):
            return None, _unrecordable(exc)
        return _repr_form(value, cap)
    except Exception as exc:  # noqa: BLE001 - json and a repr() can raise anything
        return None, _unrecordable(exc)
    if len(text) > cap:
        return None, _too_large(f"{kind.__name__} of {len(text):,} bytes as JSON", cap)
    return json.loads(text), None


class _Circular(Exception):
    pass


def _finite(value: Any, inside: set[int]) -> Any:
    """``value`` with every NaN and Infinity in its dicts, lists and tuples as its repr (text);
    ``inside``: the containers being walked, so one that contains itself is found (_Circular)."""
    if isinstance(value, float):  # numpy.float64 too: json writes a float's subclasses as floats
        return value if math.isfinite(value) else repr(float(value))
    if not isinstance(value, (dict, list, tuple)):
        return value
    if id(value) in inside:
        raise _Circular
    inside.add(id(value))
    try:
        if isinstance(value, dict):
            return {_finite(k, inside): _finite(v, inside) for k, v in value.items()}
        return [_finite(v, inside) for v in value]
    finally:
        inside.discard(id(value))


class _Leaves:
    """json's ``default``: what an object JSON has no form for becomes — its repr."""

    def __init__(self, cap: int) -> None:
        self.cap = cap

    def __call__(self, obj: object) -> str:
        if isinstance(obj, (bytes, bytearray, memoryview)) and len(obj) > self.cap:
            raise _TooLarge(f"{type(obj).__name__} of {len(obj):,} bytes")  # before a repr 4 times larger
        try:
            pickle.dumps(obj)
        except Exception as exc:  # noqa: BLE001 - pickle raises many types
            raise _Unpicklable(obj, exc) from exc
        text = repr(obj)
        if len(text) > self.cap:
            raise _TooLarge(f"{type(obj).__name__} whose repr is {len(text):,} characters")
        return text


def _repr_form(value: object, cap: int) -> tuple[Any, Failure | None]:
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001
        return None, _unrecordable(exc)
    if len(text) > cap:
        return None, _too_large(f"{type(value).__name__} whose repr is {len(text):,} characters", cap)
    return text, None


def _too_large(what: str, cap: int) -> Failure:
    return Failure(FailureKind.UNRECORDABLE_RESULT,
                   f"the processor's return value is too large to record: {what} (the cap is {cap:,} bytes "
                   f"of JSON; {MAX_RESULT_ENV} sets it)")


def _unrecordable(exc: BaseException) -> Failure:
    return Failure(FailureKind.UNRECORDABLE_RESULT,
                   f"the processor's return value cannot be recorded: {exc}",
                   "".join(traceback.format_exception(exc)))


def _unpicklable(value: object, exc: BaseException) -> Failure:
    return Failure(FailureKind.UNPICKLABLE_RESULT,
                   f"the processor's return value could not be sent back (not picklable): "
                   f"{type(value).__name__}: {type(exc).__name__}: {exc}",
                   "".join(traceback.format_exception(exc)))
