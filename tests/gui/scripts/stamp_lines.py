"""A user's script for the GUI tests: a typed function with a docstring becomes a processor."""

from pathlib import Path
from typing import Literal


def process(src: Path, dst: Path, label: str = "seen", repeat: int = 2, shout: bool = False,
            order: Literal["as-is", "reversed"] = "as-is", weight: float = 1.5) -> int:
    """Stamp every line of a text file with a label.

    Args:
        label: the text put in front of every line
        repeat: how many times each line is written
        shout: write the whole output in capitals
        order: keep the lines as they are, or write them last to first
        weight: a number written at the top of the output
    """
    lines = src.read_text(encoding="utf-8").splitlines()
    if order == "reversed":
        lines.reverse()
    text = f"weight {weight:g}\n" + "".join(f"{label}: {line}\n" * repeat for line in lines)
    dst.write_text(text.upper() if shout else text, encoding="utf-8")
    return len(lines)


def expected_output(text: str, label: str = "seen", repeat: int = 2, shout: bool = False,
                    order: str = "as-is", weight: float = 1.5) -> str:
    """What process() writes for an input holding ``text`` (the tests' own reference)."""
    lines = text.splitlines()
    if order == "reversed":
        lines.reverse()
    out = f"weight {weight:g}\n" + "".join(f"{label}: {line}\n" * repeat for line in lines)
    return out.upper() if shout else out
