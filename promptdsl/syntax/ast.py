"""The typed syntax tree of a .prompt file. Every node keeps the span it came from."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union


@dataclass(frozen=True)
class Span:
    file: str
    start: int           # character offsets into the normalised text
    end: int
    line: int            # 1-based, columns in characters
    column: int
    end_line: int
    end_column: int


@dataclass
class Str:
    value: str
    raw: str                       # the literal as written, quotes included
    span: Span
    offsets: list = field(default_factory=list, repr=False)  # source offset of each value char


@dataclass
class Num:
    value: Union[int, float]
    raw: str
    span: Span


@dataclass
class Bool:
    value: bool
    span: Span


@dataclass
class Null:
    """`null`: no value (a child task unsets an inherited field with it)."""
    span: Span
    value: None = None


@dataclass
class Ident:
    value: str
    span: Span


@dataclass
class Tagged:
    tag: str
    value: Union[Str, Num]
    span: Span


@dataclass
class ListV:
    items: list
    span: Span
    implicit: bool = False         # `a, b` rather than `[a, b]`


Value = Union[Str, Num, Bool, Null, Ident, Tagged, ListV]


@dataclass
class Field:
    key: str
    quoted: bool                   # `"0": …` rather than `zero: …`
    key_span: Span
    value: Any                     # a Value
    span: Span
    key_raw: str = ""


@dataclass
class Block:
    name: str
    name_span: Span
    kind: Optional[str]
    kind_span: Optional[Span]
    body: list                     # of Field | Block
    span: Span
    close_span: Optional[Span] = None


@dataclass
class Import:
    path: Str
    span: Span


@dataclass
class Task:
    name: str
    name_span: Span
    extends: Optional[str]
    extends_span: Optional[Span]
    body: list
    span: Span
    close_span: Optional[Span] = None


@dataclass
class Sweep:
    name: str
    name_span: Span
    body: list
    span: Span
    close_span: Optional[Span] = None


@dataclass
class Comment:
    text: str
    span: Span


@dataclass
class File:
    path: str
    items: list                    # Import | Task | Sweep, in file order
    comments: list = field(default_factory=list)


def plain(value) -> Any:
    """The JSON value of a syntax value (tagged values become {tag: value})."""
    if isinstance(value, ListV):
        return [plain(v) for v in value.items]
    if isinstance(value, Tagged):
        return {value.tag: plain(value.value)}
    return value.value
