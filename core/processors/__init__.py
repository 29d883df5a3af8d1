"""Processor registry: the built-ins, plus third-party ones from the entry-point group
``batchmill.processors`` (each entry point names a Processor subclass or instance)."""

from __future__ import annotations

from batchmill.core.processors.base import Param, ParamError, Processor, RootOutput

ENTRY_POINT_GROUP = "batchmill.processors"

__all__ = ["Param", "ParamError", "Processor", "RootOutput", "all_processors", "get_processor", "UnknownProcessor"]


class UnknownProcessor(LookupError):
    pass


def _builtins() -> list[Processor]:
    from batchmill.core.processors.checksum import ChecksumProcessor
    from batchmill.core.processors.command import CommandProcessor
    from batchmill.core.processors.image import ImageProcessor
    from batchmill.core.processors.python_script import PythonProcessor

    return [ChecksumProcessor(), ImageProcessor(), CommandProcessor(), PythonProcessor()]


def _plugins() -> tuple[list[Processor], list[str]]:
    from importlib.metadata import entry_points  # ~15 ms of imports and a scan of every installed package

    found: list[Processor] = []
    problems: list[str] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            proc = obj() if isinstance(obj, type) else obj
            if not isinstance(proc, Processor):
                raise TypeError(f"{ep.value} is not a batchmill Processor")
            found.append(proc)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the app
            problems.append(f"processor plugin {ep.name!r} ({ep.value}) could not be loaded: {exc}")
    return found, problems


def all_processors() -> dict[str, Processor]:
    return _add_plugins({p.name: p for p in _builtins()})


def _add_plugins(registry: dict[str, Processor]) -> dict[str, Processor]:
    """Plugins join the registry; a built-in wins over a plugin of the same name."""
    plugins, _ = _plugins()
    for proc in plugins:
        registry.setdefault(proc.name, proc)
    return registry


def plugin_problems() -> list[str]:
    return _plugins()[1]


def get_processor(name: str) -> Processor:
    registry = {p.name: p for p in _builtins()}
    if name not in registry:
        # Only a name that is no built-in needs the scan of the installed packages: the CLI
        # starts faster and workers never scan.
        registry = _add_plugins(registry)
    try:
        return registry[name]
    except KeyError:
        raise UnknownProcessor(
            f"unknown processor {name!r}; available: {', '.join(sorted(registry))}"
        ) from None
