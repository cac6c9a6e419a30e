"""Tiny random models of every family, with real fast tokenizers, built offline in well under a
second each and saved to a directory so tests go through real `from_pretrained`.

Families and their tokenizers (special tokens as the real models have them):
- bert:    WordPiece, lower-cased, [CLS] … [SEP], [MASK], [PAD]            (mlm)
- roberta: byte-level BPE, <s> … </s>, <mask>, <pad>                        (mlm)
- gpt2:    byte-level BPE, <|endoftext|> as bos/eos/unk, NO pad token        (causal)
- llama:   byte-level BPE, <s> prepended, </s>, <pad>, tied embeddings       (causal)
- t5:      Unigram with Metaspace (SentencePiece-like), </s> appended, <pad>, <unk>,
           sentinels <extra_id_0> … <extra_id_9>                             (seq2seq)

Hidden size 32, 2 layers, 2 heads; weights random but seeded, so every build is identical.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import torch

MODEL_NAMES = ("bert", "roberta", "gpt2", "llama", "t5")
FAMILY_OF = {"bert": "mlm", "roberta": "mlm", "gpt2": "causal", "llama": "causal",
             "t5": "seq2seq"}

# Common words (label words of the example tasks) plus a few SST-2 / AG News / TREC / RTE lines.
WORDS = ("great terrible good bad yes no maybe positive negative neutral sports world business "
         "science technology politics sport tech fine awful wonderful excellent poor movie film "
         "it was this is the a an and of to in question answer true false entailment "
         "not_entailment what who where when how why number location person description "
         "entity abbreviation summary sentence review very really quite .").split()
SST2_LINES = [
    "hide new secretions from the parental units",
    "contains no wit , only labored gags",
    "that loves its characters and communicates something rather beautiful about human nature",
    "remains utterly satisfied to remain the same throughout",
    "on the worst revenge-of-the-nerds clichés the filmmakers could dredge up",
    "it 's a charming and often affecting journey .",
    "unflinchingly bleak and desperate",
    "allows us to hope that nolan is poised to embark a major career as a commercial yet "
    "inventive filmmaker .",
    "the acting , costumes , music , cinematography and sound are all astounding given the "
    "production 's austere locales .",
    "it 's slow -- very , very slow .",
]
OTHER_LINES = [
    "Wall St. Bears Claw Back Into the Black (Reuters) Short-sellers are seeing green again.",
    "How far is it from Denver to Aspen ?",
    "What county is Modesto , California in ?",
    "No Weapons of Mass Destruction Found in Iraq Yet.",
    "It was great. It was terrible. The movie was good. The film was bad. Answer: yes or no?",
    "Question: is this positive or negative? Sports, world, business or science?",
]


def corpus() -> list[str]:
    lines = SST2_LINES + OTHER_LINES + [" ".join(WORDS)]
    # every word alone and after "was " so byte-level BPE learns " great" as one token
    lines += [f"It was {w} ." for w in WORDS] + [f"{w.capitalize()}" for w in WORDS]
    return lines * 3


# ---------------------------------------------------------------- tokenizers (tokenizers lib)

def _wordpiece():
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(corpus(), WordPieceTrainer(vocab_size=600, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok, dict(unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                     sep_token="[SEP]", mask_token="[MASK]")


def _byte_bpe(specials, template=None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from tokenizers.trainers import BpeTrainer
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(vocab_size=700, special_tokens=specials,
                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    steps = [processors.ByteLevel(trim_offsets=False)]
    if template:
        single, pair = template
        used = [t for t in specials if t in single + pair]
        steps.append(processors.TemplateProcessing(
            single=single, pair=pair, special_tokens=[(t, tok.token_to_id(t)) for t in used]))
    tok.post_processor = processors.Sequence(steps)
    return tok


def _roberta_tok():
    tok = _byte_bpe(["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                    ("<s> $A </s>", "<s> $A </s> </s> $B </s>"))
    return tok, dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                     cls_token="<s>", sep_token="</s>", mask_token="<mask>")


def _gpt2_tok():
    tok = _byte_bpe(["<|endoftext|>"])
    return tok, dict(bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                     unk_token="<|endoftext|>")


def _llama_tok():
    tok = _byte_bpe(["<unk>", "<s>", "</s>", "<pad>"], ("<s> $A", "<s> $A <s> $B"))
    return tok, dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>")


def _unigram_vocab(specials: list) -> list:
    """A SentencePiece-like Unigram vocabulary built from the corpus by counting, not by the
    tokenizers trainer (whose EM runs in threads and gives another vocabulary in every process):
    every corpus word as one "▁word" piece scored by its frequency, then every character alone
    and word-initial, so that any text of the corpus's alphabet tokenizes."""
    import math
    from collections import Counter
    words = Counter(w for line in corpus() for w in line.split())
    total = sum(words.values())
    vocab = [(t, 0.0) for t in specials]
    vocab += [("▁" + w, math.log(n / total)) for w, n in sorted(words.items())]
    chars = sorted({c for w in words for c in w})
    vocab += [(c, -20.0) for c in chars] + [("▁" + c, -19.0) for c in chars
                                             if "▁" + c not in dict(vocab)]
    vocab.append(("▁", -21.0))
    return vocab


def _t5_tok():
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    sentinels = [f"<extra_id_{i}>" for i in range(10)]
    specials = ["<pad>", "</s>", "<unk>"]
    tok = Tokenizer(models.Unigram(_unigram_vocab(specials), unk_id=specials.index("<unk>")))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(),
                                           normalizers.Replace(" {2,}", " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.add_special_tokens(sentinels)
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>",
        special_tokens=[("</s>", tok.token_to_id("</s>"))])
    return tok, dict(eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                     additional_special_tokens=sentinels)


# ---------------------------------------------------------------- models

def _config(name, tokenizer):
    import transformers as tf
    ids = {k: tokenizer.convert_tokens_to_ids(v) for k, v in
           (("bos", tokenizer.bos_token), ("eos", tokenizer.eos_token),
            ("pad", tokenizer.pad_token)) if v is not None}
    vocab = len(tokenizer)
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, vocab_size=vocab)
    if name == "bert":
        return tf.BertConfig(max_position_embeddings=128, pad_token_id=ids["pad"], **small), \
            tf.BertForMaskedLM
    if name == "roberta":
        return tf.RobertaConfig(max_position_embeddings=130, pad_token_id=ids["pad"],
                                bos_token_id=ids["bos"], eos_token_id=ids["eos"],
                                type_vocab_size=1, **small), tf.RobertaForMaskedLM
    if name == "gpt2":
        return tf.GPT2Config(n_embd=32, n_layer=2, n_head=2, n_inner=64, n_positions=128,
                             vocab_size=vocab, bos_token_id=ids["bos"],
                             eos_token_id=ids["eos"]), tf.GPT2LMHeadModel
    if name == "llama":
        return tf.LlamaConfig(max_position_embeddings=128, num_key_value_heads=1,
                              tie_word_embeddings=True, bos_token_id=ids["bos"],
                              eos_token_id=ids["eos"], pad_token_id=ids["pad"], **small), \
            tf.LlamaForCausalLM
    if name == "t5":
        return tf.T5Config(d_model=32, d_ff=64, d_kv=16, num_layers=2, num_decoder_layers=2,
                           num_heads=2, vocab_size=vocab, pad_token_id=ids["pad"],
                           eos_token_id=ids["eos"], decoder_start_token_id=ids["pad"],
                           relative_attention_num_buckets=8), \
            tf.T5ForConditionalGeneration
    raise KeyError(f"no tiny model named {name!r}; known: {', '.join(MODEL_NAMES)}")


_TOKENIZERS = {"bert": _wordpiece, "roberta": _roberta_tok, "gpt2": _gpt2_tok,
               "llama": _llama_tok, "t5": _t5_tok}


def build_tokenizer(name: str):
    """The fast tokenizer of tiny model `name` (a transformers PreTrainedTokenizerFast)."""
    from transformers import PreTrainedTokenizerFast
    if name not in _TOKENIZERS:
        raise KeyError(f"no tiny model named {name!r}; known: {', '.join(MODEL_NAMES)}")
    tok, specials = _TOKENIZERS[name]()
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=128, **specials)


def build_model(name: str, seed: int = 0):
    """(model, tokenizer) of tiny model `name`, random weights drawn from `seed`."""
    import torch
    tokenizer = build_tokenizer(name)
    config, cls = _config(name, tokenizer)
    torch.manual_seed(seed)
    model = cls(config).eval()
    return model, tokenizer


def save_tiny_model(name: str, directory, seed: int = 0, change=None) -> Path:
    """Build tiny model `name` and save model + tokenizer to `directory`; return the path.
    `change(model)` edits the weights first (e.g. sharpens them)."""
    directory = Path(directory)
    model, tokenizer = build_model(name, seed)
    if change is not None:
        with torch.no_grad():
            change(model)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


# ---------------------------------------------------------------- data and task helpers

def write_tsv(directory, rows, columns=("sentence", "label"), name="data.tsv") -> Path:
    """Write `rows` (dicts or tuples) as a header + tab-separated file; return its path."""
    path = Path(directory) / name
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\",
                            lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row[c] for c in columns] if isinstance(row, dict) else row)
    return path


SST2_ROWS = [(s, "1" if i in (2, 5, 7, 8) else "0") for i, s in enumerate(SST2_LINES)]


def pieces_from_text(text: str) -> list[dict]:
    """Template pieces (internals §1) for a simple template: `{field}`, `{field|keep}`,
    `[MASK]`, `[MASK:name]`, `[SEP]`, `[CLS]`, `<soft>`, `<soft*N>`, `<soft 'init'>`, text.
    A stand-in until tests can use the real front end."""
    import re
    token = re.compile(r"\{(\w+)((?:\|\w+)*)\}|\[MASK(?::(\w+))?\]|\[(SEP|CLS)\]"
                       r"|<soft(?:\*(\d+)|\s+'([^']*)')?>")
    pieces, pos = [], 0
    for m in token.finditer(text):
        if m.start() > pos:
            pieces.append({"type": "text", "text": text[pos:m.start()]})
        if m.group(1):
            filters = [f for f in m.group(2).split("|") if f]
            pieces.append({"type": "field", "name": m.group(1), "filters": filters,
                           "shortenable": "keep" not in filters})
        elif m.group(0).startswith("[MASK"):
            pieces.append({"type": "mask", "name": m.group(3)})
        elif m.group(4):
            pieces.append({"type": "special", "token": m.group(4).lower()})
        elif m.group(6) is not None:
            pieces.append({"type": "soft", "count": None, "init": m.group(6), "name": None})
        else:
            pieces.append({"type": "soft", "count": int(m.group(5) or 1), "init": None,
                           "name": None})
        pos = m.end()
    if pos < len(text):
        pieces.append({"type": "text", "text": text[pos:]})
    return pieces


def _schema_defaults(section: dict) -> dict:
    """The defaults of one IR section, from the schema that defines them (written once)."""
    from promptdsl.ir.schema import fill_defaults
    return fill_defaults({}, section)


def filled_options(kind: str, name: str, options: dict) -> dict:
    """`options` with the defaults of the plugin's own schema filled in, as the front end does
    (kind: "methods" or "verbalizers")."""
    from promptdsl.ir.schema import fill_defaults
    from promptdsl.registry import get_registry
    spec = getattr(get_registry(), kind).get(name)
    return fill_defaults(dict(options), spec.schema) if spec is not None else dict(options)


def train_defaults() -> dict:
    from promptdsl.ir.schema import TRAIN
    return _schema_defaults(TRAIN)


def data_defaults() -> dict:
    from promptdsl.ir.schema import DATA
    return _schema_defaults(DATA)


def make_task(model, template="{sentence} It was [MASK] .", labels=None, *, name="tiny",
              pieces=None, train=None, test=None, validation=None, unlabeled=None,
              label_column="label", shots=None, sample_seed=13, demonstrations=0,
              verbalizer_kind="manual", verbalizer_options=None, mask=None,
              methods=None, train_options=None, metric="accuracy", file=None) -> dict:
    """A complete task IR (internals §1) with every default filled in.

    `model`: a directory or source name; `labels`: {label: [words]} or {label: "word"};
    `methods`: list of names or of {"name", "options"}; `train_options` override train.*."""
    labels = labels if labels is not None else {"0": ["terrible"], "1": ["great"]}
    label_list = [{"label": str(k), "words": [v] if isinstance(v, str) else list(v)}
                  for k, v in labels.items()]
    methods = methods if methods is not None else [{"name": "zero_shot", "options": {}}]
    methods = [{"name": m, "options": {}} if isinstance(m, str) else
               {"name": m["name"], "options": dict(m.get("options", {}))} for m in methods]
    methods = [{"name": m["name"], "options": filled_options("methods", m["name"], m["options"])}
               for m in methods]
    options = filled_options("verbalizers", verbalizer_kind,
                             {"multi_token": "mean", **(verbalizer_options or {})})
    as_path = lambda p: None if p is None else str(Path(p).resolve())  # noqa: E731
    return {
        "name": name,
        "file": as_path(file) or str(Path(os.getcwd(), f"{name}.prompt")),
        "model": str(model),
        "data": {**data_defaults(), "train": as_path(train), "validation": as_path(validation),
                 "test": as_path(test), "unlabeled": as_path(unlabeled),
                 "label": label_column, "shots": shots, "sample_seed": sample_seed,
                 "demonstrations": demonstrations},
        "template": {"text": template,
                     "pieces": pieces if pieces is not None else pieces_from_text(template)},
        "templates": None,
        "target": None,
        "verbalizer": {"kind": verbalizer_kind, "mask": mask, "labels": label_list,
                       "options": options},
        "methods": methods,
        "train": {**train_defaults(), **(train_options or {})},
        "generate": None,
        "metric": metric,
        "sweep": None,
    }


def generate_defaults() -> dict:
    from promptdsl.ir.schema import GENERATE
    return _schema_defaults(GENERATE)


def gen_task(model, template="{mr} Text: [MASK]", target="{ref}", *, generate=None,
             metric="bleu", **kwargs) -> dict:
    """A generation task IR (`target` instead of a verbalizer), every default filled in;
    `kwargs` as for `make_task`."""
    task = make_task(model, template, metric=metric, **kwargs)
    task["verbalizer"] = None
    task["target"] = {"text": target, "pieces": pieces_from_text(target)}
    task["generate"] = {**generate_defaults(), **(generate or {})}
    return task


GEN_ROWS = [   # (mr, ref): E2E-like, two inputs with two references each
    ("name : Alimentum | area : city centre", "Alimentum is in the city centre ."),
    ("name : Alimentum | area : city centre", "There is a place in the city centre , Alimentum ."),
    ("name : Aromi | food : Chinese", "Aromi serves Chinese food ."),
    ("name : Aromi | food : Chinese", "Aromi is a Chinese restaurant ."),
    ("name : Bibimbap | price : cheap", "Bibimbap is cheap ."),
    ("name : Cotto | food : Italian", "Cotto serves Italian food ."),
]


PET_SECOND_TEMPLATE = "{sentence} All in all, it was [MASK]"


def pet_task(model_dir, folder, rows, options=None, train_options=None) -> dict:
    """A `method pet` task over two templates (a, b): train on rows[::2], test on rows[1::2],
    every row's text unlabelled."""
    train = write_tsv(folder, rows[::2], name="train.tsv")
    test = write_tsv(folder, rows[1::2], name="test.tsv")
    unlabeled = write_tsv(folder, [(t,) for t, _ in rows], columns=("sentence",),
                          name="unlabeled.tsv")
    task = make_task(model_dir, "{sentence} It was [MASK]", train=train, test=test,
                     unlabeled=unlabeled,
                     methods=[{"name": "pet", "options": {
                         "templates": None, "distill": False, "generations": 1,
                         **(options or {})}}],
                     train_options={"max_steps": 2, "batch_size": 4, "learning_rate": 1e-3,
                                    **(train_options or {})})
    task["templates"] = {"a": dict(task["template"]),
                         "b": {"text": PET_SECOND_TEMPLATE,
                               "pieces": pieces_from_text(PET_SECOND_TEMPLATE)}}
    return task


def dump_task(task: dict, path) -> Path:
    """Write a task IR as JSON (what a run directory's task.json holds)."""
    path = Path(path)
    path.write_text(json.dumps(task, indent=2), encoding="utf-8")
    return path


# A front-end project: two rows of data and a masked LM known by its config alone (no weights:
# `check` reads the config for the family rule).
FRONTEND_DATA = "sentence\tlabel\ngood film\t1\nbad film\t0\n"
FRONTEND_TASK = '''task base {
  model: "./mlm"
  data { train: "d.tsv", test: "d.tsv" }
  template: "{sentence} It was [MASK]."
  verbalizer { "0": "bad"  "1": "good" }
  method finetune { }
}
'''


def frontend_project(folder: Path) -> Path:
    """`folder` with d.tsv (FRONTEND_DATA) and mlm/config.json (a BERT masked LM's)."""
    (folder / "d.tsv").write_text(FRONTEND_DATA)
    (folder / "mlm").mkdir(exist_ok=True)
    (folder / "mlm" / "config.json").write_text('{"architectures": ["BertForMaskedLM"]}')
    return folder


def adam_steps(model, batch: dict, steps: int, lr: float) -> None:
    """`steps` Adam steps of `model` on one collated `batch` (train mode), then eval mode."""
    import torch
    model.train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    for _ in range(steps):
        model(batch)["loss"].backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
