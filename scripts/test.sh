#!/usr/bin/env bash
# Runs every test of the workspace (the README's test command calls this).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo test --workspace --release "$@"
