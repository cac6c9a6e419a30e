"""The table at the end of a run (Markdown) and the goals the issue sets, checked against it."""
from __future__ import annotations


def _table(headers: list, rows: list) -> str:
    if not rows:
        return ""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _by(records, figure):
    return [r for r in records if r.get("figure") == figure]


def overhead_table(records) -> str:
    rows = []
    for r in _by(records, "overhead"):
        if "error" in r:
            rows.append([r["model"], r["method"], "error", r["error"][:80], "", "", "", ""])
            continue
        rows.append([r["model"], r["method"], r["mode"], "x".join(map(str, r["batch"])),
                     r["step_ms"], r["floor_ms"], r["ratio_vs_floor"],
                     r.get("ratio_vs_at_mask", "-")])
    return _table(["model", "method", "step", "batch BxT", "promptdsl ms", "raw model ms",
                   "ratio", "ratio vs head-at-mask floor"], rows)


def data_path_table(records) -> str:
    rows = []
    for r in records:
        fig = r.get("figure", "")
        if not fig.startswith("data_path."):
            continue
        facts = {k: v for k, v in r.items() if k not in ("figure", "device", "tokenizer",
                                                          "template", "batch_size", "goal")}
        rows.append([fig.split(".", 1)[1], ", ".join(f"{k}={v}" for k, v in facts.items())])
    return _table(["data path", "figures"], rows)


COMPARE_COLUMNS = [
    ("data prep ex/s", "data_prep_examples_per_s"),
    ("data prep ex/s, cache warm", "data_prep_cached_examples_per_s"),
    ("train ex/s", "train_examples_per_s"), ("train tokens/s", "train_tokens_per_s"),
    ("eval ex/s", "eval_examples_per_s"), ("pad waste", "train_padding_waste"),
    ("peak RSS train MB", "train_peak_rss_mb"), ("peak GPU MB", "train_peak_gpu_mb"),
    ("grads MB", "grad_mb"), ("optim state MB", "optimizer_state_mb"),
    ("trainable", "trainable_params"), ("accuracy", "accuracy"), ("ckpt MB", "checkpoint_mb")]


def compare_table(records) -> str:
    recs = _by(records, "compare")
    gpu = any("train_peak_gpu_mb" in r for r in recs)
    columns = [c for c in COMPARE_COLUMNS if gpu or c[1] != "train_peak_gpu_mb"]
    rows = []
    for r in recs:
        head = [r["model"], r["method"], r["framework"]]
        if "skipped" in r or "error" in r:
            rows.append(head + [("skipped: " + r["skipped"]) if "skipped" in r
                                else "error: " + r["error"][:160]] + [""] * (len(columns) - 1))
        else:
            rows.append(head + [r.get(key) for _, key in columns])
    return _table(["model", "method", "framework"] + [c[0] for c in columns], rows)


def memory_table(records) -> str:
    """Prompt tuning vs finetune: what training adds on top of the loaded model."""
    rows = []
    for r in _by(records, "compare"):
        if r.get("method") not in ("prompt_tuning", "finetune", "lora") or "grad_mb" not in r:
            continue
        over_load = round(r["train_peak_rss_mb"] - r["rss_before_train_mb"], 1)
        rows.append([r["model"], r["method"], r["framework"], r["trainable_params"],
                     r["grad_mb"], r["optimizer_state_mb"], r["frozen_params_with_grad"],
                     r["frozen_params_in_optimizer"], over_load, r.get("train_peak_gpu_mb", "-")])
    return _table(["model", "method", "framework", "trainable params", "grads MB",
                   "optimizer state MB", "frozen params with grad", "frozen params in optimizer",
                   "train peak RSS - RSS before training MB", "peak GPU MB"], rows)


def _ratio(a, b):
    return round(a / b, 2) if a and b else None


def goals(records) -> list:
    """[(goal, measured, met)] for the issue's goals, from this run's records."""
    out = []
    over = [r for r in _by(records, "overhead") if "error" not in r]
    if over:
        worst = max(over, key=lambda r: r["ratio_vs_floor"])
        out.append(("step time <= 1.05x the raw model's",
                    f"worst {worst['ratio_vs_floor']} ({worst['model']} {worst['method']} "
                    f"{worst['mode']})", worst["ratio_vs_floor"] <= 1.05))
    cmp = {(r["method"], r["framework"]): r for r in _by(records, "compare")
           if "skipped" not in r and "error" not in r}
    for method in ("prompt_tuning", "finetune"):
        ours, op = cmp.get((method, "promptdsl")), cmp.get((method, "openprompt"))
        if ours and op:
            for what, key, target in (("train", "train_examples_per_s", 2),
                                      ("eval", "eval_examples_per_s", 2),
                                      ("data-preparation", "data_prep_examples_per_s", 20)):
                r = _ratio(ours[key], op[key])
                out.append((f">= {target}x OpenPrompt's {what} speed ({method})", f"{r}x",
                            r is not None and r >= target))
    for method, other in (("prompt_tuning", "peft"), ("lora", "peft"),
                          ("finetune", "transformers")):
        ours, them = cmp.get((method, "promptdsl")), cmp.get((method, other))
        if ours and them:
            r = _ratio(ours["train_examples_per_s"], them["train_examples_per_s"])
            out.append((f">= 1.0x the hand-written {other} loop, train ({method})", f"{r}x",
                        r is not None and r >= 1.0))
    waste = [r for r in records if r.get("figure") == "data_path.padding_waste"]
    if waste:
        w = waste[-1]["bucketed_train"]
        out.append(("padding waste <= 15 % on SST-2", f"{round(100 * w, 1)} %", w <= 0.15))
    frozen = [r for r in _by(records, "compare") if r.get("framework") == "promptdsl"
              and r.get("method") in ("prompt_tuning", "lora") and "grad_mb" in r]
    if frozen:
        ok = all(r["frozen_params_with_grad"] == 0 and r["frozen_params_in_optimizer"] == 0
                 for r in frozen)
        ft = cmp.get(("finetune", "promptdsl"))
        pt = cmp.get(("prompt_tuning", "promptdsl"))
        detail = "frozen params with grad / in optimizer: 0" if ok else "some frozen params hold state"
        if ft and pt:
            detail += (f"; grads+optimizer state {pt['grad_mb'] + pt['optimizer_state_mb']:.3f} MB "
                       f"(prompt tuning) vs {ft['grad_mb'] + ft['optimizer_state_mb']:.1f} MB "
                       "(finetune)")
        out.append(("no optimizer state or gradient buffers for frozen parameters", detail, ok))
    return out


def goals_table(records) -> str:
    return _table(["goal", "measured", "met"],
                  [[g, m, "yes" if ok else "NO"] for g, m, ok in goals(records)])


def render(records, header: str = "") -> str:
    parts = [header] if header else []
    for title, table in (("Figure 1: overhead vs the raw model (median step)",
                          overhead_table(records)),
                         ("Figure 2: data path (SST-2)", data_path_table(records)),
                         ("Figure 3: against OpenPrompt and PEFT", compare_table(records)),
                         ("Memory: prompt tuning vs finetune (from figure 3)",
                          memory_table(records)),
                         ("Goals", goals_table(records))):
        if table:
            parts.append(f"#### {title}\n\n{table}\n")
    return "\n".join(parts)
