"""The declarative objects plugins return from their hooks.

A spec names a thing, gives the JSON Schema of its options (used by `promptc check`), and holds
the callables the runtime invokes. Specs carry no state; the registry fills in `origin`.

Options are best declared as a dataclass (`options=MyOptions`, see `promptdsl.options`): the
spec's `schema` is then derived from it, defaults included. A plain `schema=` still works.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional


def options_schema(properties: dict | None = None, required: list | None = None) -> dict:
    """A closed JSON Schema object for a plugin's options (unknown options are errors)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties or {},
                              "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def _derive_schema(spec) -> None:
    """`schema` from `options` (a dataclass); giving both only works when they agree (the
    registry's `replace` passes both back in)."""
    if spec.options is None:
        return
    from .options import schema_of
    derived = schema_of(spec.options)
    if spec.schema not in (derived, options_schema()):
        raise TypeError(f"{type(spec).__name__} `{spec.name}`: give `options` (a dataclass) or "
                        "`schema`, not both")
    object.__setattr__(spec, "schema", derived)


@dataclass(frozen=True)
class MethodSpec:
    """A tuning method, used as `method NAME { options }`.

    `apply(model, options)` transforms a compiled PromptModel in place: it may add parameters, wrap
    modules, and set `requires_grad`. After compilation the backbone is frozen and only the
    template's soft tokens (and trainable verbalizer parameters) require grad; methods are applied
    in file order on top of that; a method never freezes what an earlier one made trainable
    (docs/methods.md). `options` arrives as a dict, validated, with the schema's defaults filled
    in; `promptdsl.options.typed(spec.options, options)` gives the dataclass.

    `save(model, options, directory)` (optional) writes files of its own into the checkpoint
    folder and returns the names (as in `model.trainable_state_dict()`) of the tensors it stored
    there, which the checkpoint then leaves out of trainable.safetensors (None: none).
    `load(model, options, directory)` (optional, required when `save` returns names) gives them
    back at load time: {name: tensor} for a model built from the same task, methods applied.
    """
    name: str
    apply: Callable[[Any, dict], None]
    schema: dict = field(default_factory=options_schema)
    description: str = ""
    trains: bool = True                      # False: the runtime only evaluates (zero_shot)
    # False: the method needs a verbalizer (classification only, e.g. PET, chain of thought);
    # `promptc check` reports it on a generation task (one with `target`)
    generation: bool = True
    # Optional: replaces the standard training loop (e.g. PET ensembles). Signature:
    # run(task_ir, context) -> dict of final metrics. See promptdsl.train for the context.
    run: Optional[Callable[..., dict]] = None
    # Optional: write extra artifacts next to the checkpoint (e.g. a PEFT adapter folder);
    # returns the names of the trainable tensors those files hold (see above).
    save: Optional[Callable[[Any, dict, Any], Optional[Iterable[str]]]] = None
    load: Optional[Callable[[Any, dict, Any], dict]] = None
    # True: the method searches words for the template's soft tokens (a discrete template
    # search with its own `run`); `promptc check` then requires soft tokens in the template
    # and the method alone in the task
    searches_template: bool = False
    options: Optional[type] = None           # a dataclass of options (promptdsl.options)
    origin: str = ""                         # filled by the registry: "package version"

    def __post_init__(self):
        _derive_schema(self)


@dataclass(frozen=True)
class VerbalizerSpec:
    """A verbalizer kind, used as `verbalizer KIND { labels… options… }`.

    `build(context)` returns a torch module mapping what the model predicts at the mask to one
    score per label. `schema` lists the options this kind accepts; a bare key in the block that
    is a declared option is an option, any other key is a label. `options`: a subclass of
    `promptdsl.options.VerbalizerOptions` (the options every kind has, plus its own).
    """
    name: str
    build: Callable[[Any], Any]
    schema: dict = field(default_factory=options_schema)
    description: str = ""
    options: Optional[type] = None
    # True: the kind scores label words as generated text, so the model must be causal or
    # seq2seq (`promptc check` reports a masked LM at the kind)
    needs_generation: bool = False
    # True: the kind reads several named masks (PTR's rules): every label's words are tagged
    # with a mask, `e1 "word"`, one per mask of the template; on a causal model the masks may
    # stand anywhere (each label's filled sequence is scored), on a masked LM all are read in
    # one pass
    reads_masks: bool = False
    origin: str = ""

    def __post_init__(self):
        _derive_schema(self)


@dataclass(frozen=True)
class KnowledgeSourceSpec:
    """A source of related words for label-word expansion (`expand: NAME` in a KPT verbalizer).

    `expand(label_words, options)` gets {label: [words]} and returns {label: [more words]}.
    """
    name: str
    expand: Callable[[dict, dict], dict]
    description: str = ""
    origin: str = ""


@dataclass(frozen=True)
class DataFormatSpec:
    """A data file reader, chosen by extension (".tsv").

    `read(path)` returns a `promptdsl.data.Table`; `read_header(path)` returns the column names
    without reading the whole file. Both raise `promptdsl.errors.DataError` with file and line.
    """
    name: str
    extensions: tuple
    read: Callable[[Any], Any]
    read_header: Callable[[Any], list]
    origin: str = ""


@dataclass(frozen=True)
class ModelSourceSpec:
    """Resolves a `model:` name to something `from_pretrained` loads.

    `resolve(name)` returns a local directory path, or None if this source does not know the
    name. `config(name)` returns the model's config as a dict without loading weights (used by
    `promptc check` for the family rule), or None.
    """
    name: str
    resolve: Callable[[str], Optional[str]]
    config: Optional[Callable[[str], Optional[dict]]] = None
    description: str = ""
    # a catch-all source (e.g. the Hugging Face hub) is asked only after every other source
    fallback: bool = False
    origin: str = ""


LABEL_METRIC, TEXT_METRIC = "label", "text"


@dataclass(frozen=True)
class MetricSpec:
    """An evaluation metric, used as `metric: NAME`.

    `kind` says what it compares:
    - "label" (classification): `compute(gold, predicted, labels)` over label values (the task's
      labels in verbalizer order) returns a float (or a dict, e.g. per-label F1);
    - "text" (generation): `compute(predictions, references)` gets one generated string per
      distinct input and, for each, the list of all its reference strings (rows whose rendered
      input is identical are one input with several references); returns a float.
    Scores are fractions (0-1 for BLEU, ROUGE, accuracy …); tables show them as percentages."""
    name: str
    compute: Callable[..., Any]
    higher_is_better: bool = True
    kind: str = LABEL_METRIC
    description: str = ""
    origin: str = ""

    def __post_init__(self):
        if self.kind not in (LABEL_METRIC, TEXT_METRIC):
            raise TypeError(f"MetricSpec `{self.name}`: kind must be {LABEL_METRIC!r} or "
                            f"{TEXT_METRIC!r}, not {self.kind!r}")


@dataclass(frozen=True)
class LoggerSpec:
    """An experiment tracker, used as `train { log: [NAME] }` or `promptc train --log NAME`.

    `open(run_dir, task)` is called on rank 0 once the run directory exists and returns an
    object with `scalar(tag, value, step)` and `close()` (promptdsl.train.loggers documents the
    tags). `check()` (optional) runs before anything is written and raises
    `promptdsl.errors.PluginError` when the tracker cannot work (its package is missing)."""
    name: str
    open: Callable[[Any, dict], Any]
    check: Optional[Callable[[], None]] = None
    description: str = ""
    origin: str = ""
