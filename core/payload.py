"""Serializing processors for the workers with dill, and naming what will not serialize."""

from __future__ import annotations

import hashlib
import pickle
from typing import Any


class PayloadError(ValueError):
    """The processor cannot be shipped to the workers; the message names the culprit."""


# A payload naming one of these modules refers to code the workers may not be able to import.
_LOCAL_MODULES = (b"__main__", b"__mp_main__", b"__batchmill_script__")


def dumps_checked(obj: Any, what: str) -> bytes:
    """The processor's bytes for the workers, or a PayloadError that names what cannot be pickled.

    Code the workers can import (the built-in processors, plugins) goes by reference with the
    standard pickle, so a worker need not even import dill; everything else — lambdas, closures,
    a script's functions — by value with ``dill.dumps(obj, recurse=True)``. Workers load both
    with ``pickle.loads``, which imports dill when a payload needs it."""
    try:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        if not any(name in data for name in _LOCAL_MODULES):
            return data
    except Exception:  # noqa: BLE001, S110 - not picklable by reference: dill ships it by value
        pass
    import dill

    try:
        return dill.dumps(obj, recurse=True)
    except Exception as exc:  # noqa: BLE001 - pickling raises many types
        culprits = _culprits(obj)
        detail = f"; the problem is {culprits}" if culprits else ""
        raise PayloadError(f"{what} cannot be sent to the worker processes: {type(exc).__name__}: {exc}{detail}") from None


def _culprits(obj: Any) -> str:
    """Name the closure variables and globals of a function that dill cannot pickle."""
    import dill
    import dill.detect

    if not callable(obj):
        return ""
    found: list[str] = []
    try:
        variables = [("variable", dill.detect.freevars(obj)), ("global", dill.detect.globalvars(obj, recurse=True))]
        for label, mapping in variables:
            for name, value in mapping.items():
                if not dill.pickles(value):
                    found.append(f"the {label} {name!r} = {value!r}")
    except Exception:  # noqa: BLE001 - detection is best effort; the main error is still reported
        return ""
    return ", ".join(found[:3])


def payload_key(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()
