#!/usr/bin/env bash
# Published bugs of real products, each run at the version it lives in and
# on the configuration or version that should not show it (docs/findings.md
# has the results and what they mean):
#
#   ./scripts/published-bugs.sh [--seeds N] [--first K] [--store DIR] [ROW...]
#
# ROW is a row name below (default: every row). Each row runs one command
# at seeds K..N (default 1..10; --first adds seeds to an earlier sweep) and
# prints one table line: how many seeds exited 1 (invalid), 0 (valid), 2
# or 3, and the median time to detect of the invalid ones. Rows marked `caught` must exit 1 at every seed and rows
# marked `pass` must exit 0 at every seed, or the script exits 1; `observe`
# rows only report (what a run on them shows is a finding, not a
# regression). Needs network access once, to fetch the pinned releases
# (faultline install); runs take 40 s to 2 min each.
set -euo pipefail
cd "$(dirname "$0")/.."

seeds=10
first=1
store=store/published-bugs
rows=()
while [ $# -gt 0 ]; do
  case $1 in
    --seeds) seeds=$2; shift 2 ;;
    --first) first=$2; shift 2 ;;
    --store) store=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) rows+=("$1"); shift ;;
  esac
done

./scripts/setup.sh
cargo build --release --bins -q
fl=target/release/faultline
$fl install nats 2.12.1 2.15.1 >/dev/null
$fl install etcd 3.5.1 >/dev/null

bugs=scenarios/published-bugs.toml
nats12="--system nats --nats-version 2.12.1"
nats15="--system nats --nats-version 2.15.1"
always="--nats-sync-interval always"
etcd35="--system etcd --etcd-version 3.5.1"
etcd34="--system etcd"

# name | expectation | faultline run arguments (the seed is added)
table=$(cat <<EOF
nats-7564-2.12.1|caught|$nats12 power-loss-all
nats-7564-2.15.1|caught|$nats15 power-loss-all
nats-7564-2.12.1-always|observe|$nats12 $always power-loss-all
nats-7564-2.15.1-always|observe|$nats15 $always power-loss-all
nats-power-loss-minority-2.9.10|observe|--system nats power-loss-minority
nats-kpp-2.12.1-always|observe|$nats12 $always --workload set --nemesis kill,pause,partition --time-limit 30
nats-7567-2.12.1|observe|$nats12 power-loss-pauses
nats-7567-2.15.1|observe|$nats15 power-loss-pauses
nats-7567-2.12.1-always|observe|$nats12 $always power-loss-pauses
nats-7567-2.15.1-always|observe|$nats15 $always power-loss-pauses
nats-7549-bitflip-2.12.1-always|observe|$nats12 $always nats-blk-bitflip --scenarios $bugs
nats-7549-truncate-2.12.1-always|observe|$nats12 $always nats-blk-truncate --scenarios $bugs
nats-7556-2.12.1-always|observe|$nats12 $always nats-snapshot-corrupt --scenarios $bugs
etcd-13766-3.5.1|observe|$etcd35 --etcd-arg=--snapshot-count=100 --workload register --nemesis kill --rate 1000 --concurrency 8 --time-limit 60
etcd-13766-3.4.23|observe|$etcd34 --etcd-arg=--snapshot-count=100 --workload register --nemesis kill --rate 1000 --concurrency 8 --time-limit 60
etcd-15271-3.5.1|observe|$etcd35 --etcd-arg=--snapshot-count=100 etcd-watch-snapshot --scenarios $bugs --rate 500 --concurrency 8
etcd-15271-3.4.23|observe|$etcd34 --etcd-arg=--snapshot-count=100 etcd-watch-snapshot --scenarios $bugs --rate 500 --concurrency 8
etcd-14370-kill-3.5.1|observe|$etcd35 --nodes 1 --workload set --nemesis kill --time-limit 30
etcd-14370-power-loss-3.5.1|observe|$etcd35 --nodes 1 --workload set --nemesis power-loss --time-limit 30
etcd-14370-power-loss-3.4.23|observe|$etcd34 --nodes 1 --workload set --nemesis power-loss --time-limit 30
EOF
)

mkdir -p "$store"
failed=0
printf "| row | expect | seeds | exit 1 | exit 0 | other | median detect (s) |\n|---|---|---|---|---|---|---|\n"
while IFS='|' read -r name expect args; do
  if [ ${#rows[@]} -gt 0 ] && [[ ! " ${rows[*]} " == *" $name "* ]]; then
    continue
  fi
  invalid=0 valid=0 other=0 times=()
  for seed in $(seq "$first" "$seeds"); do
    code=0
    # shellcheck disable=SC2086 # the arguments are words
    timeout 600 $fl run $args --seed "$seed" --store "$store/$name" \
      >"$store/$name-$seed.txt" 2>&1 || code=$?
    case $code in
      1) invalid=$((invalid + 1))
         t=$(grep -o '"time_to_detect_s": *[0-9.]*' "$store/$name/latest/results.json" | grep -o '[0-9.]*$' || true)
         [ -n "$t" ] && times+=("$t") ;;
      0) valid=$((valid + 1)) ;;
      *) other=$((other + 1)) ;;
    esac
  done
  median=$(printf "%s\n" "${times[@]:-}" | sort -g |
    awk 'NF {a[++n]=$1} END {if (n) print a[int((n+1)/2)]; else print "-"}')
  printf "| %s | %s | %s | %s | %s | %s | %s |\n" "$name" "$expect" "$first-$seeds" "$invalid" "$valid" "$other" "$median"
  runs=$((seeds - first + 1))
  if { [ "$expect" = caught ] && [ "$invalid" -ne "$runs" ]; } ||
     { [ "$expect" = pass ] && [ "$valid" -ne "$runs" ]; }; then
    failed=1
  fi
done <<< "$table"
exit $failed
