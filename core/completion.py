"""Shell completion for ``batchmill``, generated from the command-line parser itself (shtab).

``batchmill completion bash|zsh|fish|tcsh|powershell`` prints the script; load it as each shell
expects::

    source <(batchmill completion bash)        # bash; or save it as
                                               # ~/.local/share/bash-completion/completions/batchmill
    batchmill completion zsh > ~/.zfunc/_batchmill     # zsh: a folder in $fpath, then compinit
    batchmill completion fish > ~/.config/fish/completions/batchmill.fish

Sub-commands and options complete from the parser, so they can never drift from it; INPUTs,
``--files-from`` and ``--script`` complete file names, ``--output`` and ``--root`` folders.
"""

from __future__ import annotations

import argparse

import shtab

SHELLS = tuple(shtab.SUPPORTED_SHELLS)  # bash, zsh, tcsh, fish, powershell
_FILES = {"inputs", "files_from", "script"}
_FOLDERS = {"output", "root"}


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell`` (one of SHELLS)."""
    _mark_paths(parser)
    return str(shtab.complete(parser, shell=shell))


def _mark_paths(parser: argparse.ArgumentParser) -> None:
    """Tell shtab which arguments are files and which are folders, in every sub-command."""
    for action in parser._actions:  # argparse offers no public walk over its actions
        if action.dest in _FILES:
            action.complete = shtab.FILE  # type: ignore[attr-defined]
        elif action.dest in _FOLDERS:
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _mark_paths(sub)
