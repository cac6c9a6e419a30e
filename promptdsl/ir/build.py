"""A task's merged body -> the task IR (docs/internals.md §1), with a map from IR paths back to
spans so schema and semantic checks can point into the file."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..data.textfile import check_file
from ..diagnostics import Diagnostic, suggestion_hint
from ..errors import DataError
from ..specs import LABEL_METRIC, TEXT_METRIC
from ..syntax import ast
from ..syntax.source import cached_source
from ..syntax.template import Template, parse_template, soft_text
from .schema import (DATA, GENERATE, SOFT_COUNT, TOP_KEYS, TRAIN, TRUST_REMOTE_CODE,
                     builtin_schema, coerce, drop_unset, fill_defaults)
from .validate import Where, schema_diagnostics

FIELDS = ("model", "trust_remote_code", "template", "target", "metric")
BLOCKS = ("data", "templates", "verbalizer", "method", "train", "generate")
SIMPLE_BLOCKS = {"data": DATA, "train": TRAIN, "generate": GENERATE}
DATA_FILES = ("train", "validation", "test", "unlabeled")
DEFAULT_VERBALIZER = "manual"
# the metric of a task that names none, by what it predicts (MetricSpec.kind)
DEFAULT_METRICS = {LABEL_METRIC: "accuracy", TEXT_METRIC: "bleu"}


@dataclass
class Built:
    """The IR plus what checks need: where things are, and the parsed templates."""
    ir: dict
    where: Where
    templates: dict = field(default_factory=dict)   # "template" / "target" / templates name
    unparsed: list = field(default_factory=list)    # templates given but malformed (reported)
    verbalizer_block: ast.Block | None = None
    method_blocks: list = field(default_factory=list)

    @property
    def generation(self) -> bool:
        return generates(self.ir, self.unparsed)

    def prompt_templates(self) -> list:
        """(name, Template) for every template the model reads (not the target)."""
        return [(k, t) for k, t in self.templates.items()
                if k != "target" and not (k == "template" and self.ir["templates"])]


def declared_options(spec) -> set:
    """The option names a verbalizer kind's schema declares (none for an unknown kind)."""
    return set((spec.schema.get("properties") or {}) if spec else ())


def is_label(entry: ast.Field, declared: set) -> bool:
    """Whether a verbalizer field is a label: a quoted key always; a bare key unless it is
    `mask` or one of the kind's options."""
    return entry.quoted or (entry.key != "mask" and entry.key not in declared)


def base_dir(span) -> Path:
    """Relative paths resolve against the folder of the file that wrote them."""
    if span.file.startswith("<"):
        return Path.cwd()
    return Path(span.file).resolve().parent


def absolute(path: str, span) -> str:
    return os.path.normpath(os.path.join(base_dir(span), os.path.expanduser(path)))


def data_file(value: str, span) -> tuple[str, Diagnostic | None]:
    """A data path as written at `span`, made absolute; a diagnostic when it is not a regular
    file: missing (the .prompt file's mistake), or a folder, FIFO, socket or device (the data
    cannot be used: a FIFO would block the reader, /dev/zero never ends)."""
    path = absolute(value, span)
    if not os.path.exists(path):
        return path, Diagnostic.at(span, "missing-file", f"data file `{value}` does not exist",
                                   f"paths are relative to the .prompt file's folder "
                                   f"({base_dir(span)})")
    try:
        check_file(path)            # the readers' own rule, checked without opening the file
    except DataError as err:
        return path, Diagnostic.at(span, "bad-data", f"data file `{value}`: {err.detail}",
                                   "name a data file on disk: not a folder, a pipe or a device")
    return path, None


def generates(ir: dict, unparsed=()) -> bool:
    """A generation task: one with a `target` (the text its [MASK] produces); else it classifies.
    A target that failed to parse (in `unparsed`, its error reported) counts, so that nothing
    cascades from it."""
    return ir["target"] is not None or "target" in unparsed


def metric_problem(name: str, kind: str, span, registry) -> Diagnostic | None:
    """Why metric `name` cannot score a task whose predictions are of `kind` (MetricSpec.kind:
    label values or generated text), or None. Used for `metric:`, `--set metric=` and sweeps."""
    known = registry.metrics
    if not known:
        return None
    spec = known.get(name)
    if spec is None:
        return Diagnostic.at(span, "unknown-metric", f"unknown metric `{name}`",
                             suggestion_hint(name, known, "installed metrics"))
    if spec.kind == kind:
        return None
    fitting = sorted(n for n, s in known.items() if s.kind == kind)
    task = "a generation task (`target`)" if kind == TEXT_METRIC else "a classification task"
    return Diagnostic.at(span, "metric-kind", f"metric `{name}` scores "
                         f"{'generated text' if spec.kind == TEXT_METRIC else 'labels'}, but "
                         f"this is {task}",
                         f"metrics of {task}: {', '.join(fitting)}" if fitting else
                         f"no installed metric scores {task}")


class TaskBuilder:
    def __init__(self, task: ast.Task, own_file: str, body: list, registry):
        self.task, self.file, self.body, self.reg = task, own_file, body, registry
        self.where = Where(task.name_span)
        self.diagnostics: list[Diagnostic] = []
        self.templates: dict[str, Template] = {}
        self.unparsed: list[str] = []

    def error(self, span, code, message, hint=None):
        self.diagnostics.append(Diagnostic.at(span, code, message, hint))

    # ---- top level ---------------------------------------------------------------------
    def build(self) -> Built:
        fields, blocks, methods = {}, {}, []
        for entry in self.body:
            if isinstance(entry, ast.Field):
                if self._top_field_ok(entry):
                    fields[entry.key] = entry
            elif self._top_block_ok(entry):
                if entry.name == "method":
                    methods.append(entry)
                else:
                    blocks[entry.name] = entry
        ir = {"name": self.task.name, "file": self.file}
        ir["model"] = self._model(fields.get("model"))
        ir["trust_remote_code"] = self._trust_remote_code(fields.get("trust_remote_code"))
        ir["data"] = self._simple_block(blocks.get("data"), "data")
        ir.update(self._templates(fields.get("template"), blocks.get("templates")))
        ir["target"] = self._template_field(fields.get("target"), "target")
        ir["verbalizer"] = self._verbalizer(blocks.get("verbalizer"))
        ir["methods"] = self._methods(methods)
        ir["train"] = self._simple_block(blocks.get("train"), "train")
        generate = blocks.get("generate")
        ir["generate"] = (self._simple_block(generate, "generate")
                          if generate is not None or generates(ir) else None)
        generation = generates(ir, self.unparsed)
        ir["metric"] = self._metric(fields.get("metric"), TEXT_METRIC if generation else
                                    LABEL_METRIC)
        ir["sweep"] = None
        if blocks.get("data") is None:
            self.error(self.task.name_span, "missing-block", f"task `{self.task.name}` has no "
                       "`data` block", "add `data { test: \"…\", label: label }`")
        self.diagnostics.extend(schema_diagnostics(ir, builtin_schema(), self.where,
                                                   context=f"task `{self.task.name}`"))
        return Built({k: ir[k] for k in TOP_KEYS}, self.where, self.templates, self.unparsed,
                     blocks.get("verbalizer"), methods)

    def _top_field_ok(self, entry: ast.Field) -> bool:
        if "." in entry.key and not entry.quoted:
            self.error(entry.key_span, "dotted-key", f"dotted key `{entry.key}` in a task",
                       "dotted keys address fields in `sweep` blocks and `--set`; in a task "
                       "write the block: `" + entry.key.split(".")[0] + " { … }`")
            return False
        if entry.key in BLOCKS:
            self.error(entry.key_span, "field-or-block", f"`{entry.key}` is a block, not a field",
                       f"write `{entry.key} {{ … }}`")
            return False
        if entry.key not in FIELDS or entry.quoted:
            self.error(entry.key_span, "unknown-field", f"unknown field `{entry.key}` in task "
                       f"`{self.task.name}`",
                       suggestion_hint(entry.key, FIELDS + BLOCKS, "a task has"))
            return False
        return True

    def _top_block_ok(self, entry: ast.Block) -> bool:
        if entry.name in FIELDS:
            self.error(entry.name_span, "field-or-block", f"`{entry.name}` is a field, not a "
                       "block", f"write `{entry.name}: …`")
            return False
        if entry.name not in BLOCKS:
            self.error(entry.name_span, "unknown-block", f"unknown block `{entry.name}` in task "
                       f"`{self.task.name}`",
                       suggestion_hint(entry.name, FIELDS + BLOCKS, "a task has"))
            return False
        if entry.kind is not None and entry.name not in ("method", "verbalizer"):
            self.error(entry.kind_span, "unexpected-kind", f"block `{entry.name}` takes no kind",
                       f"write `{entry.name} {{ … }}`")
        return True

    # ---- fields ------------------------------------------------------------------------
    def _model(self, entry):
        if entry is None:
            self.error(self.task.name_span, "missing-field", f"task `{self.task.name}` has no "
                       "`model`", 'add `model: "…"` (a Hugging Face id, a local folder or a '
                       "model source's name)")
            return ""
        self.where.add(("model",), entry.key_span, entry.value.span)
        if not isinstance(entry.value, ast.Str):
            self.error(entry.value.span, "invalid-value", "`model` must be a quoted string",
                       'e.g. `model: "roberta-large"`')
            return ""
        model = entry.value.value
        local = Path(base_dir(entry.value.span)) / model
        if not os.path.isabs(model) and (model.startswith(".") or os.path.isdir(local)):
            model = os.path.normpath(str(local))       # a folder next to the .prompt file
        return model

    def _trust_remote_code(self, entry):
        """The value as written (the schema check reports one that is not true or false)."""
        if entry is None or isinstance(entry.value, ast.Null):
            return TRUST_REMOTE_CODE["default"]
        self.where.add(("trust_remote_code",), entry.key_span, entry.value.span)
        return ast.plain(entry.value)

    def _metric(self, entry, kind: str):
        default = DEFAULT_METRICS[kind]
        if entry is None:
            return default
        self.where.add(("metric",), entry.key_span, entry.value.span)
        value = ast.plain(entry.value)
        if value is None:                    # `metric: null`: the default
            return default
        if not isinstance(value, str):
            self.error(entry.value.span, "invalid-value", "`metric` must be a name")
            return default
        problem = metric_problem(value, kind, entry.value.span, self.reg)
        if problem:
            self.diagnostics.append(problem)
        return value

    def _template_field(self, entry, name: str):
        if entry is None:
            return None
        self.where.add((name,), entry.key_span, entry.value.span)
        if name == "target" and isinstance(entry.value, ast.Null):
            return None                      # `target: null` unsets an inherited target
        template = self.parse_template_value(entry.value, name)
        if template is None:
            self.unparsed.append(name)
            return None
        self.templates[name] = template
        return template.to_ir()

    def parse_template_value(self, value, name: str) -> Template | None:
        if not isinstance(value, ast.Str):
            self.error(value.span, "invalid-value", f"`{name}` must be a string",
                       'e.g. `template: "{sentence} It was [MASK]."`')
            return None
        template, problems = parse_template(value, cached_source(value.span.file))
        self.diagnostics.extend(problems)
        if template is not None and not self._soft_counts_ok(template):
            return None
        return template

    def _soft_counts_ok(self, template: Template) -> bool:
        """`<soft*N>` within the schema's bound, reported at the piece (not as a whole-template
        schema error), before anything would allocate N rows."""
        ok = True
        for piece, span in zip(template.pieces, template.spans):
            count = piece.get("count") if piece["type"] == "soft" else None
            if count is not None and count > SOFT_COUNT["maximum"]:
                self.error(span, "invalid-value", f"`{soft_text(piece)}` asks for {count:,} soft "
                           f"tokens; one soft piece has at most {SOFT_COUNT['maximum']:,}")
                ok = False
        return ok

    def _templates(self, single, block) -> dict:
        if single is not None and block is not None:
            self.error(block.name_span, "template-and-templates", "a task has `template` or "
                       "`templates`, not both", "keep `templates { … }` for an ensemble (pet)")
        if block is None:
            return {"template": self._template_field(single, "template"), "templates": None}
        named = {}
        for entry in block.body:
            if isinstance(entry, ast.Block):
                self.error(entry.name_span, "unexpected-block",
                           "`templates` holds `name: \"template\"` fields, not blocks")
                continue
            self.where.add(("templates", entry.key), entry.key_span, entry.value.span)
            template = self.parse_template_value(entry.value, entry.key)
            if template is not None:
                self.templates[f"templates.{entry.key}"] = template
                named[entry.key] = template.to_ir()
            else:
                self.unparsed.append(f"templates.{entry.key}")
        if not named:
            if not self.unparsed:
                self.error(block.name_span, "empty-block", "`templates` names no template",
                           'add `name: "…[MASK]…"` fields')
            return {"template": None, "templates": None}
        first = next(iter(named))
        if single is None:
            self.templates["template"] = self.templates[f"templates.{first}"]
        return {"template": named[first], "templates": named}

    # ---- data / train / generate ---------------------------------------------------------
    def _simple_block(self, block, name: str) -> dict:
        schema = SIMPLE_BLOCKS[name]
        values = {}
        if block is not None:
            self.where.add((name,), block.name_span, block.name_span)
            for entry in block.body:
                if isinstance(entry, ast.Block):
                    self.error(entry.name_span, "unexpected-block",
                               f"block `{name}` holds fields, not blocks",
                               suggestion_hint(entry.name, schema["properties"], "fields"))
                    continue
                self.where.add((name, entry.key), entry.key_span, entry.value.span)
                value = ast.plain(entry.value)
                if name == "data" and entry.key in DATA_FILES:
                    value = self._data_path(entry)
                values[entry.key] = coerce(value, schema["properties"].get(entry.key, {}))
        return fill_defaults(drop_unset(values, schema), schema)

    def _data_path(self, entry: ast.Field):
        if isinstance(entry.value, ast.Null):
            return None                      # `validation: null` unsets an inherited file
        if not isinstance(entry.value, ast.Str):
            self.error(entry.value.span, "invalid-value", f"`{entry.key}` must be a quoted path",
                       f'e.g. `{entry.key}: "data/{entry.key}.tsv"`')
            return None
        path, problem = data_file(entry.value.value, entry.value.span)
        if problem:
            self.diagnostics.append(problem)
        return path

    # ---- verbalizer --------------------------------------------------------------------
    def _verbalizer(self, block):
        if block is None:
            return None
        kind = block.kind or DEFAULT_VERBALIZER
        kind_span = block.kind_span or block.name_span
        self.where.add(("verbalizer",), block.name_span, kind_span)
        spec = self.reg.verbalizers.get(kind)
        if spec is None:
            self.error(kind_span, "unknown-verbalizer", f"unknown verbalizer kind `{kind}`",
                       suggestion_hint(kind, self.reg.verbalizers, "installed kinds"))
        declared = declared_options(spec)
        labels, options, mask = [], {}, None
        for entry in block.body:
            if isinstance(entry, ast.Block):
                self.error(entry.name_span, "unexpected-block",
                           "a verbalizer holds `label: \"word\", …` and options, not blocks")
                continue
            if is_label(entry, declared):
                self.where.add(("verbalizer", "labels", len(labels)), entry.key_span,
                               entry.value.span)
                labels.append({"label": entry.key, **self._words(entry, spec)})
            elif entry.key == "mask":
                self.where.add(("verbalizer", "mask"), entry.key_span, entry.value.span)
                mask = ast.plain(entry.value)
                if not isinstance(mask, str):
                    self.error(entry.value.span, "invalid-value", "`mask` names a `[MASK:name]`")
                    mask = None
            else:
                self.where.add(("verbalizer", "options", entry.key), entry.key_span,
                               entry.value.span)
                options[entry.key] = ast.plain(entry.value)
        if spec is not None:
            options = self._options(options, spec.schema, ("verbalizer", "options"),
                                    f"verbalizer `{kind}`")
        return {"kind": kind, "mask": mask, "labels": labels, "options": options}

    def _words(self, entry: ast.Field, spec) -> dict:
        """{"words": [...]} of a label, plus "masks" (the mask each word is for) when the
        kind reads several masks: its words are tagged, `e1 "word"`."""
        items = entry.value.items if isinstance(entry.value, ast.ListV) else [entry.value]
        tagged = bool(spec and spec.reads_masks)
        words, masks = [], []
        for item in items:
            value = item.value if tagged and isinstance(item, ast.Tagged) else item
            if isinstance(value, ast.Str) and value.value.strip() and \
                    tagged == isinstance(item, ast.Tagged):
                words.append(value.value)
                if tagged:
                    masks.append(item.tag)
            elif tagged and not isinstance(item, ast.Tagged) and isinstance(item, ast.Str):
                self.error(item.span, "untagged-word", f"verbalizer `{spec.name}` reads several "
                           "masks: say which mask each word is for",
                           f'write `{entry.key_raw or entry.key}: e1 "word", rel "word"` with '
                           "the names of the template's `[MASK:name]` slots")
            elif isinstance(item, ast.Tagged) and not tagged:
                self.error(item.span, "tagged-word", "a word tagged with a mask (`e1 \"word\"`) "
                           "is for a verbalizer that reads several masks",
                           "use `verbalizer rules { … }` (PTR), or write plain words: "
                           f'`{entry.key_raw or entry.key}: "word", "other"`')
            else:
                self.error(item.span, "invalid-label-word", "label words are non-empty quoted "
                           "strings" + (" (tagged with their mask: `e1 \"word\"`)" if tagged
                                        else ""),
                           f'write `{entry.key_raw or entry.key}: ' +
                           ('e1 "word", rel "word"`' if tagged else '"word", "other"`; '
                            "if this was meant as an option, this verbalizer kind does not "
                            f"declare `{entry.key}`"))
        return {"words": words, "masks": masks} if tagged else {"words": words}

    # ---- methods -----------------------------------------------------------------------
    def _methods(self, blocks: list) -> list:
        out = []
        for block in blocks:
            if block.kind is None:
                self.error(block.name_span, "missing-kind", "`method` needs a name",
                           suggestion_hint("", self.reg.methods, "e.g. `method finetune { }`; "
                                           "installed methods"))
                continue
            index = len(out)
            self.where.add(("methods", index), block.name_span, block.kind_span)
            spec = self.reg.methods.get(block.kind)
            if spec is None:
                self.error(block.kind_span, "unknown-method", f"unknown method `{block.kind}`",
                           suggestion_hint(block.kind, self.reg.methods, "installed methods"))
            options = {}
            for entry in block.body:
                if isinstance(entry, ast.Block):
                    self.error(entry.name_span, "unexpected-block",
                               f"method `{block.kind}` holds options, not blocks")
                    continue
                self.where.add(("methods", index, "options", entry.key), entry.key_span,
                               entry.value.span)
                options[entry.key] = ast.plain(entry.value)
            if spec is not None:
                options = self._options(options, spec.schema, ("methods", index, "options"),
                                        f"method `{block.kind}`")
                self._check_template_names(options, spec.schema, ("methods", index, "options"))
            out.append({"name": block.kind, "options": options})
        if not blocks:
            self.error(self.task.name_span, "missing-block", f"task `{self.task.name}` has no "
                       "`method` block", suggestion_hint("", self.reg.methods,
                                                         "add one, e.g. `method zero_shot { }`;"
                                                         " installed methods"))
        return out

    def _check_template_names(self, options: dict, schema: dict, prefix: tuple) -> None:
        """Options whose schema says `"x-refers": "templates"` must name templates of the task."""
        named = [k.split(".", 1)[1] for k in self.templates if k.startswith("templates.")]
        for key, sub in (schema.get("properties") or {}).items():
            value = options.get(key)
            if not (isinstance(sub, dict) and sub.get("x-refers") == "templates" and value):
                continue
            for name in [value] if isinstance(value, str) else value:
                if isinstance(name, str) and name not in named:
                    hint = (suggestion_hint(name, named, "templates of this task") if named else
                            "name templates in a `templates { a: \"…\"  b: \"…\" }` block")
                    self.error(self.where.value(prefix + (key,)), "unknown-template",
                               f"`{key}` names the template `{name}`, which the task does not have",
                               hint)

    def _options(self, options: dict, schema: dict, prefix: tuple, context: str) -> dict:
        props = schema.get("properties") or {}
        options = {k: coerce(v, props.get(k, {}), schema)
                   for k, v in drop_unset(options, schema).items()}
        problems = schema_diagnostics(options, schema, self.where, prefix, context)
        self.diagnostics.extend(problems)
        for key, sub in props.items():      # options that name files resolve like data paths
            if isinstance(sub, dict) and sub.get("format") == "path" and \
                    isinstance(options.get(key), str) and not problems:
                options[key] = self._option_path(options[key], prefix + (key,))
        return fill_defaults(options, schema)

    def _option_path(self, value: str, path: tuple) -> str:
        if value in self.reg.knowledge_sources:
            return value
        span = self.where.value(path)
        resolved = absolute(value, span)
        if not os.path.exists(resolved):
            self.error(span, "missing-file", f"file `{value}` does not exist",
                       suggestion_hint(value, self.reg.knowledge_sources,
                                       "paths are relative to the .prompt file; or name a "
                                       "knowledge source"))
        return resolved
