#!/usr/bin/env bash
# Runs a SQL system (`--system postgres` or `galera`) over a list of seeds
# for each configuration named, and prints one Markdown row per run: the
# exit code, the models checked and the anomalies the transactional checker
# named. Used to write docs/findings.md (PostgreSQL calibration and faults).
#
#   scripts/sql-matrix.sh SEEDS 'LABEL|FAULTLINE RUN ARGS' ...
#   e.g. scripts/sql-matrix.sh "1 2 3" \
#     'serializable|--system postgres --postgres-isolation serializable --nemesis none' \
#     'rr vs SI|--system postgres --postgres-isolation repeatable-read --consistency-models snapshot-isolation --nemesis none'
#
# Every run gets --workload txn-list-append, --time-limit 15 and
# --concurrency 10 unless its arguments name that flag.
set -uo pipefail
cd "$(dirname "$0")/.."
seeds=$1
shift
store=${MATRIX_STORE:-store/sql-matrix}
bin=${FAULTLINE_BIN:-target/release/faultline}
[ -n "${FAULTLINE_BIN:-}" ] || cargo build --release --bins -q

echo "| configuration | seed | exit | checked against | ok / fail / info | anomalies |"
echo "|---|---|---|---|---|---|"
for item in "$@"; do
  label=${item%%|*}
  read -r -a args <<< "${item#*|}"
  for default in "--workload txn-list-append" "--time-limit 15" "--concurrency 10"; do
    [[ " ${args[*]} " == *" ${default%% *} "* ]] || read -r -a args <<< "${default} ${args[*]}"
  done
  for seed in $seeds; do
    "$bin" run "${args[@]}" --seed "$seed" --store "$store" > /dev/null 2>&1
    code=$?
    row=$(python3 - "$store/latest/results.json" <<'PY'
import json, re, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"- | - | no results ({e})")
    sys.exit()
txn = next((c for c in r["checkers"] if c.get("kind") == "txn"), None)
if txn is None:
    print("- | - | no transactional checker")
    sys.exit()
text = txn.get("text", "")
head = text.splitlines()[0] if text else ""
m = re.search(r"\((\d+) ok, (\d+) fail, (\d+) info", head)
counts = "/".join(m.groups()) if m else "?"
models = re.search(r"against (.*)$", head)
kinds = re.search(r"^anomaly types: (.*)$", text, re.M)
print(f"{models.group(1) if models else '?'} | {counts} | {kinds.group(1) if kinds else 'none'}")
PY
)
    echo "| $label | $seed | $code | $row |"
  done
done
