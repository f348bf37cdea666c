#!/usr/bin/env bash
# Formats every Rust file (or, with --check, says which are not formatted).
#
# `cargo fmt` follows the module tree from each crate's root, and does not
# see modules that a registry macro declares (a fault, a system, a checker
# or a report section is one file and one registry line, which declares
# its module); rustfmt on every tracked file covers those too.
set -euo pipefail
cd "$(dirname "$0")/.."
check=()
if [[ "${1:-}" == "--check" ]]; then
  check=(--check)
fi
cargo fmt --all -- "${check[@]}"
git ls-files -z -- '*.rs' | xargs -0 rustfmt --edition 2021 "${check[@]}"
