#!/usr/bin/env bash
# Installs what the simulated hosts (`npm run test:hosts`, `hedge bench --hosts`) need beyond
# Debian's base: nft (nftables), for the delay fault's redirect to its proxy, and ip and ss
# (iproute2), for the namespaces and for resetting connections. Run as root on Debian 12;
# running it again changes nothing. The nftables service is not enabled: only the rules the
# delay fault adds in a namespace of its own are used, and removed when it ends.
set -euo pipefail

# shellcheck source=scripts/apt-install.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
install_missing setup-hosts nftables iproute2
for bin in nft ip ss; do
  command -v "$bin" >/dev/null 2>&1 || { echo "setup-hosts: $bin missing after install" >&2; exit 1; }
done
echo "setup-hosts: $(nft --version), $(ip -V)"
