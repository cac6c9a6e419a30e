"""PEFT's column: the cloze loop a PEFT user writes by hand (figure 3).

Read the TSV, shuffle, format the template with Python, tokenize each batch with padding
(benchmarks.handwritten), wrap the model with PEFT (LoRA, or prompt tuning, whose virtual tokens
PEFT prepends, so the mask moves right by their number), read the label words' logits at the
mask. Method `finetune` runs the same loop on the plain transformers model (no PEFT).
"""
from __future__ import annotations

import csv
import random

import torch

from .. import handwritten
from .protocol import Worker, main


def read_rows(path: str) -> list:
    with open(path, encoding="utf-8", newline="") as f:
        return [(r["sentence"].strip(), r["label"].strip())
                for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def chunks(rows: list, size: int) -> list:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


class PeftWorker(Worker):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.name = "transformers" if cfg["method"] == "finetune" else "peft"
        self.shift = 0

    def load(self):
        import transformers
        cfg = self.cfg
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(cfg["model_dir"])
        self.model = getattr(transformers, cfg["model_class"]).from_pretrained(cfg["model_dir"])
        self.word_ids = handwritten.label_word_ids(self.tokenizer)
        method = cfg["method"]
        if method == "finetune":
            return
        import peft
        if method == "lora":
            config = peft.LoraConfig(r=cfg["lora_r"], lora_alpha=cfg["lora_alpha"],
                                     lora_dropout=cfg["lora_dropout"],
                                     target_modules=cfg["lora_target"])
        elif method == "prompt_tuning":
            task_type = "CAUSAL_LM" if cfg["family"] == "causal" else "FEATURE_EXTRACTION"
            config = peft.PromptTuningConfig(task_type=task_type,
                                             num_virtual_tokens=cfg["soft_tokens"])
            self.shift = cfg["soft_tokens"]
        else:
            raise SystemExit(f"PEFT column: no method {method!r}")
        self.model = peft.get_peft_model(self.model, config)

    def module(self):
        return self.model

    def trainable_parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def prepare(self, train_path, dev_path):
        cfg, family = self.cfg, self.cfg["family"]
        train = read_rows(train_path)[:cfg["prep_limit"]]
        random.Random(cfg["seed"]).shuffle(train)
        dev = read_rows(dev_path)[:cfg["eval_limit"]]

        def batches(rows, size):
            return [handwritten.encode(self.tokenizer, family, [s for s, _ in c],
                                       [y for _, y in c], cfg["max_length"])
                    for c in chunks(rows, size)]
        return batches(train, cfg["batch_size"]), batches(dev, cfg["eval_batch_size"])

    def scores(self, batch):
        family = self.cfg["family"]
        kwargs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        if family == "causal":
            # the best a user can do: the LM head at the last position only
            kwargs["logits_to_keep"] = 1
            if not self.shift:  # PEFT's prompt tuning builds its own positions
                kwargs["position_ids"] = handwritten.position_ids(batch["attention_mask"])
        logits = self.model(**kwargs).logits
        if family == "causal":
            at_mask = logits[:, -1]
        else:
            rows = torch.arange(logits.shape[0], device=logits.device)
            at_mask = logits[rows, batch["mask_pos"] + self.shift]
        return at_mask[:, self.word_ids.to(logits.device)]

    def loss(self, batch):
        return torch.nn.functional.cross_entropy(self.scores(batch).float(), batch["labels"])

    def predict(self, batch):
        return self.scores(batch).argmax(-1), batch["labels"]

    def save(self, directory):
        # a finetune saves the whole model; a PEFT model saves its adapter only
        self.model.save_pretrained(directory)


if __name__ == "__main__":
    main(PeftWorker)
