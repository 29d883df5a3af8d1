"""Processor registry: the built-ins, plus third-party ones from the entry-point group
``batchmill.processors`` (each entry point names a Processor subclass or instance).

The plugin contract (README, "Plugins"): the entry point is named after the processor; it
names a ``batchmill.Processor`` subclass that takes no constructor arguments (or an
instance); ``name`` is a word, ``params`` a tuple of ``batchmill.Param``, and ``task()`` is
its own. A plugin that breaks it is left out of the lists with a warning naming it, and a job
asking for it by name is refused with that message (``batchmill run`` exits 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from batchmill.core.processors.base import Param, ParamError, Processor, RootOutput

ENTRY_POINT_GROUP = "batchmill.processors"

__all__ = ["Param", "ParamError", "Processor", "RootOutput", "all_processors", "get_processor", "UnknownProcessor",
           "BrokenPlugin", "PluginProblem", "plugin_problems"]


class UnknownProcessor(LookupError):
    pass


class BrokenPlugin(UnknownProcessor):
    """The processor asked for is a plugin that could not be loaded; the message names it and why."""


@dataclass(frozen=True)
class PluginProblem:
    name: str  # the entry point's name: the processor's name as its users type it
    value: str  # what the entry point points at, "module:attribute"
    reason: str

    def __str__(self) -> str:
        return f"processor plugin {self.name!r} ({self.value}) could not be loaded: {self.reason}"


def _builtins() -> list[Processor]:
    from batchmill.core.processors.checksum import ChecksumProcessor
    from batchmill.core.processors.command import CommandProcessor
    from batchmill.core.processors.image import ImageProcessor
    from batchmill.core.processors.python_script import PythonProcessor
    from batchmill.core.processors.raster import RasterProcessor

    return [ChecksumProcessor(), ImageProcessor(), RasterProcessor(), CommandProcessor(), PythonProcessor()]


def _journal_only() -> dict[str, Processor]:
    """Processors that are never offered (nothing to start them with from a list) but whose
    journaled jobs resume and retry: a function handed to batchmill.run()."""
    from batchmill.core.processors.function import FunctionProcessor

    return {FunctionProcessor.name: FunctionProcessor()}


def _plugins() -> tuple[list[Processor], list[PluginProblem]]:
    from importlib.metadata import entry_points  # ~15 ms of imports and a scan of every installed package

    found: list[Processor] = []
    problems: list[PluginProblem] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            proc = obj() if isinstance(obj, type) and issubclass(obj, Processor) else obj
            contract_problem(ep.name, proc)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the app; it is named
            reason = str(exc) if isinstance(exc, PluginContractError) else f"{type(exc).__name__}: {exc}"
            problems.append(PluginProblem(ep.name, ep.value, reason))
            continue
        found.append(proc)
    return found, problems


class PluginContractError(TypeError):
    """A plugin's object is not what the contract asks for; the message says what is missing."""


def contract_problem(entry_name: str, proc: object) -> None:
    """Raises PluginContractError unless ``proc`` keeps the plugin contract."""
    if not isinstance(proc, Processor):
        raise PluginContractError(f"it is a {type(proc).__name__}, not a batchmill.Processor subclass or instance")
    name = getattr(proc, "name", None)
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise PluginContractError(f"its name must be a word (the processor's name on the command line), "
                                  f"not {name!r}")
    if name != entry_name:
        raise PluginContractError(f"its processor is named {name!r}; the entry point must have the same name")
    if type(proc).task is Processor.task:
        raise PluginContractError("it does not define task(params), the function run on every file")
    params = getattr(proc, "params", None)
    if not isinstance(params, (tuple, list)) or not all(isinstance(p, Param) for p in params):
        raise PluginContractError("its params must be a tuple of batchmill.Param")
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise PluginContractError(f"it declares a parameter twice: {sorted(n for n in names if names.count(n) > 1)}")


def all_processors() -> dict[str, Processor]:
    """Every processor that can be offered to a person: built-ins, then working plugins."""
    return _add_plugins({p.name: p for p in _builtins()})


def _add_plugins(registry: dict[str, Processor]) -> dict[str, Processor]:
    """Plugins join the registry; a built-in wins over a plugin of the same name."""
    plugins, _ = _plugins()
    for proc in plugins:
        registry.setdefault(proc.name, proc)
    return registry


def plugin_problems() -> list[PluginProblem]:
    """Plugins that could not be loaded, and plugins a built-in of the same name hides."""
    plugins, problems = _plugins()
    builtins = {p.name for p in _builtins()} | set(_journal_only())
    hidden = [PluginProblem(p.name, type(p).__module__, f"a built-in processor is named {p.name!r} too and is used "
                                                        "instead") for p in plugins if p.name in builtins]
    return problems + hidden


def get_processor(name: str) -> Processor:
    """The processor called ``name``. Raises UnknownProcessor, or BrokenPlugin naming a plugin
    of that name that could not be loaded."""
    registry = {p.name: p for p in _builtins()} | _journal_only()
    if name in registry:
        return registry[name]
    # Only a name that is no built-in needs the scan of the installed packages: the CLI
    # starts faster and workers never scan.
    plugins, problems = _plugins()
    for proc in plugins:
        if proc.name == name:
            return proc
    for problem in problems:
        if problem.name == name:
            raise BrokenPlugin(str(problem))
    available = sorted({p.name for p in _builtins()} | {p.name for p in plugins})
    broken = f" (plugins that could not be loaded: {', '.join(sorted({p.name for p in problems}))})" if problems else ""
    raise UnknownProcessor(f"unknown processor {name!r}; available: {', '.join(available)}{broken}")
