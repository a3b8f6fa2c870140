#!/bin/bash
# The image suites' full-budget MNIST runs, as parallel processes sharing one GPU: image-ad
# deep-svdd[cnn] (every class, seeds 0-2; a process per class), autoencoder[cnn] and vae[cnn]
# (seed 0), image-gen vae[cnn] and gan[cnn] (seed 0), and Deep SVDD's hold-out ablation
# (benchmarks/image_ad_protocol_ablation.py, seed 0). Sixteen processes of one CPU thread each.
#
# Usage: ZOO_DATA_DIR=../shared/data bash benchmarks/gpu_image_full.sh [DIR]
#   DIR (default .zoo/gpu) receives ad/*.db, gen/*.db (with runs/ beside them) and log/*.log;
#   `zoo leaderboard image-ad --db DIR/ad/dsvdd-0.db` reads one. LIMIT=SECONDS cuts every job
#   (finished cells stay stored); ZOO and PYTHON name the commands (default zoo, python).
set -u
DIR=${1:-.zoo/gpu}
ZOO=${ZOO:-zoo}
PYTHON=${PYTHON:-python}
LIMIT=${LIMIT:-0}  # timeout 0: no limit
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
mkdir -p "$DIR/ad" "$DIR/gen" "$DIR/log"
job() { local log=$1; shift; timeout "$LIMIT" "$@" > "$DIR/log/$log.log" 2>&1 & }

for k in 0 1 2 3 4 5 6 7 8 9; do
  job "dsvdd-$k" $ZOO bench image-ad --budget full --datasets mnist --models 'deep-svdd[cnn]' \
    --classes "$k" --seeds 3 --accelerator gpu --db "$DIR/ad/dsvdd-$k.db"
done
for model in autoencoder vae; do
  job "ad-$model" $ZOO bench image-ad --budget full --datasets mnist --models "$model[cnn]" \
    --seeds 1 --accelerator gpu --db "$DIR/ad/$model.db"
done
for model in vae gan; do
  job "gen-$model" $ZOO bench image-gen --budget full --datasets mnist --models "$model[cnn]" \
    --seeds 1 --setting default --accelerator gpu --db "$DIR/gen/$model.db"
done
for classes in 0,1,2,3,4 5,6,7,8,9; do
  job "ablation-${classes:0:1}" $PYTHON benchmarks/image_ad_protocol_ablation.py \
    --classes "$classes" --seed 0
done
started=$(date +%s)
wait
echo "all jobs ended after $(( $(date +%s) - started )) s"
grep -h '^\[' "$DIR"/log/*.log | sort
grep -h '^class' "$DIR"/log/ablation-*.log
