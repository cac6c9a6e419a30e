#!/usr/bin/env bash
# Builds the separate virtual environment that the OpenPrompt column of the benchmark runs in.
#
# OpenPrompt 1.0.1 imports modules that transformers 5 removed (transformers.generation_utils,
# transformers.utils.dummy_pt_objects, transformers.AdamW), so it cannot share our environment.
# Registry packages only. torch is pinned to the CPU wheel (an unpinned torch pulls a CUDA build).
# OpenPrompt's own pin sentencepiece==0.1.96 has no wheel for Python 3.11 and does not build, and
# its other requirements (rouge, nltk, datasets, ...) are only needed by modules we import, so it
# is installed with --no-deps and its requirements are listed here with pins that install.
#
# Usage: bash benchmarks/openprompt_env.sh [VENV_DIR]   (default benchmarks/.venv-openprompt)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-$here/.venv-openprompt}"
python="${PYTHON:-python3}"

"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q)
"${pip[@]}" "torch==2.13.0"
"${pip[@]}" "transformers==4.36.2" "tokenizers>=0.14,<0.19" "huggingface-hub<0.26" \
    "numpy<2" "sentencepiece" "tqdm>=4.62.2" "tensorboardX" "nltk" "yacs" "dill" \
    "datasets<3" "rouge==1.0.0" "pyarrow<17" "scipy" "scikit-learn" "safetensors"
"${pip[@]}" --no-deps "openprompt==1.0.1"
"$venv/bin/python" -c "import openprompt, transformers, torch; \
print('openprompt', openprompt.__version__, 'transformers', transformers.__version__, 'torch', torch.__version__)"
