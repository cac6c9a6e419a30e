"""Typed plugin options (promptdsl.options): one dataclass per plugin is the only place a default
is written; the JSON Schema `promptc check` and `promptc schema` use is derived from it."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jsonschema
import pytest
from click.testing import CliRunner

import promptdsl
from promptdsl import MethodSpec, VerbalizerSpec, api, get_registry
from promptdsl.cli import main as promptc
from promptdsl.options import OptionError, VerbalizerOptions, option, schema_of, typed

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Toy:
    depth: int = option(2, "how deep", minimum=1, maximum=9)
    mode: Literal["a", "b"] = option("a", "which mode")
    rate: float | None = option(None, "a rate", exclusiveMinimum=0)
    names: list[str] = option(["x"], "some names", minItems=1, refers="templates")
    path: str | None = option(None, "a file", format="path")
    init: str = option("vocab", "tagged or bare", oneOf=[{"enum": ["vocab"]},
                                                         {"type": "object"}], nullable=True)
    plain: bool = True


def test_schema_of_derives_types_keywords_and_defaults():
    schema = schema_of(Toy)
    props = schema["properties"]
    assert schema["additionalProperties"] is False and "required" not in schema
    assert list(props) == ["depth", "mode", "rate", "names", "path", "init", "plain"]
    assert props["depth"] == {"type": "integer", "minimum": 1, "maximum": 9,
                              "description": "how deep", "default": 2}
    assert props["mode"]["enum"] == ["a", "b"] and props["mode"]["default"] == "a"
    assert props["rate"]["type"] == ["number", "null"] and props["rate"]["default"] is None
    assert props["names"]["items"] == {"type": "string"}
    assert props["names"]["x-refers"] == "templates"
    assert props["path"]["format"] == "path"
    assert props["init"]["oneOf"][-1] == {"type": "null"} and "type" not in props["init"]
    assert props["plain"] == {"type": "boolean", "default": True}
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"depth": 3, "mode": "b", "rate": 0.5, "init": {"text": "hi"}})
    for bad in ({"depth": 0}, {"mode": "c"}, {"rate": 0}, {"names": []}, {"dept": 1}):
        assert not validator.is_valid(bad), bad


def test_mutable_defaults_are_not_shared():
    first, second = Toy(), Toy()
    first.names.append("y")
    assert second.names == ["x"] and schema_of(Toy)["properties"]["names"]["default"] == ["x"]


def test_typed_builds_the_dataclass_and_names_the_plugin_on_unknown_options():
    options = typed(Toy, {"depth": 4}, "method toy")
    assert options.depth == 4 and options.mode == "a"
    assert typed(Toy, options) is options
    with pytest.raises(OptionError, match=r"method toy: unknown option dept; known: depth, mode"):
        typed(Toy, {"dept": 4}, "method toy")


def test_a_field_without_default_is_required():
    @dataclass
    class Needs:
        name: str = option(description="must be given")
    assert schema_of(Needs)["required"] == ["name"]
    with pytest.raises(OptionError, match="needs"):
        typed(Needs, {}, "needs")


def test_specs_derive_their_schema_and_keep_a_plain_schema_working():
    spec = MethodSpec("toy", lambda model, options: None, options=Toy)
    assert spec.schema == schema_of(Toy) and spec.options is Toy
    plain = MethodSpec("toy", lambda model, options: None, promptdsl.options_schema({}))
    assert plain.options is None and plain.schema["properties"] == {}
    assert dataclasses.replace(spec, origin="x").schema == spec.schema   # what the registry does
    with pytest.raises(TypeError, match="not both"):
        MethodSpec("toy", lambda model, options: None, promptdsl.options_schema({"a": {}}),
                   options=Toy)
    kind = VerbalizerSpec("toy", lambda context: None, options=VerbalizerOptions)
    assert list(kind.schema["properties"]) == ["calibrate", "multi_token"]


def _builtins():
    reg = get_registry()
    return [(kind, spec) for kind, table in (("methods", reg.methods),
                                             ("verbalizers", reg.verbalizers))
            for spec in table.values() if spec.options is not None]


def test_every_builtin_with_options_declares_them_as_a_dataclass():
    names = {(kind, spec.name) for kind, spec in _builtins()}
    for method in ("prompt_tuning", "ptuning", "prefix", "adapter", "lora"):
        assert ("methods", method) in names
    for verbalizer in ("manual", "soft", "knowledgeable", "auto", "proto"):
        assert ("verbalizers", verbalizer) in names


def test_real_option_blocks_validate_against_schema_of_and_type():
    """Every method and verbalizer block of the shipped task files, as the IR holds them."""
    reg = get_registry()
    seen = set()
    for path in sorted((REPO / "tasks").glob("*.prompt")):
        for task in api.load_all(path).values():
            blocks = [(reg.methods[m["name"]], m["options"]) for m in task["methods"]]
            if task["verbalizer"]:
                blocks.append((reg.verbalizers[task["verbalizer"]["kind"]],
                               task["verbalizer"]["options"]))
            for spec, options in blocks:
                if spec.options is None:
                    continue
                jsonschema.validate(options, schema_of(spec.options))
                assert dataclasses.asdict(typed(spec.options, options)) == options
                seen.add(spec.name)
    assert {"lora", "prefix", "adapter", "prompt_tuning", "ptuning", "manual",
            "knowledgeable"} <= seen


def test_promptc_schema_has_every_builtin_option_with_its_default():
    result = CliRunner().invoke(promptc, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    branches = {
        "methods": schema["properties"]["methods"]["items"]["allOf"],
        "verbalizers": [b for alt in schema["properties"]["verbalizer"]["anyOf"]
                        for b in alt.get("allOf", [])],
    }
    for kind, spec in _builtins():
        branch, = [b for b in branches[kind]
                   if b["if"]["properties"][_name_key(kind)]["const"] == spec.name]
        published = _options_of(branch)["properties"]
        defaults = {f.name: f.default if f.default is not dataclasses.MISSING
                    else f.default_factory() for f in dataclasses.fields(spec.options)}
        assert {k: v["default"] for k, v in published.items()} == defaults, spec.name


def _name_key(kind: str) -> str:
    return "name" if kind == "methods" else "kind"


def _options_of(branch: dict) -> dict:
    return branch["then"]["properties"]["options"]
