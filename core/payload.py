"""Serializing processors for the workers with dill, and naming what will not serialize."""

from __future__ import annotations

import hashlib
import io
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
    import dill  # type: ignore[import-untyped]

    try:
        return bytes(dill.dumps(obj, recurse=True))
    except Exception as exc:  # noqa: BLE001 - pickling raises many types
        culprits = _culprits(obj)
        detail = f"; the problem is {culprits}" if culprits else ""
        raise PayloadError(f"{what} cannot be sent to the worker processes: {type(exc).__name__}: {exc}{detail}") from None


def _culprits(obj: Any) -> str:
    """Name the closure variables and globals of a function that dill cannot pickle."""
    import dill
    import dill.detect  # type: ignore[import-untyped]

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


# Batchmill's packages before 0.2, when they were installed at the top level of site-packages.
LEGACY_PACKAGES = ("core", "gui")


def translate_legacy(payload: bytes) -> bytes:
    """A payload journaled before 0.2, made to refer to the packages by their names now.

    Then ``core.processors.checksum.FileHasher`` was Batchmill's own (its ``core`` shadowed
    any other), and is ``batchmill.core.processors.checksum.FileHasher`` now. Only payloads
    of jobs made before 0.2 are translated (see JobRecord.created_by): in a newer one,
    ``core`` is whatever the user's own code meant by it. A processor that keeps a payload
    of its own (the ``python`` processor's UserFunction holds the user's function as dill
    bytes) has that translated too. Raises PayloadError if the payload cannot be read."""
    if not any(name.encode() in payload for name in LEGACY_PACKAGES):
        return payload
    try:
        obj = _LegacyUnpickler(io.BytesIO(payload)).load()
        inner = getattr(obj, "payload", None)
        if isinstance(inner, bytes):
            obj.payload = _translate_dill(inner)
    except Exception as exc:  # noqa: BLE001 - unpickling raises many types
        raise PayloadError(f"the journaled processor could not be read: {type(exc).__name__}: {exc}") from None
    return dumps_checked(obj, "the journaled processor")


def current_module(name: str) -> str:
    """The module a legacy payload's ``name`` refers to now (``core.x`` -> ``batchmill.core.x``)."""
    if name.partition(".")[0] not in LEGACY_PACKAGES:
        return name
    import importlib.util

    renamed = f"batchmill.{name}"
    try:
        return renamed if importlib.util.find_spec(renamed) is not None else name
    except ImportError:
        return name


class _LegacyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(current_module(module), name)


def _translate_dill(data: bytes) -> bytes:
    if not any(name.encode() in data for name in LEGACY_PACKAGES):
        return data
    import dill
    import dill._dill  # type: ignore[import-untyped]

    class LegacyDillUnpickler(dill.Unpickler):  # type: ignore[misc]
        def find_class(self, module: str, name: str) -> Any:
            if (module, name) == ("dill._dill", "_import_module"):
                return _import_current  # modules pickled by name (dill's save_module)
            return super().find_class(current_module(module), name)

    def _import_current(import_name: str, safe: bool = False) -> Any:
        return dill._dill._import_module(current_module(import_name), safe)

    obj = LegacyDillUnpickler(io.BytesIO(data)).load()
    return bytes(dill.dumps(obj, recurse=True))
