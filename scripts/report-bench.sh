#!/usr/bin/env bash
# Measures how long headless Chromium takes to open and render the report of a
# history of N operations (default 1,000,000): generates the history, writes
# its page with `faultline check --report`, then times `chromium --dump-dom`
# (browser start-up included) and reads the time the page itself reports.
#
#   scripts/report-bench.sh [OPERATIONS]
#
# Needs chromium (scripts/setup.sh installs it) and a release build of
# faultline (built here if missing, into $CARGO_TARGET_DIR or target/).
set -euo pipefail

ops=${1:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
faultline=$target/release/faultline
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "report-bench: chromium not found; run scripts/setup.sh" >&2
  exit 1
fi
if [ ! -x "$faultline" ]; then
  (cd "$root" && cargo build --release -p faultline --bin faultline)
fi

work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

# 10 clients, each on its own key, writing then reading its counter (so the
# history is linearizable and the check is quick); a fault every 10 s.
awk -v ops="$ops" 'BEGIN {
  srand(7); procs = 10; idx = 0; t = 0;
  for (p = 0; p < procs; p++) { busy[p] = 0; val[p] = 0 }
  for (i = 0; i < ops; i++) {
    p = i % procs;
    start = busy[p] + int(rand() * 200000);
    if (start < t) start = t;
    t = start;
    lat = 300000 + int(-log(rand() + 1e-9) * 2000000);
    if (int(i / procs) % 2 == 0) { val[p]++; f = "write"; v = val[p]; inv = v } else { f = "read"; v = val[p]; inv = "null" }
    printf "{\"index\":%d,\"time\":%d,\"process\":%d,\"type\":\"invoke\",\"f\":\"%s\",\"key\":\"k%d\",\"value\":%s}\n", idx++, t, p, f, p, inv;
    printf "{\"index\":%d,\"time\":%d,\"process\":%d,\"type\":\"ok\",\"f\":\"%s\",\"key\":\"k%d\",\"value\":%s}\n", idx++, t + lat, p, f, p, v;
    busy[p] = t + lat;
    if (i % 20000 == 0 && i > 0) {
      printf "{\"index\":%d,\"time\":%d,\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"%s\",\"value\":[\"n%d\"]}\n", idx++, t, (i % 40000 == 0) ? "kill" : "restart", 1 + (i / 40000) % 3;
    }
  }
}' | sort -t: -k3,3n -s > "$work/unsorted.jsonl"
# Events must appear in time order with indexes in that order: renumber.
awk -F'"index":[0-9]+,' '{ printf "%s\"index\":%d,%s\n", $1, NR - 1, $2 }' "$work/unsorted.jsonl" > "$work/history.jsonl"

echo "report-bench: $ops operations, $(wc -l < "$work/history.jsonl") events" >&2
start=$(date +%s.%N)
rc=0
"$faultline" check --model register --timeout 600 --report "$work/report.html" "$work/history.jsonl" > /dev/null || rc=$?
if [ "$rc" -gt 2 ]; then
  echo "report-bench: faultline check failed ($rc)" >&2
  exit 1
fi
made=$(date +%s.%N)
size=$(stat -c %s "$work/report.html")
if grep -Eo '(src|href)="https?://[^"]*"' "$work/report.html" | head -1 | grep -q .; then
  echo "report-bench: the page refers to the network" >&2
  exit 1
fi

start_browser=$(date +%s.%N)
"$browser" --headless --disable-gpu --no-sandbox --window-size=1400,1000 \
  --dump-dom "file://$work/report.html" \
  > "$work/dom.html" 2> "$work/browser.log"
end_browser=$(date +%s.%N)
status=$(grep -o '<footer id="status">[^<]*' "$work/dom.html" | sed 's/.*>//')
rendered=$(grep -o 'data-rendered="[a-z]*"' "$work/dom.html" | head -1)
wall=$(awk -v a="$start_browser" -v b="$end_browser" 'BEGIN { printf "%.2f", b - a }')
echo "report.html: $((size / 1024 / 1024)) MiB, written in $(awk -v a="$start" -v b="$made" 'BEGIN { printf "%.2f", b - a }') s (check included)"
echo "chromium --dump-dom (start-up, load, parse, render): ${wall} s"
echo "page: $rendered; $status"
[ "$rendered" = 'data-rendered="ok"' ]
