#!/usr/bin/env bash
# Installs what pgha's tests need on a Debian machine: PostgreSQL 15 server binaries, etcd, Chromium,
# Installs what pgha's tests need on a Debian machine: PostgreSQL 15 server binaries, etcd, pgBackRest, Barman,
# and an unprivileged OS user (`pgha`) that runs postgres and agents in tests (postgres refuses root).
set -euo pipefail

need=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15 postgresql-client-15)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
# Debian's real Patroni with its Consul and Kubernetes clients: the independent client that proves the
# Consul and Kubernetes API emulators (test/consul, test/kubernetes), and patronictl listing pgha clusters.
[ -x /usr/bin/patroni ] || need+=(patroni)
[ -f /usr/lib/python3/dist-packages/consul/base.py ] || need+=(python3-consul)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
/usr/bin/python3 -c 'import kubernetes' >/dev/null 2>&1 || need+=(python3-kubernetes)
# ZooKeeper 3.8 server jars (started with java by the tests), an slf4j binding, a JRE.
[ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper)
[ -f /usr/share/java/slf4j-simple.jar ] || need+=(libslf4j-java)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
# python-etcd for Patroni's etcd3 module: bench:footprint runs Patroni beside pgha on etcd.
/usr/bin/python3 -c 'import etcd' >/dev/null 2>&1 || need+=(python3-etcd)
# Kazoo for Debian's patronictl: the ZooKeeper compatibility test reads pgha's cluster with it.
/usr/bin/python3 -c 'import kazoo' >/dev/null 2>&1 || need+=(python3-kazoo)
# The dashboard's browser test drives Debian's headless Chromium.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Backup tools for the replica-creation and restore suites (test/backup): pgBackRest and Barman (which uses rsync).
command -v pgbackrest >/dev/null 2>&1 || need+=(pgbackrest)
command -v barman >/dev/null 2>&1 || need+=(barman)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
# The kernel watchdog's WDIOC_SETTIMEOUT helper and the parity tests (Python's json.dumps, TLS certificates).
[ -x /usr/bin/python3 ] || need+=(python3)
# pgrep: the migration tests (test/migration) wait for a killed postmaster's children by PID.
command -v pgrep >/dev/null 2>&1 || need+=(procps)
# Real network partitions between nodes (test/chaos/netns.test.ts, npm run chaos -- --netns).
[ -x /usr/sbin/ip ] || need+=(iproute2)
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
echo "test dependencies ready: postgres $(/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}'), $(etcd --version 2>/dev/null | head -1), $(pgbackrest version), barman $(barman --version 2>&1 | awk 'NR==1{print $1}')"
