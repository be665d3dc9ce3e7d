#!/usr/bin/env bash
# Installs the Debian tools the end-to-end tests drive pstack with, when they are missing.
# Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail
need=()
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
# iputils' arping (the one with -I IFACE, as the docs use), not Thomas Habets' arping.
arping -V 2>&1 | grep -q iputils || need+=(iputils-arping)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v tshark >/dev/null 2>&1 || need+=(tshark)
# The kernel's own capture (tcpdump -w) that pstack draw reads in test/e2e/draw.test.ts.
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v nc >/dev/null 2>&1 || need+=(netcat-openbsd)
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v traceroute >/dev/null 2>&1 || need+=(traceroute)
command -v tc >/dev/null 2>&1 || need+=(iproute2)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# The packet battery (test/battery) crafts frames with scapy, which Debian packages for its own
# /usr/bin/python3 (not for a pyenv or other python3 that may come first on PATH).
/usr/bin/python3 -c 'import scapy' >/dev/null 2>&1 || need+=(python3-scapy)
command -v hping3 >/dev/null 2>&1 || need+=(hping3)
command -v nmap >/dev/null 2>&1 || need+=(nmap)
command -v ethtool >/dev/null 2>&1 || need+=(ethtool)
# Loss and duplication on the kernel side of a tap (this kernel has no sch_netem).
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v dnsmasq >/dev/null 2>&1 || need+=(dnsmasq-base)
# Router advertisements (radvd) and the Neighbor Discovery probes rdisc6/ndisc6 of
# test/e2e/slaac.test.ts, run on the kernel's side of a tap in the test's namespace.
command -v radvd >/dev/null 2>&1 || need+=(radvd)
command -v ndisc6 >/dev/null 2>&1 || need+=(ndisc6)
# Real servers that unmodified Node programs reach over pstack (test/e2e/drop-in.test.ts):
# each test starts its own instance in its namespace; the packages' own services are not used.
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The web page's end-to-end test (test/e2e/web.test.ts) drives a real headless Chromium.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${need[*]} and not root; install them or run as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${need[*]}" >&2
# tshark asks whether non-root users may capture; answer once, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
