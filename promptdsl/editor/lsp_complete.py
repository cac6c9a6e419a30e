"""Completion and hover for the language server: where the cursor is (which block) and what the
schema and the plugin registry offer there."""
from __future__ import annotations

import re

HEAD = re.compile(r"^\s*(?:task\s+\w+.*|(\w+)(?:\s+(\w+))?\s*)\{\s*$")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KINDS_AFTER = {"method": "methods", "verbalizer": "verbalizers"}


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref", "")
    if ref.startswith("#/"):
        for part in ref[2:].split("/"):
            root = root[part]
        return root
    return schema


def _schema():
    from ..ir.schema import ir_schema
    return ir_schema()


def block_stack(text: str, line: int) -> list[tuple[str, str | None]]:
    """The (name, kind) of each block open at the start of `line`, outermost first."""
    stack: list = []
    for raw in text.split("\n")[:line]:
        code = raw.split("#", 1)[0]
        match = HEAD.match(code)
        if match:
            stack.append((match.group(1) or "task", match.group(2)))
        elif code.strip().startswith("}") and stack:
            stack.pop()
    return stack


def fields_at(stack) -> dict:
    """{field name: its JSON Schema} for the innermost open block."""
    from ..registry import get_registry
    root = _schema()
    if not stack:
        return {}
    if len(stack) == 1:
        props = dict(root["properties"])
        for gone in ("name", "file", "methods", "sweep"):
            props.pop(gone, None)
        props["method"] = {"description": "how the task trains (a method plugin)"}
        return props
    name, kind = stack[-1]
    reg = get_registry()
    if name == "method" and kind in reg.methods:
        return reg.methods[kind].schema.get("properties", {})
    if name == "verbalizer":
        spec = reg.verbalizers.get(kind or "manual")
        return spec.schema.get("properties", {}) if spec else {}
    block = root["properties"].get(name)
    return _resolve(block, root).get("properties", {}) if block else {}


def _describe(schema: dict) -> str:
    out = schema.get("description", "")
    if "default" in schema:
        out += f" (default: `{schema['default']}`)"
    return out.strip()


def completions(text: str, line: int, column: int) -> list[tuple[str, str]]:
    """(label, detail) pairs for the cursor at 0-based (line, column)."""
    from ..registry import get_registry
    before = text.split("\n")[line][:column] if line < len(text.split("\n")) else ""
    words = before.split()
    if words and words[-1] in KINDS_AFTER or (len(words) == 2 and words[0] in KINDS_AFTER
                                              and not before.endswith(" ")):
        specs = getattr(get_registry(), KINDS_AFTER[words[0]])
        return [(n, getattr(s, "description", "")) for n, s in sorted(specs.items())]
    if re.search(r"\bmetric\s*:\s*\w*$", before):
        return [(n, "metric") for n in sorted(get_registry().metrics)]
    return [(n, _describe(s)) for n, s in fields_at(block_stack(text, line)).items()]


def hover_text(text: str, line: int, column: int) -> str | None:
    """The schema description and default of the field (or a method's doc) under the cursor."""
    from ..registry import get_registry
    lines = text.split("\n")
    if line >= len(lines):
        return None
    for match in WORD.finditer(lines[line]):
        if match.start() <= column <= match.end():
            word = match.group()
            break
    else:
        return None
    reg = get_registry()
    head = lines[line].split()
    if len(head) >= 2 and head[0] in KINDS_AFTER and head[1] == word:
        spec = getattr(reg, KINDS_AFTER[head[0]]).get(word)
        return f"**{head[0]} {word}**: {getattr(spec, 'description', '')}" if spec else None
    schema = fields_at(block_stack(text, line)).get(word)
    return f"**{word}**: {_describe(schema)}" if schema is not None else None


OPEN_FIELD = re.compile(r"[\"'][^\"']*\{([^{}|\"']*)$")   # `"… {sen` inside a template string


def data_completions(text: str, line: int, column: int, tasks: dict, tables) -> list | None:
    """Column names of the tasks' data files inside a template's `{…}`, and the data's label
    values at the start of a line in a `verbalizer` block; None elsewhere. `tasks`: the IRs of
    the document's last check that built."""
    lines = text.split("\n")
    before = lines[line][:column] if line < len(lines) else ""
    if OPEN_FIELD.search(before):
        return [(c, "column") for c in _columns(tasks)]
    stack = block_stack(text, line)
    if stack and stack[-1][0] == "verbalizer" and not before.strip().strip('"'):
        return [(f'"{v}"', "label value") for v in _label_values(tasks, tables)]
    return None


def _data_files(tasks: dict):
    from ..ir.build import DATA_FILES
    for ir in tasks.values():
        for role in DATA_FILES:
            path = (ir.get("data") or {}).get(role)
            if path:
                yield ir, path


def _columns(tasks: dict) -> list:
    from ..data import read_header
    from ..errors import PromptdslError
    out: dict = {}
    for _, path in _data_files(tasks):
        try:
            out.update(dict.fromkeys(read_header(path)))
        except (PromptdslError, OSError):
            continue                      # a bad file is a diagnostic already
    return list(out)


def _label_values(tasks: dict, tables) -> list:
    from ..errors import PromptdslError
    from ..registry import get_registry
    out: dict = {}
    for ir, path in _data_files(tasks):
        label, spec = ir["data"].get("label"), get_registry().format_for(path)
        if not label or spec is None or ir.get("target"):
            continue
        try:
            table = tables.read(spec, path)
            if label in table.columns:
                out.update(dict.fromkeys(v for v in table.column(label) if v.strip()))
        except (PromptdslError, OSError):
            continue
    return sorted(out)
