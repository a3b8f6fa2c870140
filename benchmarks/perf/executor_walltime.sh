#!/usr/bin/env bash
# Wall time of one `zoo bench` run or `zoo tune` study serially, on two local worker
# processes and on a local Ray cluster (issue 25): the same command into three fresh stores,
# one after the other, with nothing else running. Prints `executor seconds` and then
# - bench: the `ok` cells, and checks that the three leaderboards are equal;
# - tune: the best trial, its value, the trial counts and the test metrics (the same for the
#   three with `--sampler random --pruner none`: the driver asks for the same trials in the
#   same order whatever the executor).
# Usage: benchmarks/perf/executor_walltime.sh OUT_DIR bench|tune [its arguments...]
# e.g.   benchmarks/perf/executor_walltime.sh /tmp/walltime bench tabular-ad --budget quick \
#            --seeds 3 --setting semi --models iforest,knn
#        benchmarks/perf/executor_walltime.sh /tmp/tunetime tune autoencoder \
#            --data mammography --trials 20 --max-epochs 50 --sampler random --pruner none
set -euo pipefail
out=$1
command=$2
shift 2
zoo=${ZOO:-zoo}
for executor in in-process local ray; do
  extra=()
  case $executor in
    local) extra=(--executor local --jobs 2) ;;
    ray) extra=(--executor ray --cpus-per-cell 1) ;;
  esac
  rm -rf "${out:?}/$executor"
  mkdir -p "$out/$executor"
  start=$(date +%s.%N)
  "$zoo" "$command" "$@" "${extra[@]}" --db "$out/$executor/runs.db" --json \
    > "$out/$executor/result.json" 2> "$out/$executor/log"
  end=$(date +%s.%N)
  python - "$command" "$out/$executor/result.json" "$executor" "$(echo "$end - $start" | bc)" <<'PY'
import json, sys
command, path, executor, seconds = sys.argv[1:5]
result = json.load(open(path))
if command == "bench":
    print(executor, seconds, sum(row["status"] == "ok" for row in result))
else:
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(result["test_metrics"].items()))
    print(executor, seconds, result["best_trial"], f"{result['best_value']:.6g}",
          result["trials"], metrics)
PY
  if [ "$command" = bench ]; then
    "$zoo" leaderboard "$1" --db "$out/$executor/runs.db" --format json \
      > "$out/$executor/leaderboard.json"
  fi
done
if [ "$command" = bench ]; then
  for executor in local ray; do
    python - "$out/in-process/leaderboard.json" "$out/$executor/leaderboard.json" \
      "$executor" <<'PY'
import json, sys
serial, other = (json.load(open(path)) for path in sys.argv[1:3])
print(sys.argv[3], "leaderboard equals serial:", serial == other)
PY
  done
fi
