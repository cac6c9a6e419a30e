"""One `Trainer.train` call: the steps (a share of each batch per rank under torchrun, gradient
accumulation, clipping, the non-finite check), evaluations and early stopping, and the
resumable state it saves and continues from (promptdsl.train.state)."""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time

import torch
from tqdm.auto import tqdm

from ..model.rows import autocast_context, to_device
from . import interrupt
from .interrupt import resume_command
from .metrics import is_better
from .trainer import (NonFiniteLoss, Trainer, TrainResult, make_optimizer, make_schedule,
                      total_steps, trainable_parameters)


class TrainingLoop:
    """One `Trainer.train` call: the loop and what a resumable state holds of it."""

    def __init__(self, trainer: Trainer, train_split, eval_split, loss_of):
        from .distributed import world
        self.t, self.train_split, self.eval_split, self.loss_of = trainer, train_split, \
            eval_split, loss_of
        cfg = trainer.config
        self.world = world()
        self.batch_size = int(cfg["batch_size"])
        self.accumulation = int(cfg["grad_accumulation"])
        self.per_epoch = train_split.num_batches(self.batch_size)
        self.steps_total, steps_per_epoch = total_steps(cfg, self.per_epoch)
        self.epochs = math.ceil(self.steps_total / steps_per_epoch)
        self.eval_every = int(cfg["eval_every"]) if cfg["eval_every"] else None
        self.save_every = int(cfg["save_every"]) if cfg.get("save_every") else None
        self.skip_nonfinite = cfg.get("on_nonfinite") == "skip"
        self.optimizer = make_optimizer(trainer.model, cfg, trainer.device)
        self.scheduler = make_schedule(self.optimizer, cfg, self.steps_total)
        self.params = [p for _, p in trainable_parameters(trainer.model)]
        self.slot = trainer.states.next_slot() if trainer.states is not None else None
        # the loop's position and bookkeeping: everything a resumable state holds
        self.result = TrainResult()
        self.epoch, self.batch = 0, 0            # the next batch to train on
        self.best_value, self.best_snapshot, self.bad_evals = None, None, 0
        self.running_loss, self.running_batches = torch.zeros(()), 0
        self.skipped, self.seconds_before = 0, 0.0

    # ---------------------------------------------------------------- the loop
    def run(self) -> TrainResult:
        t = self.t
        saved = self.slot.load() if self.slot is not None else None
        if saved is not None:
            self._restore_state(*saved)
            if saved[1].get("done"):
                t.echo(f"resume: training loop {self.slot.key} finished before; its tensors "
                       "are restored")
                t.model.eval()
                return self.result
            t.echo(f"resume: training continues at step {self.result.steps} (epoch "
                   f"{self.epoch + 1}, batch {self.batch + 1})")
        forward = self.world.wrap(t.model)
        shared = getattr(t.model, "shared_reads", None)
        if shared is not None:
            shared.gather()      # models sharing a backbone start their loops together
        self.clock = time.perf_counter() - self.seconds_before   # counts the time before a resume
        t.model.train()
        bar = tqdm(total=self.steps_total, initial=self.result.steps, desc="train",
                   disable=not t.progress, unit="step")
        stop = False
        try:
            for epoch in range(self.epoch, self.epochs):
                stop = self._epoch(epoch, forward, bar)
                if stop or self.result.steps >= self.steps_total:
                    break
        finally:
            bar.close()
        self.result.stopped_early = stop
        self.result.seconds = time.perf_counter() - self.clock
        if self.best_snapshot is not None:
            t._restore(self.best_snapshot)
        t.model.eval()
        self._save(done=True)
        return self.result

    def _epoch(self, epoch: int, forward, bar) -> bool:
        """Train the rest of `epoch`; True when early stopping says stop."""
        t, result = self.t, self.result
        global_batches = self.train_split.epoch_batches(self.batch_size, int(t.config["seed"]),
                                                        epoch)
        first = self.batch if epoch == self.epoch else 0
        mine = [self._share(indices) for indices in global_batches[first:]]
        self.optimizer.zero_grad(set_to_none=True)
        step_loss = torch.zeros((), device=t.device)
        micro = 0
        for number, ((local, weight), (_, batch)) in enumerate(
                zip(mine, self.train_split.collated([m[0] for m in mine])), first):
            last_in_epoch = number == self.per_epoch - 1
            boundary = (number + 1) % self.accumulation == 0 or last_in_epoch
            batch = to_device(batch, t.device)
            sync = contextlib.nullcontext() if boundary or forward is t.model \
                else forward.no_sync()
            with sync:
                with autocast_context(t.device, t.autocast_dtype):
                    loss = self.loss_of(forward, batch, local)
                # weight: this rank's share of the global batch, so that the gradients DDP
                # averages over the ranks are those of the mean over the whole batch
                t.model.backward(loss * (weight * self.world.size / self.accumulation))
            step_loss += loss.detach().float() * weight
            micro += 1
            result.examples += len(global_batches[number])
            if not boundary:
                continue
            self._optimizer_step(step_loss, micro, number, epoch)
            step_loss, micro = torch.zeros((), device=t.device), 0
            bar.update(1)
            if t.progress:  # reading the loss syncs the device: only for the bar
                bar.set_postfix(loss=f"{float(self.running_loss) / max(1, self.running_batches):.4f}")
            epoch_done = epoch + (number + 1) / self.per_epoch
            stop = False
            if self.eval_every and result.steps % self.eval_every == 0:
                stop = self._evaluate(epoch_done)
            ended = stop or result.steps >= self.steps_total
            if last_in_epoch or ended:
                result.epochs = round(epoch_done, 4)
                if not self.eval_every and not stop:
                    stop = self._evaluate(epoch_done)
                    ended = ended or stop
            if ended and self.eval_every and result.steps % self.eval_every and not stop:
                self._evaluate(result.epochs)  # the steps after the last periodic evaluation
            self.epoch, self.batch = (epoch + 1, 0) if last_in_epoch else (epoch, number + 1)
            # a state every `save_every` steps, else at each epoch's end; the end of training
            # saves the finished loop's state instead (in `run`)
            if not ended and (result.steps % self.save_every == 0 if self.save_every
                              else last_in_epoch):
                self._save()
            self._interrupt_check()
            if ended or last_in_epoch:
                return stop
        return False

    def _share(self, indices: list) -> tuple[list, float]:
        """(this rank's rows of a global batch, their share of it). A rank left without rows
        (a last batch smaller than the world) trains on one row with weight 0."""
        if not self.world.enabled:
            return indices, 1.0
        local = self.world.shard(indices)
        if not local:
            return indices[:1], 0.0
        return local, len(local) / len(indices)

    def _optimizer_step(self, step_loss, micro: int, number: int, epoch: int) -> None:
        """Clip, check the loss is finite (stop or skip), step, schedule."""
        t, cfg = self.t, self.t.config
        norm = None
        if cfg["max_grad_norm"]:
            norm = torch.nn.utils.clip_grad_norm_(self.params, float(cfg["max_grad_norm"]))
        # one number over all ranks: the mean loss of the global batch (and a signal, if any)
        total = torch.stack([step_loss / micro,
                             torch.as_tensor(float(interrupt.requested() is not None),
                                             device=step_loss.device)])
        self.world.all_reduce_sum(total)
        mean_loss, signalled = float(total[0]), float(total[1])
        if signalled and interrupt.requested() is None:
            interrupt.request()          # another rank got the signal: stop at the same step
        finite = math.isfinite(mean_loss) and (norm is None or bool(torch.isfinite(norm)))
        self.result.steps += 1
        if finite:
            self.optimizer.step()
            self.running_loss = self.running_loss + total[0].detach().cpu() * micro
            self.running_batches += micro
        else:
            where = (f"step {self.result.steps} (epoch {epoch + 1}, batch {number + 1}): the "
                     f"training loss is {mean_loss}")
            if not self.skip_nonfinite:
                raise NonFiniteLoss(f"training diverged at {where}; lower train.learning_rate, "
                                    "keep train.max_grad_norm, or set train.on_nonfinite: skip "
                                    "to drop such updates")
            self.skipped += 1
            if self.skipped == self.result.steps and self.result.steps >= 3:
                raise NonFiniteLoss(f"every training step so far had a non-finite loss ({where})")
            t.echo(f"warning: {where}; this update is skipped (train.on_nonfinite: skip)")
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def _evaluate(self, epoch_done: float) -> bool:
        """Evaluate, log, keep the best; True when early stopping says stop."""
        t, result = self.t, self.result
        patience = t.config["early_stopping"]
        record = {"step": result.steps, "epoch": round(epoch_done, 4),
                  "train_loss": float(self.running_loss) / max(1, self.running_batches),
                  "learning_rate": self.scheduler.get_last_lr()[0]}
        self.running_loss, self.running_batches = torch.zeros(()), 0
        if self.eval_split is None:
            t.log({**record, "split": "train"})
            result.evaluations.append(record)
            t.echo(_progress_line(record, {}, t.metric))
            return False
        evaluation = t.evaluate(self.eval_split, desc="validation")   # restores train mode
        value = evaluation.metrics.get(t.metric)
        improved = value is not None and is_better(t.metric, value, self.best_value)
        record.update({"split": "validation", **evaluation.metrics, "best": improved})
        t.log(record)
        result.evaluations.append(record)
        t.echo(_progress_line(record, evaluation.metrics, t.metric))
        if improved:
            self.best_value, self.best_snapshot, self.bad_evals = value, t._snapshot(), 0
            result.best_metrics, result.best_step = evaluation.metrics, result.steps
        else:
            self.bad_evals += 1
        return bool(patience) and self.bad_evals >= int(patience)

    def _interrupt_check(self) -> None:
        signum = interrupt.requested()
        if signum is None:
            return
        self._save()
        where = self.slot.states.write_folder.parent if self.slot is not None and \
            self.slot.states.write_folder is not None else None
        how = f"; the state is saved: {resume_command(self.t.task, where)}" if where else ""
        raise interrupt.Interrupted(f"interrupted by {interrupt.name(signum)} at step "
                                    f"{self.result.steps}{how}", signum)

    # ---------------------------------------------------------------- resumable state
    def _save(self, done: bool = False) -> None:
        if self.slot is None:
            return
        from .state import optimizer_state, rng_state
        t = self.t
        tensors = {f"param.{n}": p for n, p in trainable_parameters(t.model)}
        if self.best_snapshot is not None and not done:
            tensors.update({f"best.{n}": v for n, v in self.best_snapshot.items()})
        meta = {"done": done, "step": self.result.steps, "epoch": self.epoch,
                "batch": self.batch, "best_value": self.best_value,
                "has_best": self.best_snapshot is not None and not done, "bad_evals": self.bad_evals,
                "running_batches": self.running_batches, "skipped": self.skipped,
                "seconds": time.perf_counter() - self.clock if not done else self.result.seconds,
                "result": {k: v for k, v in dataclasses.asdict(self.result).items()
                           if k != "seconds"}}
        tensors["running_loss"] = self.running_loss.detach().float().cpu().reshape(())
        if not done:
            optim_tensors, meta["optimizer"] = optimizer_state(self.optimizer)
            tensors.update(optim_tensors)
            meta["scheduler"] = self.scheduler.state_dict()
        rng_tensors, meta["rng"] = rng_state()
        tensors.update(rng_tensors)
        self.slot.save(tensors, meta)

    def _restore_state(self, tensors: dict, meta: dict) -> None:
        from .state import StateError, load_optimizer_state, set_rng_state
        t = self.t
        trainable = dict(trainable_parameters(t.model))
        if any(tensors.get(f"param.{n}") is None or tensors[f"param.{n}"].shape != p.shape
               for n, p in trainable.items()) or \
                sum(k.startswith("param.") for k in tensors) != len(trainable):
            raise StateError(f"{self.slot.key}: the saved state does not fit the model the task "
                             "builds now (different trainable tensors)")
        t._restore({n: tensors[f"param.{n}"] for n in trainable})
        if meta.get("has_best"):
            self.best_snapshot = {n: tensors[f"best.{n}"] for n in trainable}
        self.best_value, self.bad_evals = meta["best_value"], meta["bad_evals"]
        self.epoch, self.batch = meta["epoch"], meta["batch"]
        self.running_loss = tensors["running_loss"]
        self.running_batches, self.skipped = meta["running_batches"], meta["skipped"]
        self.seconds_before = meta["seconds"]
        self.result = TrainResult(**meta["result"], seconds=meta["seconds"])
        if not meta.get("done"):
            load_optimizer_state(self.optimizer, tensors, meta["optimizer"])
            self.scheduler.load_state_dict(meta["scheduler"])
        set_rng_state(tensors, meta["rng"])


def _progress_line(record: dict, metrics: dict, metric: str) -> str:
    """`epoch 1.00 step 12: train loss 0.6931, validation accuracy 75.00 loss 0.5123`."""
    text = f"epoch {record['epoch']:.2f} step {record['step']}: train loss {record['train_loss']:.4f}"
    if metrics:
        value = metrics.get(metric)
        shown = f"{100 * value:.2f}" if isinstance(value, float) and metric != "loss" else value
        text += f", validation {metric} {shown}"
        if "loss" in metrics:
            text += f" loss {metrics['loss']:.4f}"
    return text
