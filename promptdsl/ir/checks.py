"""Semantic checks that need no model weights: masks, labels without words, what only a
classification or a generation task has (promptdsl.ir.generation_checks), the data
(promptdsl.ir.data_checks), the model's config (a language-model head, the family's mask
placement, a family that can generate), how methods compose, soft tokens under a method that
does not train."""
from __future__ import annotations

from ..diagnostics import WARNING, Diagnostic, suggestion_hint
from ..families import MLM, SEQ2SEQ, family_of_config, lm_head_problem, mask_placement_error
from ..syntax import ast
from .build import Built
from .data_checks import Tables, data_checks
from .generation_checks import generation_checks
from .model_config import model_config
from .rule_checks import reads_masks, rule_checks


def semantic_checks(built: Built, registry, tables: Tables | None = None) -> list[Diagnostic]:
    """`tables`: the data files read so far in this check (each file is read once)."""
    out: list[Diagnostic] = []
    out += _needs_head(built)
    out += rule_checks(built, registry) if reads_masks(built, registry) else _masks(built)
    out += _labels_without_words(built)
    out += generation_checks(built, registry)
    out += data_checks(built, registry, tables or Tables())
    out += _family(built, registry)
    out += _composition(built, registry)
    out += _search_slots(built, registry)
    out += _soft_without_training(built, registry)
    out += _splits(built, registry)
    out += _remote_code(built)
    return out


def _remote_code(built: Built) -> list:
    if built.ir["trust_remote_code"] is not True:
        return []
    return [Diagnostic.at(built.where.value(("trust_remote_code",)), "trust-remote-code",
                          "`trust_remote_code: true`: the model folder's own Python code will "
                          "run; only for models you trust",
                          "leave it out unless the model needs its own code and you have read it",
                          severity=WARNING)]


def _needs_head(built: Built) -> list:
    ir = built.ir
    if ir["verbalizer"] is None and not built.generation:
        return [Diagnostic.at(built.where.fallback, "missing-block",
                              f"task `{ir['name']}` has no `verbalizer` and no `target`",
                              "a task classifies, mapping its labels to words read at the "
                              '[MASK] (`verbalizer { "0": "bad"  "1": "good" }`), or generates '
                              'text there (`target: "{column}"`)')]
    # a malformed template is reported where it is, not as a missing one
    if ir["template"] is None and not built.templates and not built.unparsed:
        return [Diagnostic.at(built.where.fallback, "missing-field",
                              f"task `{ir['name']}` has no `template`",
                              'add e.g. `template: "{sentence} It was [MASK]."`')]
    return []


def _masks(built: Built) -> list:
    out = []
    verbalizer = built.ir["verbalizer"]
    bound = verbalizer["mask"] if verbalizer else None
    generation = built.generation
    for name, template in built.prompt_templates():
        masks = [(p, s) for p, s in zip(template.pieces, template.spans) if p["type"] == "mask"]
        names = [p["name"] for p, _ in masks if p["name"]]
        if bound is not None:
            if bound not in names:
                out.append(Diagnostic.at(
                    built.where.value(("verbalizer", "mask")), "unknown-mask",
                    f"the verbalizer reads `[MASK:{bound}]`, which template `{name}` does not have",
                    suggestion_hint(bound, names, "named masks") if names else
                    f"name a mask in the template: `[MASK:{bound}]`"))
            continue
        if len(masks) == 1:
            continue
        if not masks:
            out.append(Diagnostic.at(template.span, "no-mask",
                                     f"template `{name}` has no [MASK] slot",
                                     "a generation task produces its `target` at exactly one "
                                     "`[MASK]`; add one where the output goes" if generation else
                                     "a task reads its prediction at exactly one `[MASK]`; add "
                                     "one where the label word goes"))
        else:
            out.append(Diagnostic.at(masks[1][1], "several-masks",
                                     f"template `{name}` has {len(masks)} [MASK] slots",
                                     "a generation task produces its `target` at exactly one "
                                     "`[MASK]`; keep one" if generation else
                                     "a task reads exactly one; name them (`[MASK:a]`) and bind "
                                     "the verbalizer with `mask: a`"))
    return out


def _labels_without_words(built: Built) -> list:
    """A label written with an empty list (`"0": []`): every verbalizer reads each label from
    its words, so the model could not be built. A list whose words were all invalid is already
    reported at those words."""
    verbalizer, block = built.ir["verbalizer"], built.verbalizer_block
    if verbalizer is None:
        return []
    empty_lists = {entry.value.span for entry in (block.body if block else ())
                   if isinstance(entry, ast.Field) and isinstance(entry.value, ast.ListV)
                   and not entry.value.items}
    out = []
    for index, entry in enumerate(verbalizer["labels"]):
        span = built.where.value(("verbalizer", "labels", index))
        if not entry["words"] and span in empty_lists:
            out.append(Diagnostic.at(span, "no-label-words",
                                     f"label {entry['label']!r} has no label words",
                                     f'give it at least one: `"{entry["label"]}": "word"`'))
    return out


def _family(built: Built, registry) -> list:
    ir = built.ir
    if not ir["model"] or not built.templates:
        return []
    config = model_config(ir["model"])
    no_head = lm_head_problem(config) if config else None
    if no_head:                          # what loading it would refuse (model/backbone.py)
        return [Diagnostic.at(built.where.value(("model",)), "bad-model",
                              f"model `{ir['model']}`: {no_head}",
                              "point `model` at a folder saved from the …ForMaskedLM / "
                              "…ForCausalLM / …ForConditionalGeneration class")]
    family = family_of_config(config) if config else None
    if family is None:
        return [Diagnostic.at(built.where.value(("model",)), "unknown-family",
                              f"cannot read the configuration of model `{ir['model']}`; the "
                              "mask placement check was skipped",
                              "give a local folder with config.json, a cached hub id, or a "
                              "model source's name (see `promptc plugins`)", severity=WARNING)]
    generation = built.generation
    if generation and family == MLM:
        return [Diagnostic.at(built.where.key(("target",)), "generation-model",
                              f"model `{ir['model']}` is a masked LM: it fills each [MASK] with "
                              "one token and cannot generate a `target`",
                              "use a causal or seq2seq model (GPT-2, Llama, T5, …)")]
    out = _verbalizer_family(built, registry, family)
    filled = reads_masks(built, registry)
    for name, template in built.prompt_templates():
        why = mask_placement_error(family, template.pieces, filled)
        if why:
            masks = [s for p, s in zip(template.pieces, template.spans) if p["type"] == "mask"]
            out.append(Diagnostic.at(masks[-1] if masks else template.span, "mask-placement",
                                     f"{why} (model `{ir['model']}` is {family})",
                                     "move [MASK] to the end of the template, or use a "
                                     + ("seq2seq model" if generation else
                                        "masked or seq2seq model")))
    return out


def _verbalizer_family(built: Built, registry, family: str) -> list:
    """What a verbalizer asks of the model family: label words scored as generated text (a
    kind that `needs_generation`, or `multi_token: sequence`) need a causal or seq2seq model;
    rules over several masks need a masked or causal one."""
    verbalizer, block = built.ir["verbalizer"], built.verbalizer_block
    spec = registry.verbalizers.get(verbalizer["kind"]) if verbalizer else None
    if spec is None:
        return []
    span = block.kind_span if block is not None and block.kind_span else built.where.fallback
    model = built.ir["model"]
    if spec.needs_generation and family == MLM:
        return [Diagnostic.at(span, "generation-model",
                              f"verbalizer `{spec.name}` scores label words as generated text, "
                              f"and model `{model}` is a masked LM",
                              "use a causal or seq2seq model, or the `manual` verbalizer")]
    if verbalizer["options"].get("multi_token") == "sequence" and family == MLM and \
            not spec.reads_masks:
        return [Diagnostic.at(built.where.value(("verbalizer", "options", "multi_token")),
                              "generation-model", f"`multi_token: sequence` scores each label "
                              f"word as a continuation, and model `{model}` is a masked LM",
                              "use `mean`, `first` or `max` (read at the one mask), or a causal "
                              "or seq2seq model")]
    if spec.reads_masks and family == SEQ2SEQ:
        return [Diagnostic.at(span, "rules-model",
                              f"verbalizer `{spec.name}` reads several masks on masked and "
                              f"causal models; model `{model}` is seq2seq, which it does not "
                              "read yet", "use a masked LM (all masks in one pass) or a causal "
                              "LM (each label's filled sequence scored)")]
    return []


def _composition(built: Built, registry) -> list:
    """A method that trains nothing (its spec says `trains=False`: it evaluates, or runs its
    own pipeline) stands alone: there is nothing for another method to adapt. So does a
    template search: what it finds is a task file that other methods then train."""
    methods = built.ir["methods"]
    specs = [registry.methods.get(m["name"]) for m in methods]
    alone = next((spec for spec in specs if spec is not None and
                  (not spec.trains or spec.searches_template)), None)
    if alone is None or len(methods) < 2:
        return []
    others = [m["name"] for m in methods if m["name"] != alone.name]
    what = "searches the template (its found.prompt is what other methods train)" \
        if alone.searches_template else "evaluates only (it trains nothing)"
    return [Diagnostic.at(built.where.value(("methods", index)), "method-composition",
                          f"method `{alone.name}` {what}, so it cannot be combined with "
                          f"{_named(others)}",
                          f"keep `method {alone.name} {{ }}` alone, or drop it to train with "
                          f"{_named(others)}")
            for index in range(1, len(methods))]


def _search_slots(built: Built, registry) -> list:
    """A template search turns the template's soft tokens into words: it needs some."""
    out = []
    for index, method in enumerate(built.ir["methods"]):
        spec = registry.methods.get(method["name"])
        if spec is None or not spec.searches_template:
            continue
        for name, template in built.prompt_templates():
            if not any(p["type"] == "soft" for p in template.pieces):
                out.append(Diagnostic.at(
                    built.where.value(("methods", index)), "no-search-slot",
                    f"method `{spec.name}` searches words for the template's soft tokens, and "
                    f"template `{name}` has none",
                    "mark where the words go: `{sentence} <soft*4> [MASK]`"))
    return out


def _named(names: list) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _soft_without_training(built: Built, registry) -> list:
    methods = [registry.methods.get(m["name"]) for m in built.ir["methods"]]
    if not methods or any(m is None or m.trains for m in methods):
        return []
    for _, template in built.prompt_templates():
        for piece, span in zip(template.pieces, template.spans):
            if piece["type"] == "soft":
                names = ", ".join(m.name for m in methods)
                return [Diagnostic.at(span, "untrained-soft", "soft tokens are never trained "
                                      f"under `{names}`", "they stay at their initial "
                                      "embeddings; use a method that trains, or write words",
                                      severity=WARNING)]
    return []


def _splits(built: Built, registry) -> list:
    ir = built.ir
    methods = [registry.methods.get(m["name"]) for m in ir["methods"]]
    if any(m is None for m in methods) or not methods:
        return []
    data = ir["data"]
    trains = [m.name for m in methods if m.trains]
    where = built.where.key(("data",))
    if trains and not data["train"]:
        return [Diagnostic.at(where, "missing-split", f"method `{trains[0]}` trains, but `data` "
                              "has no `train` file", 'add `train: "…"` to `data`')]
    if not trains and not (data["test"] or data["validation"]):
        return [Diagnostic.at(where, "missing-split", "nothing to evaluate: `data` has no "
                              "`test` or `validation` file", 'add `test: "…"` to `data`')]
    return []
