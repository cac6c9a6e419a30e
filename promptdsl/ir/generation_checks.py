"""Checks of what only one kind of task has. A generation task (one with `target`, the text its
[MASK] slot produces) has no verbalizer, no labels to draw `shots` of, a target of text and
fields only, and methods that work without a verbalizer; a classification task has no use for
a `generate` block. The model-family and metric-kind rules live with their own checks."""
from __future__ import annotations

from ..diagnostics import WARNING, Diagnostic
from ..syntax.template import piece_text
from .build import Built


def generation_checks(built: Built, registry) -> list[Diagnostic]:
    if not built.generation:
        return _unused_generate(built)
    return (_target_and_verbalizer(built) + _target_pieces(built)
            + _methods_need_verbalizer(built, registry) + _data_without_labels(built)
            + _sampling_without_sampling(built))


def _sampling_without_sampling(built: Built) -> list:
    """`temperature` / `top_p` change only sampled decoding."""
    settings = built.ir["generate"] or {}
    if settings.get("do_sample"):
        return []
    return [Diagnostic.at(built.where.key(("generate", key)), "unused-option",
                          f"`generate.{key}` has no effect without `do_sample: true` (greedy "
                          "and beam search take the most likely tokens)",
                          f"add `do_sample: true` to sample, or drop `{key}`", severity=WARNING)
            for key in ("temperature", "top_p") if ("generate", key) in built.where.spans]


def _unused_generate(built: Built) -> list:
    if ("generate",) not in built.where.spans:
        return []
    return [Diagnostic.at(built.where.key(("generate",)), "unused-generate",
                          "`generate` is unused: this task classifies (it has no `target`)",
                          "drop the block, or give the task a `target: \"{column}\"` to generate",
                          severity=WARNING)]


def _target_and_verbalizer(built: Built) -> list:
    block = built.verbalizer_block
    if block is None:
        return []
    return [Diagnostic.at(block.name_span, "target-and-verbalizer",
                          "a task either classifies (`verbalizer`) or generates (`target`), "
                          "not both", "drop the verbalizer to generate the target text, or "
                          "drop `target` to classify")]


def _target_pieces(built: Built) -> list:
    """The target is the text to produce: text and fields; a mask, soft token or special token
    in it is an error at that piece. A target without any field is the same for every row."""
    target = built.templates.get("target")
    if target is None:
        return []                            # malformed: reported where it is
    out = [Diagnostic.at(span, "bad-target", f"`{piece_text(piece)}` in the target: a target "
                         "holds only text and `{fields}`",
                         "the target is the text the `[MASK]` of `template` produces; soft and "
                         "special tokens belong in `template`")
           for piece, span in zip(target.pieces, target.spans)
           if piece["type"] not in ("text", "field")]
    if not any(piece["type"] == "field" for piece in target.pieces):
        out.append(Diagnostic.at(built.where.value(("target",)), "constant-target",
                                 "the target has no `{field}`: every row would get the same "
                                 "target", 'name the column that holds each row\'s output, e.g. '
                                 '`target: "{summary}"`', severity=WARNING))
    return out


def _methods_need_verbalizer(built: Built, registry) -> list:
    usable = sorted(name for name, spec in registry.methods.items() if spec.generation)
    out = []
    for index, method in enumerate(built.ir["methods"]):
        spec = registry.methods.get(method["name"])
        if spec is not None and not spec.generation:
            out.append(Diagnostic.at(
                built.where.value(("methods", index)), "method-needs-verbalizer",
                f"method `{spec.name}` needs a verbalizer (it classifies), but this task "
                "generates its `target`", "methods for generation tasks: " + ", ".join(usable)))
    return out


def _data_without_labels(built: Built) -> list:
    data, out = built.ir["data"], []
    if data.get("shots") is not None:
        out.append(Diagnostic.at(built.where.value(("data", "shots")), "shots-need-labels",
                                 "`shots` draws that many rows per label, and a generation task "
                                 "has no labels", "for a seeded sample of N train rows write "
                                 "`train_rows: N` (with `take: sample`, the default)"))
    demonstrations = data.get("demonstrations")
    if isinstance(demonstrations, int) and not isinstance(demonstrations, bool) \
            and demonstrations > 0:
        out.append(Diagnostic.at(built.where.value(("data", "demonstrations")), "not-supported",
                                 "in-context demonstrations are not built for generation tasks",
                                 "leave `demonstrations` at 0"))
    return out
