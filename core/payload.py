"""Serializing processors for the workers with dill, and naming what will not serialize."""

from __future__ import annotations

import hashlib
from typing import Any


class PayloadError(ValueError):
    """The processor cannot be shipped to the workers; the message names the culprit."""


def dumps_checked(obj: Any, what: str) -> bytes:
    """``dill.dumps(obj, recurse=True)``, or a PayloadError that names what cannot be pickled."""
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
