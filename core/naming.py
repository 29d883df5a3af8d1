"""Output naming templates: ``--name "{stem}_small{ext}"``.

Placeholders: ``{stem}`` the input's name without its extension, ``{ext}`` the
output's extension as the processor decides it (``.jpg`` for image format
jpeg; otherwise the input's), ``{name}`` the input's full name. Substituted by
plain replacement, so braces in file names are harmless."""

from __future__ import annotations

import os
import re

PLACEHOLDERS = ("{stem}", "{ext}", "{name}")
_ANY_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


class TemplateError(ValueError):
    pass


def check_template(template: str) -> None:
    """Raise TemplateError, with a message for a person, if the template cannot name files."""
    if not template.strip():
        raise TemplateError("the output name template is empty")
    unknown = [p for p in _ANY_PLACEHOLDER.findall(template) if p not in PLACEHOLDERS]
    if unknown:
        raise TemplateError(f"the output name template {template!r} has an unknown placeholder {unknown[0]}; "
                            f"use {', '.join(PLACEHOLDERS)}")
    if "/" in template or os.sep in template or template in (".", ".."):
        raise TemplateError(f"the output name template {template!r} must name a file, not a path")
    if not any(p in template for p in PLACEHOLDERS):
        raise TemplateError(f"the output name template {template!r} gives every file the same name; "
                            "put {stem} or {name} in it")


def render(template: str, input_name: str, output_name: str) -> str:
    """The output file name for ``input_name``, whose plain output name would be ``output_name``."""
    stem, _ = os.path.splitext(input_name)
    _, ext = os.path.splitext(output_name)
    return template.replace("{stem}", stem).replace("{ext}", ext).replace("{name}", input_name)
