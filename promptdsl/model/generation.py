"""Decoding a generation task: each prompt (the template up to its [MASK]) through the model's
own `generate()`, batched and left-padded for causal models (right-padded encoder input and the
family's decoder prefix for seq2seq), with the task's `generate { … }` settings.

Soft tokens reach `generate()` as `inputs_embeds`; prefixes, LoRA and adapters live inside the
model's modules, so the key/value cache and beam search work with every method. Identical
inputs (a multi-reference target's rows) are generated once. Sampling is seeded per batch from
`train.seed` and the batch's tokens, so a run, its `eval --checkpoint` and a resumed run draw
the same text; the global random state is left as it was.
"""
from __future__ import annotations

import weakref
import zlib
from dataclasses import dataclass

import torch

LINE_BREAK = "\n"


@dataclass(frozen=True)
class Decoding:
    """The `generate { … }` settings of a task, defaults filled in."""
    max_new_tokens: int = 32
    beams: int = 1
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple = (LINE_BREAK,)
    seed: int = 0
    use_cache: bool = True     # the key/value cache (off only to check that it changes nothing)


def default_stop(task: dict) -> tuple:
    """The stop strings when `generate.stop` is not given: a line break, unless the target
    template itself holds one (targets of several lines)."""
    target = task.get("target") or {}
    return () if LINE_BREAK in (target.get("text") or "") else (LINE_BREAK,)


def decoding_of(task: dict) -> Decoding:
    settings = dict(task.get("generate") or {})      # the IR's keys, schema-checked
    stop = settings.pop("stop", None)
    return Decoding(**settings, stop=default_stop(task) if stop is None else tuple(stop),
                    seed=int(task["train"]["seed"]))


def cut_at_stop(text: str, stop: tuple) -> str:
    """`text` up to the first stop string, stripped."""
    ends = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[:min(ends)] if ends else text).strip()


def _generation_config(model, decoding: Decoding, pad_id: int):
    from transformers import GenerationConfig
    own = model.hf_model().generation_config
    eos = own.eos_token_id
    eos = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
    if model.tokenizer.eos_token_id is not None:
        eos.append(int(model.tokenizer.eos_token_id))   # what targets are trained to end with
    # a fresh config: only what the task says (a model's own sampling or repetition defaults
    # would silently change the decoding)
    config = GenerationConfig(max_new_tokens=decoding.max_new_tokens, num_beams=decoding.beams,
                              do_sample=decoding.do_sample, pad_token_id=pad_id,
                              use_cache=decoding.use_cache,
                              eos_token_id=sorted(set(eos)) or None,
                              bos_token_id=own.bos_token_id,
                              decoder_start_token_id=own.decoder_start_token_id)
    if decoding.do_sample:
        config.temperature, config.top_p = decoding.temperature, decoding.top_p
    if decoding.stop and _stoppable(model.tokenizer, decoding.stop):
        config.stop_strings = list(decoding.stop)
    return config


_STOPPABLE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()   # tokenizer -> {stop: bool}


def _stoppable(tokenizer, stop: tuple) -> bool:
    """Whether generate() can watch for `stop` with this tokenizer (its stop-string criterion
    refuses strings no token can produce: T5's vocabulary has no line break). Either way the
    output is cut at the first stop string; this only decides whether decoding ends early."""
    known = _STOPPABLE.setdefault(tokenizer, {})
    if stop not in known:
        from transformers import StopStringCriteria
        try:
            StopStringCriteria(tokenizer=tokenizer, stop_strings=list(stop))
            known[stop] = True
        except ValueError:
            known[stop] = False
    return known[stop]


def generate_batch(model, batch: dict, decoding: Decoding, pad_id: int) -> list:
    """The generated text of every row of a collated prompt batch (on the model's device)."""
    kwargs = {"inputs_embeds": model.input_embeddings(batch),
              "attention_mask": batch["attention_mask"]}
    prefix = batch.get("decoder_input_ids")
    if prefix is not None:
        kwargs["decoder_input_ids"] = prefix
    for hook in model.backbone_kwargs_hooks:
        hook(batch, kwargs)
    config = _generation_config(model, decoding, pad_id)
    extra = {"tokenizer": model.tokenizer} if config.stop_strings else {}
    with torch.random.fork_rng(devices=[model.device] if model.device.type == "cuda" else []):
        if decoding.do_sample:
            crc = zlib.crc32(batch["input_ids"].cpu().numpy().tobytes())
            torch.manual_seed((decoding.seed * 1_000_003 + crc) % (2 ** 63))
        out = model.hf_model().generate(**kwargs, generation_config=config, **extra)
    if prefix is not None:
        out = out[:, prefix.shape[1]:]       # seq2seq returns the decoder prefix too
    texts = model.tokenizer.batch_decode(out, skip_special_tokens=True,
                                         clean_up_tokenization_spaces=False)
    return [cut_at_stop(text, decoding.stop) for text in texts]


def generate_texts(model, rows, *, decoding: Decoding | None = None, **map_options) -> list:
    """The generated text of every row (a Table, row dicts, texts or Features), in row order;
    identical inputs are generated once. `map_options`: those of `map_rows`."""
    from .rows import features_of, map_rows
    features = features_of(model, rows).without_targets()
    decoding = decoding or decoding_of(model.task)
    group, firsts = features.input_groups()
    distinct = features.select(firsts)
    map_options.setdefault("desc", "generate")
    texts = map_rows(model, distinct,
                     lambda batch: generate_batch(model, batch, decoding, features.pad_id),
                     **map_options)
    return [texts[g] for g in group]
