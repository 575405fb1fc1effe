#!/usr/bin/env bash
# DNS queries per second on loopback with dnsperf: the same 10,000-service cluster zone served
# by Knot DNS, NSD and `switchyard dns` (one worker, then all workers); cache-hit qps for
# forwarded names (ours forwarding to knotd); resident memory per 10,000 services.
# Usage: bench/dns_bench.sh [seconds-per-run]   (build first: the `switchyard` target)
# Needs dnsperf, knot and nsd (scripts/install-deps.sh). Everything listens on 127.0.0.1, on
# ports picked free at start; all files live in a temporary directory removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
SERVICES=10000
BIN=${SWITCHYARD:-build/switchyard}
WORK=$(mktemp -d /tmp/sy-dns-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The same services three ways: manifests for us, a zone file for knotd and nsd, dnsperf's queries.
python3 - "$WORK" "$SERVICES" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
items, zone, queries = [], [], []
zone.append("$ORIGIN cluster.local.\n$TTL 5\n@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5\n@ IN NS ns.dns\nns.dns IN A 127.0.0.1\n")
for i in range(n):
    ns, name, ip = f"ns{i % 100}", f"svc{i}", f"10.96.{i // 250}.{i % 250 + 1}"
    items.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
                  "spec": {"clusterIP": ip, "selector": {"app": name}, "ports": [{"name": "http", "port": 80}]}})
    zone.append(f"{name}.{ns}.svc IN A {ip}\n")
    queries.append(f"{name}.{ns}.svc.cluster.local A\n")
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(f"{work}/services.json", "w"))
json.dump({"apiVersion": "v1", "kind": "List", "items": []}, open(f"{work}/empty.json", "w"))
open(f"{work}/cluster.local.zone", "w").write("".join(zone))
open(f"{work}/queries.txt", "w").write("".join(queries))
fwd = ["$ORIGIN example.test.\n$TTL 3600\n@ IN SOA ns hostmaster 1 7200 1800 86400 3600\n@ IN NS ns\nns IN A 127.0.0.1\n"]
fwd += [f"host{i} IN A 192.0.2.{i % 250 + 1}\n" for i in range(100)]
open(f"{work}/example.test.zone", "w").write("".join(fwd))
open(f"{work}/forwarded.txt", "w").write("".join(f"host{i}.example.test A\n" for i in range(100)))
PY

wait_answering() {  # port name [type]
  for _ in $(seq 100); do
    # (dig prints its errors, ";; connection refused", on stdout too: they are not an answer.)
    [ -n "$(dig @127.0.0.1 -p "$1" +time=1 +tries=1 +short "$2" "${3:-A}" 2>/dev/null | grep -v '^;')" ] && return 0
    sleep 0.2
  done
  echo "nothing answers $2 on port $1" >&2
  return 1
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# CPU time (clock ticks, user + system) of processes and their threads.
# (Fields counted after the command name, which may hold spaces: "nsd: server 1".)
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}'))); done; echo "$t"; }
# port queryfile server-pids... -> "qps:server-us-per-query:dnsperf-us-per-query". The CPU per
# query says what a core could serve when the load generator is not on the same 2 cores.
qps() {
  local port=$1 file=$2 before after out q gen
  shift 2
  before=$(cpu_ticks "$@")
  out=$(sh -c 'dnsperf -s 127.0.0.1 -p "$0" -d "$1" -c 4 -l "$2" 2>&1; echo "dnsperf_ticks $(awk "{print \$16 + \$17}" /proc/$$/stat)"' \
    "$port" "$file" "$SECONDS_PER_RUN")
  after=$(cpu_ticks "$@")
  echo "$out" >>"$WORK/dnsperf.log"
  q=$(awk '/Queries per second/ {print int($4)}' <<<"$out")
  gen=$(awk '/dnsperf_ticks/ {print $2}' <<<"$out")
  local hz total
  hz=$(getconf CLK_TCK)
  total=$(awk '/Queries sent/ {print $3}' <<<"$out")
  echo "$q:$(awk -v t=$((after - before)) -v hz="$hz" -v n="$total" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}'):$(awk -v t="$gen" -v hz="$hz" -v n="$total" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Knot DNS, one UDP worker.
KNOT_PORT=$(free_port)
mkdir -p "$WORK/knot"
cat > "$WORK/knot/knot.conf" <<CONF
server:
  listen: 127.0.0.1@$KNOT_PORT
  rundir: $WORK/knot
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
database:
  storage: $WORK/knot
zone:
  - domain: cluster.local
    file: $WORK/cluster.local.zone
  - domain: example.test
    file: $WORK/example.test.zone
log:
  - target: stderr
    any: warning
CONF
knotd -c "$WORK/knot/knot.conf" >"$WORK/knot.log" 2>&1 &
KNOT_PID=$!
PIDS+=("$KNOT_PID")
wait_answering "$KNOT_PORT" svc1.ns1.svc.cluster.local
KNOT_RSS=$(rss_kib "$KNOT_PID")

# NSD, one server process.
NSD_PORT=$(free_port)
mkdir -p "$WORK/nsd"
cat > "$WORK/nsd/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$NSD_PORT
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$WORK"
  database: ""
  pidfile: "$WORK/nsd/nsd.pid"
  xfrdfile: "$WORK/nsd/xfrd.state"
  zonelistfile: "$WORK/nsd/zone.list"
  logfile: "$WORK/nsd.log"
remote-control:
  control-enable: no
zone:
  name: cluster.local
  zonefile: cluster.local.zone
CONF
nsd -d -c "$WORK/nsd/nsd.conf" >>"$WORK/nsd.log" 2>&1 &
NSD_PID=$!
PIDS+=("$NSD_PID")
wait_answering "$NSD_PORT" svc1.ns1.svc.cluster.local
# `nsd -d` runs as xfrd, with the main process under it and the server under that.
tree_pids() { echo "$1"; local c; for c in $(pgrep -P "$1"); do tree_pids "$c"; done; }
NSD_PIDS=$(tree_pids "$NSD_PID")
NSD_RSS=0; for p in $NSD_PIDS; do NSD_RSS=$((NSD_RSS + $(rss_kib "$p"))); done

ours() {  # name workers manifests extra-args...: starts one, sets PORT_<name> and PID_<name>
  local port
  port=$(free_port)
  "$BIN" dns --manifests "$3" --listen "127.0.0.1:$port" --workers "$2" --resolv-conf "" "${@:4}" >"$WORK/ours-$1.log" 2>&1 &
  PIDS+=("$!")
  eval "PORT_$1=$port PID_$1=$!"
}
CORES=$(nproc)
ours empty 1 "$WORK/empty.json"
ours one 1 "$WORK/services.json"
ours all "$CORES" "$WORK/services.json"
ours fwdone 1 "$WORK/empty.json" --upstream "127.0.0.1:$KNOT_PORT"
ours fwdall "$CORES" "$WORK/empty.json" --upstream "127.0.0.1:$KNOT_PORT"
wait_answering "$PORT_empty" dns-version.cluster.local TXT
wait_answering "$PORT_one" svc1.ns1.svc.cluster.local
wait_answering "$PORT_all" svc1.ns1.svc.cluster.local
wait_answering "$PORT_fwdone" host1.example.test
wait_answering "$PORT_fwdall" host1.example.test
EMPTY_RSS=$(rss_kib "$PID_empty")
OURS1_RSS=$(rss_kib "$PID_one")

# Every server is up (idle ones take no CPU); three rounds, interleaved, so that the load other
# builds put on the machine falls on all of them alike. The report gives the median.
declare -A RUNS
for round in 1 2 3; do
  RUNS[knot]+="$(qps "$KNOT_PORT" "$WORK/queries.txt" "$KNOT_PID") "
  RUNS[nsd]+="$(qps "$NSD_PORT" "$WORK/queries.txt" $NSD_PIDS) "
  RUNS[one]+="$(qps "$PORT_one" "$WORK/queries.txt" "$PID_one") "
  RUNS[all]+="$(qps "$PORT_all" "$WORK/queries.txt" "$PID_all") "
  RUNS[fwdone]+="$(qps "$PORT_fwdone" "$WORK/forwarded.txt" "$PID_fwdone") "
  RUNS[fwdall]+="$(qps "$PORT_fwdall" "$WORK/forwarded.txt" "$PID_fwdall") "
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
field() { tr ' ' '\n' <<<"${RUNS[$1]}" | grep . | cut -d: -f"$2" | tr '\n' ' '; }
fmt_runs() { local q; q=$(field "$1" 1); echo "$(median "$q") ($(echo $q | tr ' ' '/')) | $(median "$(field "$1" 2)") µs | $(median "$(field "$1" 3)") µs"; }
KNOT_QPS=$(fmt_runs knot); NSD_QPS=$(fmt_runs nsd); OURS1_QPS=$(fmt_runs one); OURSN_QPS=$(fmt_runs all)
FWD1_QPS=$(fmt_runs fwdone); FWDN_QPS=$(fmt_runs fwdall)

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
cat <<REPORT
| server (10,000 services, dnsperf -c 4, ${SECONDS_PER_RUN} s per run, UDP, loopback) | queries/s: median (the 3 runs) | server CPU per query (median) | dnsperf CPU per query (median) | resident memory |
|---|---|---|---|---|
| Knot DNS $(knotd --version | awk '{print $NF}'), 1 UDP worker | $KNOT_QPS | $((KNOT_RSS / 1024)) MiB |
| NSD $(nsd -v 2>&1 | awk 'NR==1 {print $NF}'), 1 server | $NSD_QPS | $((NSD_RSS / 1024)) MiB |
| switchyard dns, 1 worker | $OURS1_QPS | $((OURS1_RSS / 1024)) MiB ($(((OURS1_RSS - EMPTY_RSS) / 1024)) MiB above the same process with no services) |
| switchyard dns, $CORES workers | $OURSN_QPS | |
| switchyard dns, forwarded names from the cache (100 names, upstream knotd), 1 worker | $FWD1_QPS | |
| switchyard dns, forwarded names from the cache, $CORES workers | $FWDN_QPS | |
REPORT
