#!/usr/bin/env bash
# zoo tune acceptance (issue 23): autoencoder on tabular-ad tables, semi protocol, seed 0.
# Defaults vs TPE vs random search, the same trial count and seed; the objective is the
# validation loss (the semi protocol's validation rows are normal only: no label chooses);
# each study's best is retrained and evaluated once on the test split.
# Usage: benchmarks/tune_acceptance.sh DB TRIALS MAX_EPOCHS TABLE...
set -euo pipefail
db=$1 trials=$2 epochs=$3
shift 3
zoo=${ZOO:-zoo}
for table in "$@"; do
  run=$($zoo train autoencoder --data "$table" --max-epochs "$epochs" --db "$db" --json \
        | python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  $zoo evaluate "$run" --db "$db" --json \
    | python -c "import json,sys; r=json.load(sys.stdin); print('$table defaults', r['metrics'])"
  for sampler in tpe random; do
    $zoo tune autoencoder --data "$table" --trials "$trials" --max-epochs "$epochs" \
      --sampler "$sampler" --study "autoencoder-$table-$sampler" --db "$db" --json \
      | python -c "import json,sys; r=json.load(sys.stdin); print('$table $sampler', \
r['test_metrics'], 'best_val_loss', round(r['best_value'], 4), r['trials'])"
  done
done
