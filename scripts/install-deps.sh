#!/usr/bin/env bash
# Installs every Debian 12 package Switchyard needs to build, test and benchmark.
# Idempotent; run as root on a fresh machine.
# With --runtime: only the shared libraries the `switchyard` binary links (the agent's image,
# deploy/Containerfile).
set -euo pipefail
runtime=(
  libc-ares2 libsqlite3-0 libnetfilter-conntrack3 libnfnetlink0 libnftnl11 libmnl0
  libbpf1 libelf1 zlib1g libspdlog1.10 libfmt9 libyaml-cpp0.7 libssl3 libstdc++6
  libsodium23  # secretbox encryption of Secrets at rest
  ca-certificates tzdata  # tzdata: CronJob time zones
  libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libre2-9  # the CRI client (gRPC)
)
packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ccache clang-format
  clang llvm clang-16 libclang-rt-16-dev
  # libraries
  libbpf-dev libelf-dev zlib1g-dev bpftool linux-libc-dev
  libnftnl-dev libmnl-dev libnetfilter-conntrack-dev
  libc-ares-dev libboost-dev libboost-system-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsqlite3-dev libssl-dev
  libsodium-dev  # the secretbox provider of --encryption-provider-config
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc  # the kubelet's CRI client
  libabsl-dev tzdata  # CronJob time zones (absl::time reads /usr/share/zoneinfo)
  # real peers and clients used by tests and benchmarks
  etcd-server dnsutils iproute2 nftables iptables iperf3 curl python3 procps
  openssl util-linux  # the in-cluster agent test: a second CA; unshare and nsenter
  protobuf-compiler  # protoc --decode_raw: an independent reader of our protobuf encoding in tests
  # the DNS benchmark (bench/dns_bench.sh): load generator and the servers we compare with
  dnsperf knot nsd
  # the node's container runtime (the kubelet runs its own containerd), and building the test
  # images offline from Debian packages (scripts/build-test-images.sh)
  containerd runc containernetworking-plugins umoci skopeo busybox-static
)
[[ "${1:-}" == --runtime ]] && packages=("${runtime[@]}")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# etcd-server's package starts a system etcd; tests start their own on other ports. knot and nsd
# would take port 53; the DNS benchmark starts its own on free ports.
[[ "${1:-}" == --runtime ]] || systemctl disable --now etcd knot nsd >/dev/null 2>&1 || true
