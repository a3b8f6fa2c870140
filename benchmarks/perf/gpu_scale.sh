#!/bin/bash
# The scale issue's GPU figures in one call on a one-GPU machine (about 9 minutes): the
# text-gen `full` recipe (nanoGPT's GPU recipe; its reported loss is 1.4697 after about 3
# minutes on one A100), training samples/s of every family (family_throughput.py) and zoo's
# loop beside a hand-written one on the GPU (train_throughput.py). SyncBatchNorm needs two
# GPUs or more: not measured here.
#
# Usage: bash benchmarks/perf/gpu_scale.sh [OUT]
#   OUT (default .zoo/gpu-scale) receives gpu_scale.md (everything printed), the three JSON
#   files and text-gen.db (`zoo leaderboard text-gen --db OUT/text-gen.db`); run folders go
#   to RUNS_DIR (default /tmp/zoo-gpu-scale-runs), outside OUT.
#   ZOO_DATA_DIR (default .zoo/data) must hold mnist/, tinyshakespeare/ and
#   adbench_classical/ (shuttle), as ../shared/data does. Each step has a time limit
#   (TEXT_LIMIT, FAMILY_LIMIT, LOOP_LIMIT seconds: 330, 120, 120); a step cut short keeps
#   what it printed. ACCELERATOR=cpu STEPS=20 runs the same steps on a CPU, as a smoke check.
#
# On a lent device machine (docs of the `device` tool), which has torch and Lightning but
# not zoo, platformdirs or pooch: once, here,
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux2014_x86_64 -d .whl platformdirs pooch
#   mkdir -p .zoo/data/adbench_classical && cp -r ../shared/data/{mnist,tinyshakespeare} \
#       .zoo/data/ && cp ../shared/data/adbench_classical/*_shuttle.npz .zoo/data/adbench_classical/
# then run, carrying .whl and .zoo/data: `bash benchmarks/perf/gpu_scale.sh $OUT`.
set -u
OUT=${1:-.zoo/gpu-scale}
export ZOO_DATA_DIR=${ZOO_DATA_DIR:-.zoo/data} PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
ACCELERATOR=${ACCELERATOR:-gpu}
STEPS=${STEPS:-500}
mkdir -p "$OUT"
LOG="$OUT/gpu_scale.md"
: > "$LOG"
say() { echo "$@" | tee -a "$LOG"; }
step() { local limit=$1; shift; say; say "\$ $*"; timeout "$limit" "$@" 2>&1 | tee -a "$LOG"; }

if ! $PY -c "import zoo, zoo_mlp, platformdirs, pooch" 2>/dev/null; then
  if [ -d .whl ]; then $PY -m pip install -q --no-index --no-deps .whl/*.whl; fi
  $PY -m pip install -q --no-index --no-deps --no-build-isolation . plugins/zoo-*
fi
say "# gpu_scale.sh, $(date -u +%FT%TZ), zoo $(git rev-parse --short HEAD 2>/dev/null)"
if [ "$ACCELERATOR" = gpu ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee -a "$LOG"
fi
$PY -c "import torch, lightning; print('torch', torch.__version__, 'lightning',
lightning.__version__)" 2>&1 | tee -a "$LOG"

step "${TEXT_LIMIT:-330}" $PY -m zoo bench text-gen --budget full --models transformer \
  --seeds 1 --accelerator "$ACCELERATOR" --db "$OUT/text-gen.db" \
  --runs-dir "${RUNS_DIR:-/tmp/zoo-gpu-scale-runs}"
step 60 $PY -m zoo leaderboard text-gen --db "$OUT/text-gen.db"
step "${FAMILY_LIMIT:-120}" $PY benchmarks/perf/family_throughput.py \
  --accelerator "$ACCELERATOR" --steps "$STEPS" --json "$OUT/family_throughput.json"
step "${LOOP_LIMIT:-120}" $PY benchmarks/perf/train_throughput.py --accelerator "$ACCELERATOR" \
  --repeats 3 --json "$OUT/train_throughput.json"
say
say "done: $(date -u +%FT%TZ)"
