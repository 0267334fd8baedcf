#!/usr/bin/env bash
# Installs what `hedge up --ha` and `npm run test:ha` need: Debian's Patroni,
# etcd and PostgreSQL 15 (which, unlike the embedded package, has pg_basebackup
# and pg_rewind). Run as root on Debian 12; running it again changes nothing.
#
# Debian's packages start a default PostgreSQL cluster (port 5432) and an etcd
# service (2379/2380) on install. hedge runs its own members under its data
# directory on ports it picks, so those services are stopped and disabled: they
# would only hold ports and memory.
set -euo pipefail

# shellcheck source=scripts/apt-install.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
# python3-etcd (and python3-dnspython, which it needs): Patroni's etcd v2 backend (see src/ha/ha-layout.ts for why not etcd3).
install_missing setup-ha patroni etcd-server etcd-client postgresql-15 postgresql-client-15 python3-etcd python3-dnspython

# Whatever did start (a machine with systemd, an earlier install): stop and disable it.
stop_service() {
  local name=$1
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl stop "$name" >/dev/null 2>&1 || true
    systemctl disable "$name" >/dev/null 2>&1 || true
  elif [[ -x /etc/init.d/$name ]]; then
    "/etc/init.d/$name" stop >/dev/null 2>&1 || true
  fi
  command -v update-rc.d >/dev/null 2>&1 && update-rc.d "$name" disable >/dev/null 2>&1 || true
}
stop_service etcd
stop_service patroni
stop_service postgresql
# The default cluster Debian's postinst created (15/main): stopped, and never started on boot.
if command -v pg_lsclusters >/dev/null 2>&1; then
  while read -r version cluster _; do
    pg_ctlcluster "$version" "$cluster" stop >/dev/null 2>&1 || true
    conf=/etc/postgresql/$version/$cluster/start.conf
    [[ -f $conf ]] && echo manual >"$conf"
  done < <(pg_lsclusters --no-header 2>/dev/null || true)
fi

/usr/bin/python3 -c 'import etcd, dns' || { echo "setup-ha: python3-etcd does not import" >&2; exit 1; }
for bin in /usr/bin/patroni /usr/bin/etcd /usr/lib/postgresql/15/bin/postgres /usr/lib/postgresql/15/bin/pg_rewind; do
  [[ -x $bin ]] || { echo "setup-ha: $bin missing after install" >&2; exit 1; }
done
id postgres >/dev/null 2>&1 || { echo "setup-ha: no postgres user after install" >&2; exit 1; }
echo "setup-ha: patroni $(patroni --version 2>&1 | awk '{print $2}'), etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}'), $(/usr/lib/postgresql/15/bin/postgres --version)"
