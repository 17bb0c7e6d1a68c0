#!/usr/bin/env bash
# install-deps.sh - install the Debian packages the local stack needs, once; a no-op when they are present.
#   containerd, runc, containernetworking-plugins: the real node's runtime and pod network
#   mariadb-server: the store's tests run against a real MariaDB as well as SQLite
#   postgresql: ... and against a real PostgreSQL (devstack runs its own server from the package's
#     binaries; the package's own cluster is created but, like MariaDB's, never started)
#   busybox-static: the root filesystem of the images the tests and `make run` build offline
#   iproute2, openssl-free: the pod bridge and test hosts in network namespaces
#   wrk, nginx, libnginx-mod-stream: make bench-gateway (load generator; nginx as the reference HTTP and
#     stream proxy, run from a config in a temp dir, never as a system service)
set -euo pipefail
PKGS=(containerd runc containernetworking-plugins mariadb-server postgresql busybox-static iproute2 iptables ca-certificates curl wrk nginx libnginx-mod-stream)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "[install-deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps apt from starting mariadb/postgresql/containerd as system services: the project starts its own
printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null; $SUDO chmod +x /usr/sbin/policy-rc.d
trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
