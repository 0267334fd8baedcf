#!/usr/bin/env bash
# Installs what the simulated hosts (`npm run test:hosts`, `hedge bench --hosts`) need beyond
# Debian's base: nft (nftables), for the delay fault's redirect to its proxy, and ip and ss
# (iproute2), for the namespaces and for resetting connections. Run as root on Debian 12;
# running it again changes nothing. The nftables service is not enabled: only the rules the
# delay fault adds in a namespace of its own are used, and removed when it ends.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "setup-hosts: run as root (it installs Debian packages)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
packages=(nftables iproute2)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
for bin in nft ip ss; do
  command -v "$bin" >/dev/null 2>&1 || { echo "setup-hosts: $bin missing after install" >&2; exit 1; }
done
echo "setup-hosts: $(nft --version), $(ip -V)"
