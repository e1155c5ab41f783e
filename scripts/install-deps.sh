#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Install FlowPulse's build and test dependencies from Debian 12 packages. Idempotent:
# installs only what is missing, and does nothing when everything is present.
set -euo pipefail

PKGS=(
  build-essential pkg-config clang libclang-rt-14-dev
  dpdk dpdk-dev libdpdk-dev libfixbuf-dev libfixbuf-tools libconfig-dev libssl-dev openssl
  libcunit1-dev libpcap-dev libndpi-dev libsnmp-dev snmp snmpd smitools
  nfdump pmacct softflowd tshark tcpreplay socat stunnel4 iproute2 python3 procps time
  man-db groff-base
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo $0)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
