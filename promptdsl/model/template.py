"""The compiled template: the IR's pieces with every soft piece given its place in the model's
soft-token table, and the renderer (promptdsl.data) that turns rows into token ids with them.

Soft-token table: row `first … first+count-1` belongs to one soft piece, or to every piece of
one name (`<soft:topic>`: OpenPrompt's soft_id; all its uses share the rows). A piece with init text
has one row per token of that text (counted with the model's tokenizer) and starts from those
tokens' embeddings; a piece with a count and no init starts from sampled vocabulary embeddings.
Methods add soft tokens with `prepend_soft`: the new piece goes before the first piece and its
rows at the end of the table, so rows already handed out keep their index.
"""
from __future__ import annotations

from ..data.render import soft_count, soft_init_ids
from ..errors import ModelError
from ..families import mask_placement_error

VOCAB, RANDOM = "vocab", "random"


class CompiledTemplate:
    def __init__(self, text: str, pieces: list, tokenizer, family: str, model_name: str = "",
                 filled: bool = False):
        self.text, self.tokenizer, self.family = text, tokenizer, family
        # filled: the verbalizer puts each label's words in at the masks (PTR's rules)
        problem = mask_placement_error(family, pieces, filled)
        if problem:
            raise ModelError(f"model `{model_name}` is {family}: {problem}")
        if not any(p.get("type") == "mask" for p in pieces):
            raise ModelError("the template has no [MASK]: there is nothing for the verbalizer "
                             "to read")
        self.pieces: list[dict] = []
        self.soft_init: list = []      # per table row: a token id, VOCAB or RANDOM
        self.version = 0               # bumped when pieces change (renderers are rebuilt)
        self._grow = None              # set by the PromptModel: grows the soft-token table
        self._named: dict = {}         # soft-token name -> the piece that owns its rows
        for piece in pieces:
            piece = dict(piece)
            if piece.get("type") == "soft":
                self._number_soft(piece)
            self.pieces.append(piece)

    @property
    def n_soft(self) -> int:
        return len(self.soft_init)

    def soft_pieces(self) -> list:
        """The soft pieces that own rows of the table (a name's later uses share the first's)."""
        return [p for p in self.pieces if p.get("type") == "soft" and
                (not p.get("name") or self._named.get(p["name"]) is p)]

    def _number_soft(self, piece: dict, init=None) -> range:
        name = piece.get("name")
        owner = self._named.get(name) if name else None
        if owner is not None:            # a name seen before: the same rows again
            count = piece.get("count") or owner["count"]   # null count: as many as the init's
            if (piece.get("init"), count) != (owner.get("init"), owner["count"]):
                raise ModelError(f"soft token `{name}` is used with different counts or init "
                                 "texts; every use of one name must be written alike")
            piece["count"], piece["first"] = owner["count"], owner["first"]
            return range(piece["first"], piece["first"] + piece["count"])
        count = soft_count(self.tokenizer, piece)
        text = piece.get("init")
        if text:
            ids = soft_init_ids(self.tokenizer, text)
            if not ids:
                raise ModelError(f"<soft '{text}'>: the init text has no tokens")
            # a count with init text: cut or repeat the text's tokens to fit
            inits = [ids[i % len(ids)] for i in range(count)]
        else:
            inits = [init or VOCAB] * count
        piece["count"], piece["first"] = count, self.n_soft
        self.soft_init.extend(inits)
        if name:
            self._named[name] = piece
        return range(piece["first"], piece["first"] + count)

    def prepend_soft(self, n: int, init=None) -> range:
        """Add `n` soft tokens before the first piece; return their rows in the soft table.

        `init`: None or "vocab" (sampled vocabulary embeddings), "random", or text (a str or
        {"text": …}) whose token embeddings are cut or repeated to fit."""
        if n <= 0:
            return range(self.n_soft, self.n_soft)
        text = init.get("text") if isinstance(init, dict) else init
        piece = {"type": "soft", "count": n, "init": None}
        if text not in (None, VOCAB, RANDOM):
            piece["init"] = text
            rows = self._number_soft(piece)
        else:
            rows = self._number_soft(piece, text)
        self.pieces.insert(0, piece)
        self.version += 1
        if self._grow is not None:
            self._grow(self.soft_init[rows.start:rows.stop])
        return rows
