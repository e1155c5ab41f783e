#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Prepare a host for live capture with DPDK: reserve 2 MB hugepages and bind NICs to vfio-pci.
#   scripts/dpdk-setup.sh hugepages 1024          # reserve 1024 x 2 MB (per NUMA node 0)
#   scripts/dpdk-setup.sh bind 0000:01:00.0 ...   # bind to vfio-pci (the NIC leaves the kernel)
#   scripts/dpdk-setup.sh status                  # show hugepages and NIC bindings
# Not needed for capture files or vdevs (tests and CI use --no-huge).
set -euo pipefail
cmd=${1:-status}; shift || true
case "$cmd" in
  hugepages)
    n=${1:?number of 2 MB pages}
    echo "$n" > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
    mkdir -p /dev/hugepages
    mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages
    grep -E 'HugePages_(Total|Free)' /proc/meminfo ;;
  bind)
    [ $# -gt 0 ] || { echo "usage: $0 bind PCI_ADDR..." >&2; exit 2; }
    modprobe vfio-pci
    dpdk-devbind.py --bind=vfio-pci "$@"
    dpdk-devbind.py --status-dev net ;;
  status)
    grep -E 'HugePages_(Total|Free)' /proc/meminfo
    dpdk-devbind.py --status-dev net 2>/dev/null || echo "dpdk-devbind.py not found (package dpdk)" ;;
  *) echo "usage: $0 hugepages N | bind PCI... | status" >&2; exit 2 ;;
esac
