"""The README's command-line synopsis is complete: every command and every option of the
parser (``batchmill.core.cli`` and ``batchmill gui``'s own) is written in it, on its command's lines."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from batchmill.core.cli import build_parser
from batchmill.gui.app import build_parser as build_gui_parser

README = Path(__file__).resolve().parents[2] / "README.md"


def synopsis() -> dict[str, str]:
    """The synopsis block, as {command: its lines joined}; continuation lines belong to the command above."""
    text = README.read_text(encoding="utf-8")
    block = text.split("## Command line", 1)[1].split("```", 2)[1]
    commands: dict[str, str] = {}
    current = ""
    for line in block.splitlines():
        found = re.match(r"batchmill(?: (\w[\w-]*))?(?: (\[?)(list|forget|prune)\b)?", line)
        if found:
            command, optional, action = found.groups()
            current = " ".join(filter(None, (command, action)))
            commands[current] = commands.get(current, "") + " " + line
            if optional:  # "jobs [list]": the action may be left out
                commands[command] = commands.get(command, "") + " " + line
        elif line.strip():
            commands[current] += " " + line
    return commands


def walk(parser: argparse.ArgumentParser, name: str = "") -> dict[str, list[argparse.Action]]:
    found = {name: []}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                found.update(walk(sub, f"{name} {sub_name}".strip()))
        elif not isinstance(action, argparse._HelpAction):
            found[name].append(action)
    return found


def test_every_command_and_option_is_in_the_synopsis() -> None:
    written = synopsis()
    parsed = walk(build_parser())
    parsed["gui"] = [a for a in build_gui_parser()._actions if not isinstance(a, argparse._HelpAction)]
    missing = []
    for command, actions in parsed.items():
        if command not in written:
            missing.append(f"batchmill {command}")
            continue
        for action in actions:
            if action.option_strings:
                longest = max(action.option_strings, key=len)
                if not re.search(re.escape(longest) + r"(?![\w-])", written[command]):
                    missing.append(f"batchmill {command} {longest}")
    assert not missing, f"the README's synopsis lacks: {', '.join(missing)}"


def test_short_options_that_people_type_are_shown() -> None:
    written = synopsis()
    for short in ("-j", "-0", "-q", "-v"):
        assert short in written["run"], short
