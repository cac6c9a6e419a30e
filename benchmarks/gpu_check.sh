#!/usr/bin/env bash
# The GPU checks in one go, under 5 minutes on one GPU machine (docs/distributed.md):
#   1. the tests' CUDA and multi-process paths   pytest -k "cuda or distributed"
#   2. bf16 training of a tiny task on cuda       promptc train (train.precision: bf16)
#   3. DDP over the GPUs present                  torchrun --nproc_per_node <GPUs>
#   4. figure 1 (overhead vs the raw model)       python -m benchmarks.run --device cuda
# Each step's log and the report gpu_check.md (pass/fail per step and the figures, ready to
# paste into benchmarks/NOTES.md) go to $OUT, else benchmarks/.results/gpu-check/.
# A machine without a registry: wheels in wheels/ are installed first, with --no-deps.
# Without CUDA only the CPU-safe steps run, and the script exits 3 saying so.
set -u -o pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
DEST=${OUT:-benchmarks/.results/gpu-check}
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
WORK=$(mktemp -d)
REPORT=$DEST/gpu_check.md
export TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_PROGRESS_BARS=1
PY=${PYTHON:-python3}
FAILED=()

note() { printf '%s\n' "$*" | tee -a "$REPORT"; }

# project FOLDER [options]: write the tiny task; its .prompt path is the last line printed (the
# tokenizer trainer prints blank lines of its own)
project() { "$PY" -m benchmarks.tiny_project "$@" | tail -n 1; }

# step NAME SECONDS COMMAND…: run it with a time limit, log to $DEST/NAME.log, note the result
step() {
    local name=$1 limit=$2 start rc
    shift 2
    start=$(date +%s)
    timeout "$limit" "$@" > "$DEST/$name.log" 2>&1
    rc=$?
    local took=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ]; then
        note "- $name: ok (${took} s)"
    else
        [ "$rc" -eq 124 ] && why="timed out after ${limit} s" || why="exit $rc"
        note "- $name: FAILED, $why (${took} s); last lines of $name.log:"
        tail -n 15 "$DEST/$name.log" | sed 's/^/      /' | tee -a "$REPORT"
        FAILED+=("$name")
    fi
    return "$rc"
}

: > "$REPORT"
note "# gpu_check $(date -u '+%Y-%m-%d %H:%M') UTC"
note ""

# ---------------------------------------------------------------- 0. set-up
if compgen -G "wheels/*.whl" > /dev/null; then
    step install-wheels 120 "$PY" -m pip install --no-deps --no-index wheels/*.whl
fi
if ! "$PY" -c "import promptdsl_plugins, promptdsl.grammars" 2> /dev/null; then
    step install-promptdsl 120 "$PY" -m pip install --no-deps --no-build-isolation --no-index -e .
fi
missing=$("$PY" - <<'EOF'
import importlib.util
names = ["torch", "transformers", "peft", "pluggy", "click", "lark", "jsonschema", "safetensors",
         "tqdm", "numpy", "tokenizers", "pytest", "promptdsl", "promptdsl_plugins"]
print(" ".join(n for n in names if importlib.util.find_spec(n) is None))
EOF
)
if [ -n "$missing" ]; then
    note "- set-up: FAILED, missing Python packages: $missing (put their wheels in wheels/)"
    exit 1
fi
"$PY" - <<'EOF' | tee -a "$REPORT"
import torch, transformers, peft
gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), transformers "
      f"{transformers.__version__}, peft {peft.__version__}; GPUs: {', '.join(gpus) or 'none'}")
EOF
if "$PY" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    CUDA=1
    GPUS=$(nvidia-smi -L 2> /dev/null | wc -l)
    [ "$GPUS" -ge 1 ] || GPUS=$("$PY" -c "import torch; print(torch.cuda.device_count())")
else
    CUDA=0
    note ""
    note "no CUDA here (torch.cuda.is_available() is False): only the CPU-safe steps run"
fi
note ""

# ---------------------------------------------------------------- 1. tests
# -k matches marker names too: every test marked cuda or distributed, and those named so
step tests 80 "$PY" -m pytest -q -p no:cacheprovider -k "cuda or distributed" tests
grep -E "passed|failed|skipped" "$DEST/tests.log" | tail -n 1 | sed 's/^/      /' | tee -a "$REPORT"

if [ "$CUDA" -eq 0 ]; then
    # the CPU-safe half of steps 2 and 3: the tiny task trains under torchrun with gloo
    PROMPT=$(project "$WORK/cpu")
    step train-cpu-2-ranks 120 "$PY" -m torch.distributed.run --standalone \
        --nproc_per_node 2 -m promptdsl train "$PROMPT" --out "$WORK/cpu-run"
    note ""
    note "no CUDA: the bf16, DDP-over-GPUs and figure-1 steps did not run"
    [ "${#FAILED[@]}" -eq 0 ] || note "failed: ${FAILED[*]}"
    exit 3
fi

# ---------------------------------------------------------------- 2. bf16 training
PROMPT=$(project "$WORK/bf16" --device cuda --precision bf16)
if step train-bf16 40 "$PY" -m promptdsl train "$PROMPT" --out "$WORK/bf16-run"; then
    "$PY" - "$WORK/bf16-run/summary.json" <<'EOF' | sed 's/^/      /' | tee -a "$REPORT"
import json, sys
s = json.load(open(sys.argv[1]))
train = s.get("train") or {}
print(f"device {s.get('device')}, precision {s.get('precision')}, {train.get('steps')} steps, "
      f"test accuracy {100 * (s.get('test') or {}).get('accuracy', float('nan')):.1f}")
EOF
fi

# ---------------------------------------------------------------- 3. DDP over the GPUs
[ "$GPUS" -ge 2 ] || note "- (one GPU: torchrun runs one process; DDP itself needs 2 or more)"
if step "ddp-${GPUS}-gpus" 40 "$PY" -m torch.distributed.run --standalone \
        --nproc_per_node "$GPUS" -m promptdsl train "$PROMPT" --out "$WORK/ddp-run" &&
        [ -d "$WORK/bf16-run/checkpoint" ]; then
    echo "vs one process: $("$PY" -m benchmarks.tiny_project --compare "$WORK/bf16-run" \
        "$WORK/ddp-run")" | sed 's/^/      /' | tee -a "$REPORT"
fi

# ---------------------------------------------------------------- 4. figure 1 on CUDA
# OVERHEAD_ARGS narrows it when time is short, e.g. OVERHEAD_ARGS="--models bert-base"
# shellcheck disable=SC2086
if step overhead-cuda 150 "$PY" -m benchmarks.run --device cuda --figures overhead \
        ${OVERHEAD_ARGS:-} --write-notes --notes "$DEST/NOTES-cuda.md"; then
    note ""
    note "Figure 1 (the \`cuda\` section of benchmarks/NOTES.md, also in NOTES-cuda.md):"
    note ""
    cat "$DEST/NOTES-cuda.md" >> "$REPORT"
fi

note ""
if [ "${#FAILED[@]}" -eq 0 ]; then
    note "all steps ok; logs in $DEST"
    exit 0
fi
note "failed: ${FAILED[*]}; logs in $DEST"
exit 1
