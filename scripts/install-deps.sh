#!/usr/bin/env bash
# Installs what pgha's tests need on a Debian machine: PostgreSQL 15 server binaries, etcd,
# and an unprivileged OS user (`pgha`) that runs postgres and agents in tests (postgres refuses root).
set -euo pipefail

need=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15 postgresql-client-15)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
# The kernel watchdog's WDIOC_SETTIMEOUT helper and the parity tests (Python's json.dumps, TLS certificates).
[ -x /usr/bin/python3 ] || need+=(python3)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# The Debian postgresql package starts a cluster on 5432; tests use their own ports and never touch it.
if [ "$(id -u)" -eq 0 ] && ! id pgha >/dev/null 2>&1; then
  useradd --system --create-home --home-dir /var/lib/pgha --shell /usr/sbin/nologin pgha
fi
echo "test dependencies ready: postgres $(/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}'), $(etcd --version 2>/dev/null | head -1)"
