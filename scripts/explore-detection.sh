#!/usr/bin/env bash
# Runs `faultline explore` on faultline-node (correct, or with one known bug)
# over a range of search seeds, with no scenario hint, and prints one
# Markdown row per item: how many searches caught the bug (exit 1; for
# `none`, how many ended their budget with exit 0), the median wall-clock
# seconds of search until the failing run was checked, the median seconds of
# workload run before the first anomaly (every earlier run's time limit plus
# the failing run's time to detect), and the runs each search made. Used to
# write the explore column of docs/detection.md.
#
#   scripts/explore-detection.sh SEEDS ITEM...
#   ITEM is BUG[@KINDS][:WORKLOAD]: BUG a --bug name or `none`; KINDS the
#   fault kinds the search may use (`--nemesis`, default all; e.g.
#   all+power-loss); WORKLOAD the workload (default register).
#   EXPLORE_BUDGET (default 10m) is each search's budget; EXPLORE_ARGS adds
#   options to every search (e.g. "--recovery-time 3").
#   e.g. scripts/explore-detection.sh "1 2 3" stale-read no-fsync@all+power-loss:set
set -uo pipefail
cd "$(dirname "$0")/.."
seeds=$1
shift
store=${DETECTION_STORE:-store/explore-detection}
bin=${FAULTLINE_BIN:-target/release/faultline}
budget=${EXPLORE_BUDGET:-10m}
[ -n "${FAULTLINE_BIN:-}" ] || cargo build --release --bins -q

# shellcheck source=detection-lib.sh
source scripts/detection-lib.sh

echo "| bug | faults, workload | caught / searches | seeds | median search time (s) | median workload time (s) | runs per search | search times (s) |"
echo "|---|---|---|---|---|---|---|---|"
for item in "$@"; do
  parse_item "$item"
  args=(--nemesis "${kinds//+/,}" --workload "$workload" --budget "$budget" --store "$store/$bug")
  [ "$bug" = none ] || args+=(--node-arg=--bug="$bug")
  read -r -a extra <<< "${EXPLORE_ARGS:-}"
  args+=("${extra[@]}")
  hits=0 searches=0 which="" wall=() work=() runs=()
  for seed in $seeds; do
    searches=$((searches + 1))
    out=$("$bin" explore "${args[@]}" --seed "$seed" 2>&1)
    code=$?
    folder=$(printf '%s\n' "$out" | sed -n 's/^  folder: //p' | head -1)
    json="$folder/explore.json"
    want=1
    [ "$bug" = none ] && want=0
    n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["runs"])' "$json" 2>/dev/null || echo "?")
    runs+=("$n")
    if [ $code -eq $want ]; then
      hits=$((hits + 1))
      which="$which $seed"
      if [ "$bug" != none ]; then
        read -r w t < <(python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); print(round(o["found_after_s"],1), round(o["test_seconds_to_detect"],1))' "$json")
        wall+=("$w")
        work+=("$t")
      fi
    elif [ $code -ne 0 ] && [ $code -ne 1 ]; then
      echo "seed $seed: exit $code: $(printf '%s\n' "$out" | tail -2 | tr '\n' ' ')" >&2
    fi
  done
  echo "| \`$bug\` | $kinds, $workload | $hits / $searches | ${which# } | $(median "${wall[@]}") | $(median "${work[@]}") | ${runs[*]} | ${wall[*]} |"
done
