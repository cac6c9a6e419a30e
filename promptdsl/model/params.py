"""Trainable-parameter accounting: what trains, what the whole graph holds, what a checkpoint
of the trainable tensors weighs, and how much of the template the prefix cache shares.
`describe(task)` and `report(task)` answer without loading weights (the backbone is built on the
meta device from its config), for `promptc check --params`."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..syntax.template import soft_text, template_text


@dataclass
class ParameterCount:
    trainable: int          # parameters with requires_grad (tied tensors counted once)
    total: int              # every parameter of the graph, tied tensors counted once
    trainable_bytes: int    # size of those tensors in a checkpoint (safetensors, their dtypes)

    @property
    def trainable_percent(self) -> float:
        return 100.0 * self.trainable / self.total if self.total else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "trainable_percent": round(self.trainable_percent, 4)}

    def __str__(self) -> str:
        return (f"{self.trainable:,} trainable of {self.total:,} parameters "
                f"({self.trainable_percent:.3f}%), checkpoint ≈ {human_bytes(self.trainable_bytes)}")


def count(model) -> ParameterCount:
    """Counts for a built model (a PromptModel or any nn.Module)."""
    trainable = total = size = 0
    for parameter in model.parameters():   # shared (tied) parameters are yielded once
        total += parameter.numel()
        if parameter.requires_grad:
            trainable += parameter.numel()
            size += parameter.numel() * parameter.element_size()
    return ParameterCount(trainable, total, size)


def trainable_groups(model) -> dict:
    """{parameter name with layer numbers as `*`: trainable parameters}, so a user sees *what*
    trains ("backbone.model.layers.*.self_attn.q_proj.lora_A.default.weight"), not only how much."""
    groups: dict = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad and parameter.numel():
            key = ".".join("*" if part.isdigit() else part for part in name.split("."))
            groups[key] = groups.get(key, 0) + parameter.numel()
    return groups


@dataclass
class PrefixShare:
    """What the prefix cache computes once for a task (`promptdsl.model.prefix_cache` decides;
    this only reports): the template pieces before the first soft token and the first [MASK]."""
    enabled: bool
    reason: str              # why the cache is off, or why nothing is shared ("" when it shares)
    shared: list             # template pieces computed once per distinct input
    rest: list               # the pieces that run every step
    demonstrations: int = 0  # in-context demonstrations per label before the query (shared too)
    draw: str = "per_query"  # data.demonstration_draw

    @property
    def shares(self) -> bool:
        return self.enabled and bool(self.shared or self.demonstrations)

    def as_dict(self) -> dict:
        return {"enabled": self.enabled, "shares": self.shares, "reason": self.reason,
                "shared": one_line(self.shared), "rest": one_line(self.rest),
                "demonstrations": self.demonstrations, "demonstration_draw": self.draw}

    def __str__(self) -> str:
        if not self.enabled:
            return f"prefix cache: off — {self.reason}"
        if not self.shares:
            return f"prefix cache: on, but nothing is shared — {self.reason}"
        parts = []
        if self.demonstrations:
            how = ("the same before every query" if self.draw == "fixed"
                   else "drawn for each query")
            many = "" if self.demonstrations == 1 else "s"
            parts.append(f"{self.demonstrations} demonstration{many} per label ({how})")
        if self.shared:
            parts.append(f"`{one_line(self.shared)}` ({piece_counts(self.shared)})")
        # without soft tokens the read position (the last token before [MASK]) runs too
        last = "" if any(p["type"] == "soft" for p in self.rest) else \
            ", all but its last token (where the label is read),"
        return (f"prefix cache: on — {' then '.join(parts)}{last} is computed once per distinct "
                f"input; the rest (`{one_line(self.rest)}`) runs every step")


def prefix_share(model) -> PrefixShare:
    """The PrefixShare of a built model: `prefix_cache.plan` says whether; the template's pieces
    say what lies before the first trainable piece."""
    from ..train.demonstrations import draw_option
    from .prefix_cache import plan
    task = model.task
    demonstrations, draw = int(task["data"].get("demonstrations") or 0), draw_option(task)
    pieces = model.template.pieces
    first = next(i for i, p in enumerate(pieces) if p["type"] in ("soft", "mask"))
    shared, rest = pieces[:first], pieces[first:]
    decided = plan(model)
    if not decided.enabled:
        return PrefixShare(False, decided.reason, shared, rest, demonstrations, draw)
    reason = ""
    if not shared and not demonstrations:
        reason = nothing_shared(task, pieces)
    return PrefixShare(True, reason, shared, rest, demonstrations, draw)


def nothing_shared(task: dict, pieces: list) -> str:
    """Why a cache-able model shares nothing (its first piece trains), with the template that
    would share the text: the soft tokens moved after the last field."""
    first = pieces[0]
    if first["type"] == "mask":
        return "nothing comes before the [MASK]"
    prepended = len(pieces) - len(task["template"]["pieces"])
    own = pieces[prepended:] if prepended > 0 else pieces[1:]
    # a method's soft tokens take the method's init, so the template needs only their count
    soft = f"<soft*{first['count']}>" if prepended > 0 else soft_text(first)
    fields = [i for i, p in enumerate(own) if p["type"] == "field"]
    cut = fields[-1] + 1 if fields else next(i for i, p in enumerate(own) if p["type"] == "mask")
    moved = f"{one_line(own[:cut])} {soft}{one_line(own[cut:])}"
    who = ("a method puts" if prepended > 0 else "the template puts")
    undo = " (with `prompt_tuning`, leave `length` unset or 0)" if prepended > 0 else ""
    return (f"{who} `{soft}` before the first piece, so every position depends on trainable "
            f"input; write the soft tokens into the template after the text{undo}, e.g. "
            f"`{moved.strip()}`")


def one_line(pieces: list) -> str:
    """Pieces written back as template text (newlines as `\\n`, for one line of output)."""
    return template_text(pieces).replace("\n", "\\n")


def piece_counts(pieces: list) -> str:
    """`1 field, 1 text piece`: what kinds of pieces a shared beginning holds."""
    words = {"field": "field", "text": "text piece", "special": "special token"}
    counts: dict = {}
    for piece in pieces:
        counts[piece["type"]] = counts.get(piece["type"], 0) + 1
    return ", ".join(f"{n} {words[kind]}{'' if n == 1 else 's'}"
                     for kind, n in counts.items() if kind in words)


@dataclass
class TaskReport:
    counts: ParameterCount
    groups: dict
    prefix: PrefixShare


def report(task: dict) -> TaskReport:
    """What `promptc check --params` shows of a task, built once on the meta device."""
    from .compile import compile_task
    model = compile_task(task, meta=True)
    return TaskReport(count(model), trainable_groups(model), prefix_share(model))


def describe(task: dict) -> tuple:
    """(ParameterCount, trainable_groups) of a task, built on the meta device (no weights)."""
    described = report(task)
    return described.counts, described.groups


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
