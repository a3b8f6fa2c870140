#!/usr/bin/env bash
# Wall time of one `zoo tune` study serially, on two local worker processes and on a local
# Ray cluster: the same study into three fresh stores, one after the other, with nothing
# else running. With `--sampler random --pruner none` the driver asks for the same trials in
# the same order whatever the executor, so the three studies must agree: the script prints
# `executor seconds best-trial best-value test-metrics` for each.
# Usage: benchmarks/perf/tune_walltime.sh OUT_DIR [zoo tune arguments...]
# e.g.   benchmarks/perf/tune_walltime.sh /tmp/tunetime autoencoder --data mammography \
#            --trials 12 --max-epochs 20 --sampler random --pruner none
set -euo pipefail
out=$1
shift
zoo=${ZOO:-zoo}
mkdir -p "$out"
for executor in in-process local ray; do
  extra=()
  case $executor in
    local) extra=(--jobs 2) ;;
    ray) extra=(--executor ray --cpus-per-cell 1) ;;
  esac
  rm -rf "${out:?}/$executor"
  mkdir -p "$out/$executor"
  start=$(date +%s.%N)
  "$zoo" tune "$@" "${extra[@]}" --db "$out/$executor/runs.db" --json \
    > "$out/$executor/result.json" 2> "$out/$executor/log"
  end=$(date +%s.%N)
  python - "$out/$executor/result.json" "$executor" "$(echo "$end - $start" | bc)" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(result["test_metrics"].items()))
print(sys.argv[2], sys.argv[3], result["best_trial"], f"{result['best_value']:.6g}",
      result["trials"], metrics)
PY
done
