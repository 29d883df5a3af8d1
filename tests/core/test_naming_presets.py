"""Output naming templates, presets and a script's function as a processor (core, no Qt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchmill.core.naming import TemplateError, check_template, render
from batchmill.core.plan import PlanError, iter_plan, plan_roots, preview_output
from batchmill.core.presets import Preset, PresetError, delete_preset, list_presets, load_preset, save_preset
from batchmill.core.processors import get_processor
from batchmill.core.processors.base import ParamError
from batchmill.core.processors.script import load_script_processor, param_help
from batchmill.core.spec import JobSpec


@pytest.mark.parametrize(("template", "name", "out", "expected"), [
    ("{stem}_small{ext}", "photo.JPG", "photo.jpg", "photo_small.jpg"),
    ("{name}.sha", "a b.txt", "a b.txt", "a b.txt.sha"),
    ("x-{stem}{ext}", "{weird}.txt", "{weird}.txt", "x-{weird}.txt"),
    ("{stem}{ext}", "no_ext", "no_ext", "no_ext"),
])
def test_render(template: str, name: str, out: str, expected: str) -> None:
    assert render(template, name, out) == expected


@pytest.mark.parametrize(("template", "message"), [
    ("{size}.png", "unknown placeholder {size}"),
    ("sub/{stem}{ext}", "must name a file, not a path"),
    ("fixed.png", "gives every file the same name"),
    ("  ", "is empty"),
])
def test_bad_templates_are_named(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("}", r"\}")):
        check_template(template)


def test_template_collision_is_reported_before_the_job(tmp_path: Path) -> None:
    data = tmp_path / "in"
    data.mkdir()
    (data / "a.txt").write_text("1")
    (data / "a.md").write_text("2")
    spec = JobSpec("checksum", (str(data),), str(tmp_path / "out"), name_template="{stem}.out")
    proc = get_processor("command")
    params = proc.validate({"cmd": "cat {input}"})
    with pytest.raises(PlanError, match=r"a\.md.*a\.txt|a\.txt.*a\.md"):
        list(iter_plan(spec, proc, params, plan_roots(spec), lambda _m: None))


def test_preview_shows_one_inputs_output_name(tmp_path: Path) -> None:
    spec = JobSpec("command", (str(tmp_path),), str(tmp_path / "o"), name_template="{stem}_v2{ext}")
    proc = get_processor("command")
    assert preview_output(spec, proc, proc.validate({"cmd": "cat {input}", "ext": ".md"}), "notes.txt") \
        == "notes_v2.md"


def test_presets_round_trip(batchmill_home: Path) -> None:
    preset = Preset("thumbs 64", "python", {"script": "/x/thumb.py", "size": 64}, output="/out",
                    overwrite="replace", exclude=("*.tmp",), name_template="{stem}_t{ext}", workers=3)
    save_preset(preset)
    assert list_presets() == ["thumbs 64"]
    assert load_preset("thumbs 64") == preset
    delete_preset("thumbs 64")
    with pytest.raises(PresetError, match="no preset named 'thumbs 64'"):
        load_preset("thumbs 64")


def test_preset_names_cannot_escape_the_folder() -> None:
    with pytest.raises(PresetError, match="may use letters"):
        save_preset(Preset("../evil", "checksum"))


SCRIPT = '''
from pathlib import Path
from typing import Literal


def shrink(src: Path, dst: Path, size: int = 256, mode: Literal["fast", "good"] = "fast",
           sharpen: bool = False, label: str = "x") -> dict:
    """Make a small copy of each file.

    Args:
        size: longest side in pixels
        mode (str): speed or quality
    """
    dst.write_text(f"{size}/{mode}/{sharpen}/{label}:" + src.read_text())
    return {"size": size}


def needs(src: Path, dst: Path, factor: float) -> None:
    """:param factor: how much"""
'''


def test_script_function_becomes_a_processor(tmp_path: Path) -> None:
    script = tmp_path / "tools.py"
    script.write_text(SCRIPT)
    proc = load_script_processor(script, "shrink")
    assert proc.name == "tools.shrink"
    assert proc.description == "Make a small copy of each file."
    form = {p.name: p for p in proc.params}
    assert list(form) == ["size", "mode", "sharpen", "label"]
    assert (form["size"].type, form["size"].default, form["size"].help) == (int, 256, "longest side in pixels")
    assert (form["mode"].choices, form["mode"].help) == (("fast", "good"), "speed or quality")
    assert form["sharpen"].type is bool
    spec_params = proc.spec_params({"size": 64, "mode": "good"})
    assert spec_params == {"script": str(script), "function": "shrink", "size": 64, "mode": "good"}
    validated = proc.validate({"size": "32"})
    assert validated["kwargs"] == {"size": 32}
    with pytest.raises(ParamError, match="must be one of fast, good"):
        proc.validate({"mode": "slow"})
    needs = load_script_processor(script, "needs")
    assert [(p.name, p.type, p.required, p.help) for p in needs.params] == [("factor", float, True, "how much")]


def test_param_help_formats() -> None:
    assert param_help("Do it.\n\nArgs:\n    a: first\n    b (int): second\n\nReturns:\n    x: not a param") \
        == {"a": "first", "b": "second"}
    assert param_help(":param int n: count\n:param name: who") == {"n": "count", "name": "who"}


def test_broken_script_is_named(tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("def process(src, dst):\n    return (\n")
    with pytest.raises(ParamError, match=r"broken\.py has a syntax error on line 2"):
        load_script_processor(script)
