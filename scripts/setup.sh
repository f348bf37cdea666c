#!/usr/bin/env bash
# Installs what faultline needs on a fresh Debian machine. Idempotent: safe to
# run before every command. Needs root (or sudo) only when something is missing.
set -euo pipefail

need=()
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# etcd, the second system under test (`faultline run --system etcd`, `faultline bench --compare`).
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
# The report test opens report.html in a real browser.
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need[*]}" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (stable) first: https://rustup.rs" >&2
  exit 1
fi
