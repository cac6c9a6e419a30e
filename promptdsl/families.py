"""The one place that knows model families: what each means, and where each reads the mask.

A family is a `Family` object; `get(name)` gives the one for a family name ("mlm", "causal",
"seq2seq", the strings `model.family`, the IR and plugins use). Everything that differs by family
asks it instead of comparing names: which Auto class loads the model (`auto_class`), where a
[MASK] may stand (`placement_error`, used by `promptc check`, compile and the renderer), whether
the mask is a token of the input (`mask_in_input`) and where the prediction is read (`reads`),
the padding side, which of the tokenizer's own prefix/suffix tokens are kept (`frame`), the
decoder's input (`decoder_prefix`) and the backbone call's extra keyword arguments
(`backbone_kwargs`). A new family (e.g. a BART-style seq2seq that reads a mask token) is one
more instance in `_FAMILIES`.

`family_of_config` names the family from a config (`promptc check`: no weights). No model list:
the family comes from the config's own flags and architecture names.
"""
from __future__ import annotations

from dataclasses import dataclass

MLM, CAUSAL, SEQ2SEQ = "mlm", "causal", "seq2seq"

# where a family's prediction is read
AT_MASK = "mask"          # the mask token is in the input; its own position is read
NEXT_TOKEN = "next"       # the next token after the last real token (the mask is not input)
DECODER = "decoder"       # the mask marks the encoder input; a decoder step is read


@dataclass(frozen=True)
class Family:
    name: str               # the family's name, as `model.family` and the IR spell it
    title: str              # for messages: "a masked LM cannot …"
    auto_class: str         # the transformers Auto class that loads it with its LM head
    reads: str              # AT_MASK | NEXT_TOKEN | DECODER
    padding_side: str       # "left" when the last position is read, so it is always real
    keep_prefix: bool = True    # keep the tokenizer's own leading special tokens (<s>, [CLS])
    keep_suffix: bool = True    # … and trailing ones (</s>, [SEP])
    sentinels: bool = False     # <extra_id_N> stand for [MASK] when there is no mask token

    @property
    def mask_in_input(self) -> bool:
        """Whether a [MASK] becomes a token of the (encoder) input."""
        return self.reads != NEXT_TOKEN

    @property
    def reads_next_token(self) -> bool:
        """Whether the prediction is the next token after the last real one (decoder-only LMs:
        they can also generate from there)."""
        return self.reads == NEXT_TOKEN

    @property
    def generates(self) -> bool:
        """Whether the family can produce text after the prompt (causal and seq2seq models;
        a masked LM fills each mask with one token)."""
        return self.reads != AT_MASK

    @property
    def has_decoder(self) -> bool:
        return self.reads == DECODER

    def placement_error(self, pieces: list[dict], filled: bool = False) -> str | None:
        """Why the template's mask placement is illegal for this family, or None when it is
        fine. A masked LM reads `[MASK]` anywhere, a seq2seq model predicts it in the decoder
        (anywhere in the encoder input); a next-token reader predicts the token after the
        input, so it has one mask and it must be the last piece (only whitespace may follow).
        `filled`: the verbalizer scores each label's filled sequence (rules over several
        masks), so a next-token reader takes masks anywhere too."""
        if not self.reads_next_token or filled:
            return None
        masks = [i for i, p in enumerate(pieces) if p.get("type") == "mask"]
        if not masks:
            return None
        trailing = pieces[masks[-1] + 1:]
        if any(not (p.get("type") == "text" and not p.get("text", "").strip()) for p in trailing):
            return (f"a {self.name} model predicts the next token, so [MASK] must be the last "
                    "thing in the template")
        if len(masks) > 1:
            return f"a {self.name} model predicts only the next token: use one [MASK]"
        return None

    def frame(self, prefix: list, suffix: list) -> tuple:
        """(prefix, suffix): the tokenizer's own special tokens around one text that this
        family keeps (a next-token reader drops the suffix: nothing may follow the position
        whose next token is read)."""
        return (list(prefix) if self.keep_prefix else []), (list(suffix) if self.keep_suffix
                                                            else [])

    def decoder_prefix(self, start_id: int | None, pad_id: int,
                       span_opener: int | None = None) -> list | None:
        """The decoder_input_ids every row shares, None for families without a decoder: the
        decoder start (the pad id when the config has none), then `span_opener`, the sentinel
        that opens the mask's span when there is one (T5 predicts "<extra_id_0> word"). The
        last decoder position is read."""
        if not self.has_decoder:
            return None
        prefix = [int(pad_id if start_id is None else start_id)]
        if span_opener is not None:
            prefix.append(int(span_opener))
        return prefix

    def backbone_kwargs(self, batch: dict) -> dict:
        """Keyword arguments this family adds to the backbone call for `batch`."""
        kwargs = {}
        if self.reads != AT_MASK:
            kwargs["use_cache"] = False     # one forward pass: no key/value cache to build
        if self.padding_side == "left":
            # left padding: positions count real tokens only
            kwargs["position_ids"] = (batch["attention_mask"].long().cumsum(-1) - 1).clamp(min=0)
        if self.has_decoder:
            kwargs["decoder_input_ids"] = batch["decoder_input_ids"]
            if "decoder_attention_mask" in batch:      # teacher-forced targets of several lengths
                kwargs["decoder_attention_mask"] = batch["decoder_attention_mask"]
        return kwargs

    def read_module(self, hf_model):
        """The module whose output is the final hidden states the LM head reads: the decoder,
        else the base model (None when the model has no separate one)."""
        if self.has_decoder:
            return hf_model.get_decoder()
        base = hf_model.base_model
        return None if base is hf_model else base

    def last_hidden_state(self, output):
        """The final hidden states in a backbone output computed with output_hidden_states."""
        states = output.decoder_hidden_states if self.has_decoder else output.hidden_states
        return states[-1]


_FAMILIES = (
    Family(MLM, "masked LM", "AutoModelForMaskedLM", reads=AT_MASK, padding_side="right"),
    Family(CAUSAL, "causal LM", "AutoModelForCausalLM", reads=NEXT_TOKEN, padding_side="left",
           keep_suffix=False),
    Family(SEQ2SEQ, "sequence-to-sequence model", "AutoModelForSeq2SeqLM", reads=DECODER,
           padding_side="right", sentinels=True),
)
_BY_NAME = {family.name: family for family in _FAMILIES}
FAMILIES = tuple(_BY_NAME)


def get(family: "str | Family") -> Family:
    """The Family called `family` (a Family is returned as it is)."""
    if isinstance(family, Family):
        return family
    try:
        return _BY_NAME[family]
    except KeyError:
        from .errors import ModelError
        raise ModelError(f"unknown model family `{family}`; known: {', '.join(FAMILIES)}") \
            from None


def mask_placement_error(family: str, pieces: list[dict], filled: bool = False) -> str | None:
    """`get(family).placement_error(pieces, filled)` (for callers that hold a family name)."""
    return get(family).placement_error(pieces, filled)


# architecture class names that carry a language-model head (the Auto classes' own suffixes)
LM_HEAD_SUFFIXES = ("ForMaskedLM", "ForCausalLM", "LMHeadModel", "ForConditionalGeneration",
                    "ForPreTraining", "WithLMHead")


def lm_head_problem(config: dict) -> str | None:
    """Why a config's `architectures` says the saved weights have no language-model head (a
    bare `BertModel`, a `…ForSequenceClassification`), or None. A head that is only the tied
    input embeddings (a bare GPT-2 / T5 with `tie_word_embeddings`) needs no weights of its
    own, so it is fine; a masked LM's head always has its own (transform, bias)."""
    architectures = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    if not architectures or any(a.endswith(LM_HEAD_SUFFIXES) for a in architectures):
        return None
    family = family_of_config(config)
    if family != MLM and config.get("tie_word_embeddings", True):
        return None
    return (f"the saved weights are a {', '.join(architectures)}, which has no language-model "
            "head; loading it as a language model would initialise the head at random, and "
            "label words would be read from random weights. Use a checkpoint saved with its "
            "language-model head (architectures ending in ForMaskedLM, ForCausalLM or "
            "ForConditionalGeneration)")


def family_of_config(config: dict) -> str | None:
    """Family from a config dict (`config.to_dict()` or config.json); None if it cannot tell."""
    if config.get("is_encoder_decoder"):
        return SEQ2SEQ
    for arch in config.get("architectures") or []:
        if arch.endswith("ForMaskedLM"):
            return MLM
        if arch.endswith(("ForCausalLM", "LMHeadModel")):
            return CAUSAL
        if arch.endswith("ForConditionalGeneration"):
            return SEQ2SEQ
    if config.get("is_decoder"):
        return CAUSAL
    # encoder-only configs without architectures (e.g. built from scratch) are masked LMs
    model_type = config.get("model_type", "")
    if model_type:
        try:
            from transformers.models.auto.modeling_auto import (
                MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_FOR_MASKED_LM_MAPPING_NAMES,
                MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES)
        except ImportError:  # pragma: no cover - transformers is a dependency
            return None
        if model_type in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES:
            return SEQ2SEQ
        # encoders such as BERT also have a causal head class; the masked one is their own
        if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
            return MLM
        if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
            return CAUSAL
    return None
