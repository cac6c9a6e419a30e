"""`found.prompt`: what a search found, written back as a plain task file in a run directory.

    write_found(task_ir, directory, template=None, words=None, drop_methods=(), note="")

The file is the run's task with the searched template and/or label words in place (found words
make a `manual` verbalizer), the search methods removed (`method zero_shot { }` when none is
left) and a comment saying what found it. `promptc check` accepts it and `promptc train` runs it
as an ordinary task; it is checked here before this returns, so a search never leaves a file
that does not build.
"""
from __future__ import annotations

import copy
from pathlib import Path

from ..errors import PromptdslError
from ..ir.schema import fill_defaults
from ..ir.source import quote, task_source
from ..registry import get_registry
from ..syntax.parse import parse_value
from ..syntax.source import cached_source
from ..syntax.template import parse_template
from .rundir import write_text

FILE = "found.prompt"
FOUND_KIND = "manual"           # found label words are plain label words
NO_METHOD = "zero_shot"


class FoundError(PromptdslError):
    """What a search found cannot be written as a task (bad template, unknown label, …)."""


def found_task(task_ir: dict, *, template: str | None = None, words: dict | None = None,
               drop_methods=()) -> dict:
    """A copy of `task_ir` with the found template / words in place and `drop_methods` gone."""
    registry = get_registry()
    task = copy.deepcopy(task_ir)
    task["sweep"] = None
    if template is not None:
        found = _template_ir(template)
        if task["templates"]:        # the first named template is the task's `template`
            first = next(iter(task["templates"]))
            task["templates"][first] = found
        task["template"] = found
    if words is not None:
        task["verbalizer"] = _with_words(task["verbalizer"], words, registry)
    dropped = {drop_methods} if isinstance(drop_methods, str) else set(drop_methods)
    task["methods"] = [m for m in task["methods"] if m["name"] not in dropped]
    if not task["methods"]:
        spec = registry.methods[NO_METHOD]
        task["methods"] = [{"name": NO_METHOD, "options": fill_defaults({}, spec.schema)}]
    return task


def _template_ir(text: str) -> dict:
    """{"text", "pieces"} of a found template, parsed as the front end parses one."""
    where = "<found template>"
    value, problems = parse_value(quote(text), where)
    template = None
    if value is not None:
        template, more = parse_template(value, cached_source(where))
        problems = problems + more
    errors = [d for d in problems if d.is_error]
    if template is None or errors:
        shown = "; ".join(d.message for d in errors[:3]) or "it does not parse"
        raise FoundError(f"the found template {text[:60]!r} is not a template: {shown}")
    return template.to_ir()


def _with_words(verbalizer: dict | None, words: dict, registry) -> dict:
    if verbalizer is None:
        raise FoundError("found label words, but the task has no verbalizer (a generation "
                         "task)")
    labels = [entry["label"] for entry in verbalizer["labels"]]
    unknown = [str(label) for label in words if str(label) not in labels]
    if unknown:
        raise FoundError(f"found words for {', '.join(unknown)}, which the task's labels "
                         f"({', '.join(labels)}) do not include")
    if any("masks" in entry for entry in verbalizer["labels"]):
        raise FoundError(f"verbalizer `{verbalizer['kind']}` tags each word with a mask; found "
                         "words cannot replace them")
    by_label = {str(k): v for k, v in words.items()}
    entries = []
    for entry in verbalizer["labels"]:
        found = list(dict.fromkeys(by_label.get(entry["label"], entry["words"])))  # once each
        if not found or any(not isinstance(w, str) or not w.strip() for w in found):
            raise FoundError(f"label `{entry['label']}`: found words must be non-empty text, "
                             f"not {found!r}")
        entries.append({"label": entry["label"], "words": found})
    schema = registry.verbalizers[FOUND_KIND].schema
    declared = schema.get("properties") or {}
    options = {k: v for k, v in verbalizer["options"].items() if k in declared}
    return {"kind": FOUND_KIND, "mask": verbalizer["mask"], "labels": entries,
            "options": fill_defaults(options, schema)}


def write_found(task_ir: dict, directory, *, template: str | None = None,
                words: dict | None = None, drop_methods=(), note: str = "") -> Path:
    """Write `directory/found.prompt` (see the module doc) and return its path. `note`: a
    comment block at the top (what searched it, when, the score). Raises FoundError when the
    written file does not check clean (the file is left for inspection)."""
    task = found_task(task_ir, template=template, words=words, drop_methods=drop_methods)
    directory = Path(directory)
    if not directory.is_dir():
        raise FoundError(f"{directory}: no such directory to write {FILE} in")
    comment = "".join(f"# {line}".rstrip() + "\n" for line in note.splitlines())
    path = write_text(directory / FILE,
                      (comment + "\n" if comment else "") + task_source(task, base_dir=directory))
    _check(path)
    return path


def _check(path: Path) -> None:
    from ..ir.pipeline import analyse
    errors = analyse(str(path)).errors
    if errors:
        shown = "; ".join(str(d) for d in errors[:3])
        raise FoundError(f"{path}: the found task does not check clean: {shown}")


__all__ = ["write_found", "found_task", "FoundError", "FILE"]
