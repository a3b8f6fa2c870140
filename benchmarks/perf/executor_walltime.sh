#!/usr/bin/env bash
# Wall time of one `zoo bench` run serially, on two local worker processes and on a local Ray
# cluster (issue 25): the same cells into three fresh stores, one after the other, with
# nothing else running. Prints `executor seconds ok-cells`, then checks that the three
# leaderboards are equal.
# Usage: benchmarks/perf/executor_walltime.sh OUT_DIR [zoo bench arguments...]
# e.g.   benchmarks/perf/executor_walltime.sh /tmp/walltime tabular-ad --budget quick \
#            --seeds 3 --setting semi --models iforest,knn
set -euo pipefail
out=$1
shift
zoo=${ZOO:-zoo}
mkdir -p "$out"
for executor in in-process local ray; do
  extra=()
  case $executor in
    local) extra=(--executor local --jobs 2) ;;
    ray) extra=(--executor ray --cpus-per-cell 1) ;;
  esac
  rm -f "$out/$executor.db"*
  start=$(date +%s.%N)
  "$zoo" bench "$@" "${extra[@]}" --db "$out/$executor.db" > "$out/$executor.log" 2>&1
  end=$(date +%s.%N)
  ok=$(grep -c '\[      ok\]' "$out/$executor.log" || true)
  echo "$executor $(echo "$end - $start" | bc) $ok"
  "$zoo" leaderboard "$1" --db "$out/$executor.db" --format json > "$out/$executor.json"
done
for executor in local ray; do
  python - "$out/in-process.json" "$out/$executor.json" "$executor" <<'PY'
import json, sys
serial, other = (json.load(open(path)) for path in sys.argv[1:3])
print(sys.argv[3], "leaderboard equals serial:", serial == other)
PY
done
