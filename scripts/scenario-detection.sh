#!/usr/bin/env bash
# Runs faultline-node (correct, or with one known bug) under named scenarios
# or the random `--nemesis all` mix over a range of seeds, and prints one
# Markdown row per plan item: how many seeds caught the bug (exit 1; for
# `none`, how many passed with exit 0) and the median time to detect. Used to
# write docs/detection.md.
#
#   scripts/scenario-detection.sh SEEDS ITEM...
#   ITEM is BUG@RUN: BUG a --bug name or `none` (the correct node); RUN a
#   scenario name, or `KINDS:WORKLOAD` for the random mix of the nemeses
#   KINDS (`all`, or a `+` list such as `all+power-loss`) with WORKLOAD, 5
#   nodes and a 40-second time limit (the scenarios' default).
#   e.g. scripts/scenario-detection.sh "1 2 3" none@leader-isolation stale-read@all:register
#        scripts/scenario-detection.sh "1 2 3" no-fsync@all+power-loss:set
set -uo pipefail
cd "$(dirname "$0")/.."
seeds=$1
shift
store=${DETECTION_STORE:-store/detection}
bin=${FAULTLINE_BIN:-target/release/faultline}
[ -n "${FAULTLINE_BIN:-}" ] || cargo build --release --bins -q

# shellcheck source=detection-lib.sh
source scripts/detection-lib.sh

echo "| bug | run | caught / runs | seeds | median time to detect (s) | times (s) |"
echo "|---|---|---|---|---|---|"
for item in "$@"; do
  bug=${item%%@*}
  run=${item#*@}
  args=(--nodes 5 --store "$store")
  if [[ $run == *:* ]]; then
    kinds=${run%%:*}
    args+=(--workload "${run#*:}" --nemesis "${kinds//+/,}" --time-limit 40)
  else
    args=("$run" "${args[@]}")
  fi
  [ "$bug" = none ] || args+=(--node-arg=--bug="$bug")
  hits=0 runs=0 which="" times=()
  for seed in $seeds; do
    runs=$((runs + 1))
    out=$("$bin" run "${args[@]}" --seed "$seed" 2>&1)
    code=$?
    want=1
    [ "$bug" = none ] && want=0
    if [ $code -eq $want ]; then
      hits=$((hits + 1))
      which="$which $seed"
      if [ "$bug" != none ]; then
        t=$(python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get("time_to_detect_s"); print("?" if v is None else round(v,1))' "$store/latest/results.json" 2>/dev/null)
        times+=("${t:-?}")
      fi
    elif [ $code -ne 0 ] && [ $code -ne 1 ]; then
      echo "  ($item seed $seed: exit $code)" >&2
      echo "$out" | tail -n 5 >&2
    elif [ "$bug" = none ]; then
      echo "  ($item seed $seed: exit $code, a false alarm or a harness fault)" >&2
      echo "$out" | tail -n 12 >&2
    fi
  done
  known=()
  for t in "${times[@]}"; do [ "$t" = "?" ] || known+=("$t"); done
  med=$(median "${known[@]}")
  [ "$bug" = none ] && med="-"
  echo "| \`$bug\` | $run | $hits / $runs | ${which:- none} | $med | ${times[*]:--} |"
done
