#!/usr/bin/env bash
# zoo tune acceptance (issue 23): autoencoder on tabular-ad tables, semi protocol.
# Defaults vs TPE vs random search, the same trial count and seeds; the objective is the
# validation loss (the semi protocol's validation rows are normal only: no label chooses);
# each study's best is retrained and evaluated once on the test split. One line per
# (table, seed, method): `TABLE SEED METHOD AUROC AUPRC [best val loss, trials]`.
# Usage: benchmarks/tune_acceptance.sh DB TRIALS MAX_EPOCHS "SEED..." TABLE...
set -euo pipefail
db=$1 trials=$2 epochs=$3 seeds=$4
shift 4
zoo=${ZOO:-zoo}
for table in "$@"; do
  for seed in $seeds; do
    run=$($zoo train autoencoder --data "$table" --max-epochs "$epochs" --seed "$seed" \
          --db "$db" --json | python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    $zoo evaluate "$run" --db "$db" --json | python -c "import json,sys; \
m=json.load(sys.stdin)['metrics']; print('$table $seed defaults', round(m['auroc'], 4), \
round(m['auprc'], 4))"
    for sampler in tpe random; do
      $zoo tune autoencoder --data "$table" --trials "$trials" --max-epochs "$epochs" \
        --seed "$seed" --sampler "$sampler" --study "autoencoder-$table-$sampler-seed$seed" \
        --db "$db" --json | python -c "import json,sys; r=json.load(sys.stdin); \
m=r['test_metrics']; print('$table $seed $sampler', round(m['auroc'], 4), \
round(m['auprc'], 4), round(r['best_value'], 4), r['trials'])"
    done
  done
done
