#!/usr/bin/env bash
# The random mix as a user would rerun it: for each campaign seed, runs
# faultline-node with one known bug under the random `--nemesis` mix (5
# nodes, 40-second runs, the scenarios' default) again and again with new
# seeds (SEED, SEED+1000, SEED+2000, ...) until a run fails (exit 1) or the
# campaign's wall-clock budget is spent, the way `faultline explore` runs
# until its first invalid verdict. Prints one Markdown row per item: how
# many campaigns caught the bug, the median wall-clock seconds until the
# failing run was checked, the median seconds of workload before the first
# anomaly (every earlier run's time limit plus the failing run's time to
# detect, or its whole time limit when only the end-of-run checks saw it:
# the explore column's "workload time"), and the runs each campaign
# made. Used to write docs/detection.md.
#
#   scripts/mix-detection.sh SEEDS ITEM...
#   ITEM is BUG[@KINDS][:WORKLOAD] as in scripts/explore-detection.sh
#   (KINDS default all, e.g. all+power-loss; WORKLOAD default register).
#   MIX_BUDGET (seconds, default 600) is each campaign's budget; a run that
#   starts before it ends is finished.
#   e.g. scripts/mix-detection.sh "1 2 3" stale-read no-fsync@all+power-loss:set
set -uo pipefail
cd "$(dirname "$0")/.."
seeds=$1
shift
store=${DETECTION_STORE:-store/mix-detection}
bin=${FAULTLINE_BIN:-target/release/faultline}
budget=${MIX_BUDGET:-600}
limit=40
[ -n "${FAULTLINE_BIN:-}" ] || cargo build --release --bins -q

# shellcheck source=detection-lib.sh
source scripts/detection-lib.sh

echo "| bug | faults, workload | caught / campaigns | seeds | median campaign time (s) | median workload time (s) | runs per campaign | campaign times (s) |"
echo "|---|---|---|---|---|---|---|---|"
for item in "$@"; do
  parse_item "$item"
  hits=0 campaigns=0 which="" walls=() works=() runs_each=()
  for seed in $seeds; do
    campaigns=$((campaigns + 1))
    start=$(date +%s.%N)
    runs=0 caught=""
    while :; do
      now=$(date +%s.%N)
      python3 -c 'import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) < float(sys.argv[3]) else 1)' \
        "$start" "$now" "$budget" || break
      run_seed=$((seed + 1000 * runs))
      runs=$((runs + 1))
      out=$("$bin" run --nodes 5 --store "$store" --workload "$workload" --nemesis "${kinds//+/,}" \
        --time-limit "$limit" --node-arg=--bug="$bug" --seed "$run_seed" 2>&1)
      code=$?
      if [ $code -eq 1 ]; then
        caught=yes
        break
      elif [ $code -ne 0 ]; then
        echo "  ($item campaign $seed, seed $run_seed: exit $code)" >&2
        echo "$out" | tail -n 5 >&2
      fi
    done
    runs_each+=("$runs")
    if [ -n "$caught" ]; then
      hits=$((hits + 1))
      which="$which $seed"
      end=$(date +%s.%N)
      walls+=("$(python3 -c 'import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))' "$start" "$end")")
      # An anomaly seen only by the end-of-run checks (replicas that no
      # longer agree) has no time to detect: the whole run counts, as in
      # explore's workload time.
      t=$(python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get("time_to_detect_s"); print(sys.argv[2] if v is None else round(v,1))' "$store/latest/results.json" "$limit" 2>/dev/null)
      works+=("$(python3 -c 'import sys; print(round((int(sys.argv[1]) - 1) * float(sys.argv[2]) + float(sys.argv[3]), 1))' "$runs" "$limit" "${t:-$limit}")")
    fi
  done
  echo "| \`$bug\` | ${kinds//+/,}, $workload | $hits / $campaigns | ${which:- none} | $(median "${walls[@]}") | $(median "${works[@]}") | ${runs_each[*]} | ${walls[*]:--} |"
done
