#!/usr/bin/env bash
# The packet-throughput benchmark (issue #9), and with --micro the Google Benchmark
# micro-benchmarks (bench/run.sh). Needs root; build first (scripts/build.sh, or the targets
# packet_bench and packet_load).
#
#   bench/packet/run.sh [--profile quick|full] [--micro] [--no-packet]
#
#   --micro: run the micro-benchmarks first; --no-packet: skip the packet benchmark (so
#   `--micro --no-packet` runs only the micro-benchmarks).
#
#   quick: 1, 100, 1,000, 10,000 services × 10 endpoints, 5 repetitions, 0.5 s per traffic test
#          (about 6.5 minutes on 2 cores when quiet).
#   full:  the same sizes, 9 repetitions, 2 s per traffic test (about 26 minutes, estimated).
#
#   Repetitions rather than long tests: this VM's speed shifts by up to 2× for tens of seconds at a
#   time whatever its load, so precision comes from many repetitions spread over the run (the
#   stated spread is a prediction interval that narrows with their number), not from long ones.
#
# Writes bench/results/<UTC timestamp>/ (results.json, results.md, summary.json, *.svg),
# points bench/results/latest at it, and compares its medians with the previous latest.
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=quick
micro=0
packet=1
usage() { echo "usage: $0 [--profile quick|full] [--micro] [--no-packet]" >&2; exit 2; }
while (($#)); do
  case "$1" in
    --profile=*) profile="${1#--profile=}" ;;
    --profile) (($# > 1)) || usage; profile="$2"; shift ;;
    --micro) micro=1 ;;
    --no-packet) packet=0 ;;
    *) usage ;;
  esac
  shift
done
case "$profile" in
  quick) reps=5 seconds=0.5 ;;
  full) reps=9 seconds=2 ;;
  *) echo "unknown profile $profile (quick|full)" >&2; exit 2 ;;
esac
if [[ "$micro" == 1 ]]; then
  echo "== micro-benchmarks (bench/run.sh)"
  bench/run.sh
fi
[[ "$packet" == 1 ]] || exit 0

bin=build/bench/packet
for b in packet_bench packet_load; do
  [[ -x "$bin/$b" ]] || { echo "$bin/$b is missing: build first (ninja -C build packet_bench packet_load)" >&2; exit 1; }
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/$stamp
mkdir -p "$out"
previous=""
[[ -f bench/results/latest/results.json ]] && previous=bench/results/$(readlink bench/results/latest)/results.json
command="bench/packet/run.sh --profile $profile"
echo "== packet benchmark, profile $profile: $reps repetitions, ${seconds} s per test -> $out"
"$bin/packet_bench" --load-tool="$PWD/$bin/packet_load" --out="$out/results.json" \
  --services=1,100,1000,10000 --reps="$reps" --seconds="$seconds" 2> "$out/progress.log" ||
  { echo "packet_bench failed: $out/progress.log" >&2; tail -3 "$out/progress.log" >&2; exit 1; }
/usr/bin/python3 bench/packet/report.py "$out/results.json" "$out" --command "$command" \
  ${previous:+--previous "$previous"} > /dev/null
ln -sfn "$stamp" bench/results/latest
echo "report: $out/results.md"
