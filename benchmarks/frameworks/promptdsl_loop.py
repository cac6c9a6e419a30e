"""promptdsl's column (figure 3): the task written as a .prompt file, loaded by the front end,
compiled with its method, data encoded by promptdsl.data (batched render + tokenize, bucketed
batches, cache off so the figure is a cold start), checkpoint as `promptc train` writes it."""
from __future__ import annotations

from pathlib import Path

from .. import taskfile
from .protocol import Worker, main


def method_options(cfg: dict) -> dict:
    if cfg["method"] == "prompt_tuning":
        return {"length": cfg["soft_tokens"]}
    if cfg["method"] == "lora":
        return {"r": cfg["lora_r"], "alpha": cfg["lora_alpha"], "dropout": cfg["lora_dropout"],
                "target": cfg["lora_target"]}
    return {}


def prompt_file(cfg: dict) -> Path:
    return taskfile.write(
        Path(cfg["workdir"]) / f"{cfg['model_name']}-{cfg['method']}.prompt",
        model_dir=cfg["model_dir"], train=cfg["train_path"], dev=cfg["dev_path"],
        template=cfg["template"], method=cfg["method"], options=method_options(cfg),
        batch_size=cfg["batch_size"], eval_batch_size=cfg["eval_batch_size"],
        max_length=cfg["max_length"], learning_rate=cfg["learning_rate"], seed=cfg["seed"],
        label_words=dict(zip(cfg["label_values"], cfg["label_words"])))


class PromptdslWorker(Worker):
    name = "promptdsl"
    use_cache = False   # the common figure is a cold start

    def load(self):
        import promptdsl
        from promptdsl.train.build import build_model
        self.task = promptdsl.load(prompt_file(self.cfg))
        self.model = build_model(self.task)

    def module(self):
        return self.model

    def trainable_parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def prepare(self, train_path, dev_path):
        from promptdsl.data import PromptDataset, encode, read_table
        cfg = self.cfg

        def batches(path, limit, train):
            table = read_table(path)
            table = table.subset(range(min(limit, len(table))))
            dataset = PromptDataset(encode(self.model, table, require_labels=True,
                                           use_cache=self.use_cache))
            if train:
                return [b for _, b in dataset.train_batches(cfg["batch_size"], cfg["seed"])]
            return [b for _, b in dataset.eval_batches(cfg["eval_batch_size"])]
        return (batches(train_path, cfg["prep_limit"], True),
                batches(dev_path, cfg["eval_limit"], False))

    def loss(self, batch):
        return self.model(batch)["loss"]

    def predict(self, batch):
        return self.model(batch)["logits"].argmax(-1), batch["labels"]

    def save(self, directory):
        from promptdsl.train.checkpoint import save_checkpoint
        save_checkpoint(self.model, directory)

    def extra(self):
        """Data preparation again with promptdsl's tokenization cache on: a second run of the
        same task finds its features there (the first run writes them)."""
        import os
        import tempfile
        import time
        with tempfile.TemporaryDirectory() as folder:
            os.environ["PROMPTDSL_CACHE"] = folder
            self.use_cache = True
            self.prepare(self.cfg["train_path"], self.cfg["dev_path"])   # fills the cache
            start = time.perf_counter()
            train, dev = self.prepare(self.cfg["train_path"], self.cfg["dev_path"])
            seconds = time.perf_counter() - start
        rows = sum(len(b["labels"]) for b in train + dev)
        return {"data_prep_cached_examples_per_s": round(rows / seconds, 1)}


if __name__ == "__main__":
    main(PromptdslWorker)
