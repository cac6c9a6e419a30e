"""Where KPT's extra label words come from: `expand:` names a knowledge-source plugin or a
word-list file (relative to the .prompt file that declares the verbalizer)."""
from __future__ import annotations

import json
from pathlib import Path

from promptdsl.errors import DataError, ModelError
from promptdsl import get_registry


def resolve_path(value: str, task_file: str | None) -> Path:
    """`value` against the folder of the task's .prompt file (IR `file`); absolute stays."""
    path = Path(value).expanduser()
    if not path.is_absolute() and task_file:
        path = Path(task_file).resolve().parent / path
    return path


def read_word_list(path: Path, labels: list[str]) -> dict[str, list[str]]:
    """A word-list file: `.json` {label: [words]}, otherwise one line per label in label order,
    words separated by commas (KPT / OpenPrompt's knowledgeable_verbalizer.txt)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the word list: {exc}", file=path) from exc
    if path.suffix.lower() == ".json":
        try:
            table = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON: {exc.msg}", file=path, line=exc.lineno) from exc
        unknown = [key for key in table if key not in labels]
        if not isinstance(table, dict) or unknown:
            raise DataError(f"expected an object whose keys are the labels {labels}"
                            + (f"; unknown: {unknown}" if unknown else ""), file=path)
        return {label: [str(w) for w in table.get(label, [])] for label in labels}
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != len(labels):
        raise DataError(f"{len(lines)} non-empty lines for {len(labels)} labels: the file needs "
                        "one line of comma-separated words per label, in the verbalizer's "
                        "label order", file=path)
    return {label: [w.strip() for w in line.split(",") if w.strip()]
            for label, line in zip(labels, lines)}


def expanded_words(label_words: dict[str, list[str]], expand: str | None,
                   task_file: str | None) -> dict[str, list[str]]:
    """{label: the user's words followed by the new ones}, without duplicates."""
    if not expand:
        return {label: list(words) for label, words in label_words.items()}
    sources = get_registry().knowledge_sources
    if expand in sources:
        extra = sources[expand].expand({k: list(v) for k, v in label_words.items()}, {})
    else:
        path = resolve_path(expand, task_file)
        if not path.is_file():
            known = ", ".join(sorted(sources)) or "none installed"
            raise ModelError(f"verbalizer knowledgeable: `expand: {expand!r}` is neither a file "
                             f"({path} does not exist) nor a knowledge source (known: {known})")
        extra = read_word_list(path, list(label_words))
    return {label: list(dict.fromkeys([*words, *extra.get(label, [])]))
            for label, words in label_words.items()}
