"""OpenPrompt 1.0.1's column (figure 3); runs in benchmarks/.venv-openprompt (openprompt_env.sh).

Written as OpenPrompt's tutorials write it: InputExamples, a ManualTemplate (finetune) or a
SoftTemplate (prompt tuning: soft tokens prepended, model frozen), a ManualVerbalizer, a
PromptDataLoader (which wraps and tokenizes example by example and pads every example to
max_seq_length), PromptForClassification, and `torch.save(prompt_model.state_dict())` as its
ClassificationRunner saves. OpenPrompt has no LoRA.
"""
from __future__ import annotations

import csv
import random
import warnings

import torch

from .protocol import Worker, main

warnings.filterwarnings("ignore")

# OpenPrompt's template language for benchmarks.sst2.TEMPLATES
TEMPLATES = {"mlm": '{"placeholder":"text_a"} It was {"mask"} .',
             "causal": '{"placeholder":"text_a"} It was {"mask"}'}


SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "pad_token", "cls_token", "sep_token",
                  "mask_token")


def load_tokenizer(model_dir: str, workdir: str):
    """The model type's slow (Python) tokenizer, as OpenPrompt's own `load_plm` gives it:
    OpenPrompt calls `get_special_tokens_mask`, which fast tokenizers do not implement. Its
    vocabulary files are written from tokenizer.json (transformers 5 saves only that)."""
    import json
    from pathlib import Path
    from transformers.models.auto.tokenization_auto import (TOKENIZER_MAPPING_NAMES,
                                                            tokenizer_class_from_name)
    folder = Path(workdir) / ("slow-tokenizer-" + Path(model_dir).name)
    folder.mkdir(parents=True, exist_ok=True)
    config = json.loads(Path(model_dir, "tokenizer_config.json").read_text(encoding="utf-8"))
    model = json.loads(Path(model_dir, "tokenizer.json").read_text(encoding="utf-8"))["model"]
    files = {}
    if model["type"] == "WordPiece":
        vocab = sorted(model["vocab"], key=model["vocab"].get)
        files["vocab_file"] = folder / "vocab.txt"
        files["vocab_file"].write_text("\n".join(vocab) + "\n", encoding="utf-8")
    else:  # byte-level BPE
        files["vocab_file"] = folder / "vocab.json"
        files["vocab_file"].write_text(json.dumps(model["vocab"]), encoding="utf-8")
        files["merges_file"] = folder / "merges.txt"
        merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
        files["merges_file"].write_text("#version: 0.2\n" + "\n".join(merges) + "\n",
                                        encoding="utf-8")
    model_type = json.loads(Path(model_dir, "config.json").read_text())["model_type"]
    cls = tokenizer_class_from_name((TOKENIZER_MAPPING_NAMES.get(model_type) or ("",))[0])
    if cls is None or set(cls.vocab_files_names) != set(files):
        # the model type's own slow class reads other files (Llama: sentencepiece) than the
        # tokenizer really has (SmolLM2: byte-level BPE): use the slow class of that kind
        cls = tokenizer_class_from_name("BertTokenizer" if model["type"] == "WordPiece"
                                        else "GPT2Tokenizer")
    specials = {k: config[k] for k in SPECIAL_TOKENS if isinstance(config.get(k), str)}
    return cls(**{k: str(v) for k, v in files.items()},
               model_max_length=config.get("model_max_length", 512), **specials)


class OpenPromptWorker(Worker):
    label_key = "label"
    name = "openprompt"

    def load(self):
        import transformers
        from openprompt import PromptForClassification
        from openprompt.plms import LMTokenizerWrapper, MLMTokenizerWrapper
        from openprompt.prompts import ManualTemplate, ManualVerbalizer, SoftTemplate
        cfg = self.cfg
        method = cfg["method"]
        if method not in ("finetune", "prompt_tuning"):
            raise SystemExit(f"OpenPrompt has no method {method!r}")
        self.tokenizer = load_tokenizer(cfg["model_dir"], cfg["workdir"])
        plm = getattr(transformers, cfg["model_class"]).from_pretrained(cfg["model_dir"])
        self.wrapper_class = LMTokenizerWrapper if cfg["family"] == "causal" \
            else MLMTokenizerWrapper
        text = TEMPLATES[cfg["family"]]
        if method == "prompt_tuning":
            self.template = SoftTemplate(model=plm, tokenizer=self.tokenizer, text=text,
                                         num_tokens=cfg["soft_tokens"])
        else:
            self.template = ManualTemplate(tokenizer=self.tokenizer, text=text)
        words = [[w] for w in cfg["label_words"]]
        verbalizer = ManualVerbalizer(self.tokenizer, num_classes=len(words), label_words=words)
        self.model = PromptForClassification(plm=plm, template=self.template,
                                             verbalizer=verbalizer,
                                             freeze_plm=(method == "prompt_tuning"))

    def module(self):
        return self.model

    def trainable_parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def _examples(self, path, limit, shuffle):
        from openprompt.data_utils import InputExample
        with open(path, encoding="utf-8", newline="") as f:
            rows = [(r["sentence"].strip(), r["label"].strip())
                    for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)][:limit]
        if shuffle:
            random.Random(self.cfg["seed"]).shuffle(rows)
        labels = list(self.cfg["label_values"])
        return [InputExample(guid=i, text_a=s, label=labels.index(y))
                for i, (s, y) in enumerate(rows)]

    def _loader(self, examples, batch_size):
        from openprompt import PromptDataLoader
        loader = PromptDataLoader(dataset=examples, template=self.template,
                                  tokenizer=self.tokenizer,
                                  tokenizer_wrapper_class=self.wrapper_class,
                                  max_seq_length=self.cfg["max_length"], batch_size=batch_size,
                                  shuffle=False, truncate_method="head")
        return list(loader)   # collating runs while iterating: part of data preparation

    def prepare(self, train_path, dev_path):
        cfg = self.cfg
        train = self._examples(train_path, cfg["prep_limit"], shuffle=True)
        dev = self._examples(dev_path, cfg["eval_limit"], shuffle=False)
        return (self._loader(train, cfg["batch_size"]),
                self._loader(dev, cfg["eval_batch_size"]))

    def loss(self, batch):
        logits = self.model(batch)
        return torch.nn.functional.cross_entropy(logits.float(), batch["label"])

    def predict(self, batch):
        return self.model(batch).argmax(-1), batch["label"]

    def save(self, directory):
        torch.save(self.model.state_dict(), directory / "model.pt")


if __name__ == "__main__":
    main(OpenPromptWorker)
