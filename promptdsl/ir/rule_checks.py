"""Checks of a verbalizer that reads several masks (PTR's rules; a kind whose spec says
`reads_masks`): every mask of the template has a name and is read once, every label gives every
mask exactly one word, and each word is one of its mask's answers when the block lists them
(`answers: e1 "cause", e1 "effect", …`)."""
from __future__ import annotations

from ..diagnostics import Diagnostic, suggestion_hint
from ..syntax import ast
from .build import Built, declared_options, is_label

ANSWERS = "answers"


def reads_masks(built: Built, registry) -> bool:
    verbalizer = built.ir["verbalizer"]
    spec = registry.verbalizers.get(verbalizer["kind"]) if verbalizer else None
    return bool(spec and spec.reads_masks)


def rule_checks(built: Built, registry) -> list:
    if not reads_masks(built, registry):
        return []
    kind = built.ir["verbalizer"]["kind"]
    out, names = [], None
    if built.ir["verbalizer"]["mask"] is not None:
        out.append(Diagnostic.at(built.where.value(("verbalizer", "mask")), "rules-mask-field",
                                 f"verbalizer `{kind}` reads every mask of the template; "
                                 "`mask:` does not apply", "remove `mask:`"))
    demonstrations = built.ir["data"].get("demonstrations")
    if isinstance(demonstrations, int) and not isinstance(demonstrations, bool) and \
            demonstrations > 0:
        out.append(Diagnostic.at(built.where.value(("data", "demonstrations")), "not-supported",
                                 f"in-context demonstrations are not built for verbalizer "
                                 f"`{kind}` (a demonstration would need a word per mask)",
                                 "leave `demonstrations` at 0"))
    for name, template in built.prompt_templates():
        masks = [(p["name"], s) for p, s in zip(template.pieces, template.spans)
                 if p["type"] == "mask"]
        out += _mask_names(name, masks, template.span, kind)
        these = [n for n, _ in masks if n]
        if names is None:
            names = these
        elif sorted(these) != sorted(names) and these:
            out.append(Diagnostic.at(template.span, "rules-masks-differ",
                                     f"template `{name}` has the masks {_listed(these)}, the "
                                     f"first template {_listed(names)}",
                                     "every template of the task names the same masks"))
    if not names:
        return out
    block = built.verbalizer_block
    fields = _label_fields(block, registry, kind)
    answers = _answers(block)
    seen = {}
    for field in fields:
        out += _rule(field, names, answers)
        words = tuple(sorted((t, w or "") for t, w, _ in _tagged(field.value)))
        if words and words in seen:
            out.append(Diagnostic.at(field.key_span, "identical-rules",
                                     f"label {field.key_raw or field.key} has the same words as "
                                     f"label {seen[words]}, so the two always score alike",
                                     "give one of them another word at some mask"))
        seen.setdefault(words, field.key_raw or field.key)
    for tag, word, span in answers or ():
        if tag not in names:
            out.append(_unknown_mask(tag, span, names))
    return out


def _listed(names) -> str:
    return ", ".join(f"`{n}`" for n in names) or "none"


def _mask_names(template_name: str, masks: list, span, kind: str) -> list:
    if not masks:
        return [Diagnostic.at(span, "no-mask", f"template `{template_name}` has no [MASK] slot",
                              f"verbalizer `{kind}` reads named masks: add them, e.g. "
                              "`The [MASK:e1] {e1} is [MASK:rel] the [MASK:e2] {e2}.`")]
    out, seen = [], {}
    for name, where in masks:
        if not name:
            out.append(Diagnostic.at(where, "unnamed-mask",
                                     f"verbalizer `{kind}` reads the masks by name",
                                     "name it: `[MASK:e1]`, and tag each label word with it"))
        elif name in seen:
            out.append(Diagnostic.at(where, "repeated-mask",
                                     f"[MASK:{name}] appears twice in template "
                                     f"`{template_name}`", "give each mask its own name"))
        else:
            seen[name] = where
    return out


def _label_fields(block, registry, kind: str) -> list:
    """The block's label fields, as the IR builder reads them."""
    declared = declared_options(registry.verbalizers.get(kind))
    return [e for e in (block.body if block else ())
            if isinstance(e, ast.Field) and is_label(e, declared)]


def _tagged(value) -> list:
    """(tag, word, span) of the tagged items of a value; the word is None when it is not a
    non-empty string (reported when the IR was built)."""
    items = value.items if isinstance(value, ast.ListV) else [value]
    return [(i.tag, i.value.value if isinstance(i.value, ast.Str) and i.value.value.strip()
             else None, i.span) for i in items if isinstance(i, ast.Tagged)]


def _answers(block) -> list | None:
    """The `answers` option's tagged words, or None when it gives none that are valid (its
    schema error is reported; the rules are then checked as without it)."""
    for entry in (block.body if block else ()):
        if isinstance(entry, ast.Field) and not entry.quoted and entry.key == ANSWERS:
            valid = [a for a in _tagged(entry.value) if a[1] is not None]
            return valid or None
    return None


def _unknown_mask(tag: str, span, names: list) -> Diagnostic:
    return Diagnostic.at(span, "unknown-mask", f"the template has no [MASK:{tag}]",
                         suggestion_hint(tag, names, "its masks"))


def _rule(field, names: list, answers: list | None) -> list:
    out, given = [], {}
    label = field.key_raw or field.key
    for tag, word, span in _tagged(field.value):
        if tag not in names:
            out.append(_unknown_mask(tag, span, names))
        elif tag in given:
            out.append(Diagnostic.at(span, "repeated-mask",
                                     f"label {label} gives [MASK:{tag}] two words",
                                     "a rule gives each mask exactly one word"))
        else:
            given[tag] = word
            if answers is not None and word is not None:
                allowed = [w for t, w, _ in answers if t == tag]
                if word not in allowed:
                    out.append(Diagnostic.at(
                        span, "unknown-word", f"{word!r} is not one of the answers of "
                        f"[MASK:{tag}]", suggestion_hint(word, allowed, f"answers of `{tag}`")
                        or f"add `{tag} {word!r}` to `answers`"))
    missing = [n for n in names if n not in given]
    if missing and _tagged(field.value):
        out.append(Diagnostic.at(field.key_span, "rule-missing-mask",
                                 f"label {label} gives no word for {_listed(missing)}",
                                 "a rule gives every mask of the template one word: add "
                                 + ", ".join(f'`{n} "word"`' for n in missing)))
    return out
