#!/usr/bin/env bash
# The GPU path, end to end, in one prepared run (about 5-10 minutes on one data-centre GPU):
#   1. the test suite's GPU-marked tests (pytest -m gpu);
#   2. an exception dataset mined from this interpreter's standard library (offline);
#   3. a UniXcoder-shaped teacher (random weights) fine-tuned for $STEPS steps in bf16;
#   4. its teacher-output cache (bf16 autocast), KD from the cache and CKD with the live teacher (in bf16)
#      into roberta-7m and gru-7m, all in bf16;
#   5. codekd bench (CUDA, synchronised timing) at batch 1 and 32;
#   6. benchmarks/RESULTS-gpu.md: the GPU model, library versions and every figure above.
# Usage: bash benchmarks/gpu_check.sh            (RUN=.cache/gpu-check STEPS=300 PY=.venv/bin/python to change)
#        GPU_CHECK_DRY=1 bash benchmarks/gpu_check.sh   prints the commands only (the test suite checks them)
#        GPU_CHECK_CPU=1 TINY=1 STEPS=3 DATA=folder RESULTS=/tmp/r.md bash benchmarks/gpu_check.sh
#            runs the same pipeline on a CPU with a 2-layer teacher (a smoke test of the script, not a GPU check)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RUN=${RUN:-.cache/gpu-check}   # models and data: large, ignored by git; the record goes to benchmarks/
STEPS=${STEPS:-300}
DRY=${GPU_CHECK_DRY:-0}
RESULTS=${RESULTS:-benchmarks/RESULTS-gpu.md}
DATA=${DATA:-}
TINY_FLAG=()
SEQ=256
if [ "${TINY:-0}" = 1 ]; then TINY_FLAG=(--tiny --vocab-size 300); SEQ=64; fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
       RAY_AUTH_MODE=disabled ORT_DISABLE_TELEMETRY=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

run() { echo "+ $*"; if [ "$DRY" != 1 ]; then "$@"; fi; }
ck() { run "$PY" -m codekd "$@"; }

if [ "$DRY" != 1 ] && [ "${GPU_CHECK_CPU:-0}" != 1 ]; then
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)" \
    || { echo "gpu_check.sh: no CUDA GPU visible to torch; nothing run" >&2; exit 3; }
fi
if [ "$DRY" != 1 ]; then
  mkdir -p "$RUN"
  (nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true) > "$RUN/nvidia-smi.txt"
fi
COMMON=(--task exception --precision bf16 --batch-size 32 --max-length 256 --epochs 1 --set "train.max_steps=$STEPS")

# 1. GPU-marked tests
if [ "$DRY" != 1 ]; then
  timeout 240 "$PY" -m pytest tests -m gpu -q -p no:cacheprovider 2>&1 | tee "$RUN/pytest-gpu.txt" || true
else
  echo "+ $PY -m pytest tests -m gpu -q -p no:cacheprovider"
fi
# 2. data (offline: the stdlib of this interpreter)
if [ -z "$DATA" ]; then
  STDLIB=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['stdlib'])")
  DATA="$RUN/data"
  ck data mine-exceptions "$STDLIB" --out "$DATA" --num-labels 10
fi
# 3. teacher: UniXcoder shape, random weights, fine-tuned in bf16
run "$PY" benchmarks/gpu_check.py make-teacher "$DATA" "$RUN/unixcoder-shape" "${TINY_FLAG[@]}"
ck teacher finetune --teacher "$RUN/unixcoder-shape" --data "$DATA" --out "$RUN/teacher" --recipe paper \
   --no-baseline --lr 5e-5 "${COMMON[@]}"
# 4. cache (bf16) -> KD; live teacher (bf16 weights) -> CKD; both students
ck teacher cache --teacher "$RUN/teacher" --data "$DATA" --task exception --out "$RUN/cache" \
   --precision bf16 --max-length 256
for s in roberta-7m gru-7m; do
  ck distill -s "$s" -m kd --teacher "$RUN/teacher" --teacher-cache "$RUN/cache" --data "$DATA" \
     --out "$RUN/kd-$s" "${COMMON[@]}"
  ck distill -s "$s" -m ckd --teacher "$RUN/teacher" --data "$DATA" --out "$RUN/ckd-$s" "${COMMON[@]}"
done
# 5. efficiency on the GPU: batch 1 latency and batch 32 throughput, torch.cuda.synchronize() around each timer
ck bench "$RUN/teacher" "$RUN/kd-roberta-7m" "$RUN/kd-gru-7m" --seq-len "$SEQ" --batch 32 --out "$RUN/bench.json"
# 6. the record
run "$PY" benchmarks/gpu_check.py report "$RUN" "$RESULTS"
