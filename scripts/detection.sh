#!/usr/bin/env bash
# Runs faultline-node with each known bug under the workload and nemesis that
# expose it, over a range of seeds, and prints a Markdown table of how often
# the bug was caught (exit 1). Used to write docs/detection.md.
#
#   scripts/detection.sh [SEEDS] [TIME_LIMIT] [BUG...]
#   e.g. scripts/detection.sh "1 2 3 4 5 6 7 8 9 10" 30
set -uo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-"1 2 3 4 5 6 7 8 9 10"}
limit=${2:-30}
shift 2 2>/dev/null || shift $#
cargo build --release --bins -q
store=${DETECTION_STORE:-store/detection}

# bug | workload | nemesis | nemesis interval (s)
plan=(
  "stale-read|register|partition|5"
  "lease-without-checkquorum|register|partition|5"
  "ack-before-commit|set|kill,partition|5"
  "no-log-check|register|kill,partition|2"
  "vote-twice|register|kill|0.3"
)
echo "| bug | workload | nemesis (interval) | caught / runs | seeds caught | detected at (s into the run) |"
echo "|---|---|---|---|---|---|"
for line in "${plan[@]}"; do
  IFS='|' read -r bug workload nemesis interval <<<"$line"
  if [ $# -gt 0 ] && [[ ! " $* " == *" $bug "* ]]; then continue; fi
  caught=0 runs=0 which="" times=""
  for seed in $seeds; do
    runs=$((runs + 1))
    out=$(target/release/faultline run --workload "$workload" --nemesis "$nemesis" \
      --nemesis-interval "$interval" --seed "$seed" --time-limit "$limit" --nodes 5 --store "$store" \
      --node-arg=--bug="$bug" 2>&1)
    code=$?
    if [ $code -eq 1 ]; then
      caught=$((caught + 1))
      which="$which $seed"
      t=$(python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get("time_to_detect_s"); print("" if v is None else round(v,1))' "$store/latest/results.json" 2>/dev/null)
      times="$times ${t:-?}"
    elif [ $code -ne 0 ]; then
      echo "  ($bug seed $seed: exit $code)" >&2
      echo "$out" | tail -n 5 >&2
    fi
  done
  echo "| \`$bug\` | $workload | $nemesis ($interval s) | $caught / $runs | ${which:- none} | ${times:- -} |"
done
