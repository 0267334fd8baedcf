# Sourced by the setup scripts. `install_missing NAME PACKAGE…`: as root, installs
# the Debian packages not installed yet (all there: nothing runs, not even apt-get
# update). NAME is the calling script's, for its messages.
install_missing() {
  local name=$1
  shift
  if [[ $(id -u) -ne 0 ]]; then
    echo "$name: run as root (it installs Debian packages)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} > 0)) || return 0
  apt-get update
  # policy-rc.d 101: no service is started by a package's postinst during this install
  # (a setup script decides what runs; setup-ha stops what an earlier install started).
  local policy=/usr/sbin/policy-rc.d had_policy=0
  [[ -e $policy ]] && had_policy=1
  local status=0
  if ((had_policy == 0)); then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
  fi
  # The policy goes again even when the install fails: left behind, it would block every service start.
  apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" || status=$?
  ((had_policy == 1)) || rm -f "$policy"
  return "$status"
}
