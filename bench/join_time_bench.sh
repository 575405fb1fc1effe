#!/usr/bin/env bash
# Time for a node to join, from `switchyard join` to the Node Ready (issue #22): the real `up` in
# one network namespace and the real `join` in another (its own containerd), through
# netns-tests/join_netns_test's join case, repeated; each repetition starts a fresh cluster.
# Root; build first: ninja -C build join_netns_test.
#   bench/join_time_bench.sh [REPEATS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats="${1:-5}"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(./build/netns-tests/join_netns_test --gtest_filter=Join.TheNodeJoinsRunsItsPodAndReadsOnlyItsOwnPodsSecrets \
  --gtest_repeat="$repeats" 2>&1) || { echo "$out" | tail -40; exit 1; }
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
times=$(echo "$out" | sed -n 's/^join to Ready: \([0-9]*\) ms$/\1/p')
[ -n "$times" ] || { echo "no 'join to Ready' line in the test's output"; exit 1; }
echo "join -> Ready (ms): $(echo $times)"
echo "$times" | sort -n | awk '{v[NR]=$1} END {printf "runs %d, p50 %d ms, max %d ms\n", NR, v[int((NR+1)/2)], v[NR]}'
