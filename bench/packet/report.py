#!/usr/bin/python3
"""Turns packet_bench's JSON into the report: results.md (median and spread of the
repetitions, ratios to the direct path and to kube-proxy's iptables layout), summary.json, and
one SVG plot per figure (figure vs number of services, one curve per dataplane).

  report.py RESULTS.json OUT_DIR [--previous OTHER_RESULTS.json] [--command "..."]

With --previous, checks both ways that the medians of one run fall within the other run's
spread (a 95 % prediction interval), and says which do not. Standard library only (Debian's /usr/bin/python3)."""
import argparse
import json
import math
import os
import statistics

# (key, title, unit, higher is better, log y, traffic figure: has a ratio to direct)
METRICS = [
    ("udp_pps", "UDP packets/s (18-byte payload, 10 sockets)", "packets/s", True, False, True),
    ("udp_cpu_ns_per_packet", "CPU time per UDP packet", "ns", False, False, True),
    ("tcp_bulk_gbps", "TCP bulk throughput (one stream)", "Gbit/s", True, False, True),
    ("crr_per_s", "New TCP connections/s (connect+request+reply+close, one at a time)", "conn/s", True, False, True),
    ("crr_p50_us", "New connection + request/reply latency p50", "µs", False, False, True),
    ("crr_p99_us", "New connection + request/reply latency p99", "µs", False, True, True),
    ("nodeport_crr_per_s", "NodePort from the external client: new connections/s", "conn/s", True, False, True),
    ("nodeport_crr_p50_us", "NodePort from the external client: latency p50", "µs", False, False, True),
    ("program_full_ms", "Programming all services (full sync / iptables-restore)", "ms", False, True, False),
    ("program_one_change_ms", "Programming one endpoint change", "ms", False, True, False),
    ("kernel_memory_kib", "Kernel memory after programming (/proc/meminfo slab+vmalloc+percpu delta)", "KiB", False, True, False),
    ("bpf_memlock_kib", "eBPF maps and programs (memlock)", "KiB", False, True, False),
    ("agent_memory_kib", "Agent memory (our backends: heap the backend holds after the full sync; iptables: iptables-restore peak RSS)", "KiB", False, True, False),
]
COLORS = {"direct": "#444444", "ebpf": "#d62728", "nftables": "#1f77b4", "iptables": "#2ca02c"}
LABELS = {"direct": "direct (pod IP, no service)", "ebpf": "eBPF backend", "nftables": "nftables backend",
          "iptables": "kube-proxy iptables layout"}


def summarize(doc):
    """{(dataplane, services, metric): {median, min, max, n, pi_low, pi_high}}"""
    out = {}
    for row in doc["rows"]:
        for key, *_ in METRICS:
            if key in row:
                out.setdefault((row["dataplane"], row["services"], key), []).append(float(row[key]))
    # Ratios to the direct path of the same repetition: the dataplanes of one repetition ran one
    # after the other, so a shared machine's load swings cancel out of these.
    direct = {(r["services"], r["rep"]): r for r in doc["rows"] if r["dataplane"] == "direct"}
    for row in doc["rows"]:
        d = direct.get((row["services"], row["rep"]))
        if row["dataplane"] == "direct" or not d:
            continue
        for key, _, _, _, _, traffic in METRICS:
            if traffic and key in row and d.get(key):
                out.setdefault((row["dataplane"], row["services"], "direct_ratio:" + key), []).append(float(row[key]) / d[key])
    summary = {}
    for k, v in out.items():
        low, high = prediction_interval(v)
        summary[k] = {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v), "pi_low": low, "pi_high": high}
    return summary


# 97.5 % quantiles of Student's t by degrees of freedom (repetitions - 1): two-sided 95 %.
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def prediction_interval(v):
    """The spread a repeat run's median is expected in, 19 times in 20: a 95 % prediction interval
    for the median of another run of as many repetitions. The min-max of the repetitions is not
    one: with 3 repetitions even identically distributed runs put the other run's median inside it
    only 60 % of the time (5: 83 %). Rates and times scatter multiplicatively, so positive figures
    are taken in logs; the difference of two medians of n normal samples has variance
    pi * sigma^2 / n, sigma estimated by the repetitions' standard deviation, hence Student's t.
    Never narrower than the min-max itself."""
    n = len(v)
    if n < 2 or min(v) == max(v):
        return min(v), max(v)
    logs = min(v) > 0
    x = [math.log(a) for a in v] if logs else list(v)
    centre, half = statistics.median(x), T975.get(n - 1, 1.96) * statistics.stdev(x) * math.sqrt(math.pi / n)
    low, high = centre - half, centre + half
    if logs:
        low, high = math.exp(low), math.exp(high)
    return min(low, min(v)), max(high, max(v))


def fmt(x):
    if x is None:
        return "—"
    a = abs(x)
    if a >= 100000:
        return f"{x / 1000:,.0f}k"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def ratio(s, a, b, n, key):
    if b == "direct":  # median (prediction interval) of the per-repetition ratios
        r = s.get((a, n, "direct_ratio:" + key))
        return f"{r['median']:.2f} ({r['pi_low']:.2f}–{r['pi_high']:.2f})" if r else "—"
    x, y = s.get((a, n, key)), s.get((b, n, key))
    if not x or not y or y["median"] == 0:
        return "—"
    return f"{x['median'] / y['median']:.2f}"


def table(s, doc, key, title, unit, traffic):
    dps = [d for d in doc["dataplanes"] if any((d, n, key) in s for n in doc["services"])]
    head = ["services"] + [f"{d}" for d in dps]
    ratios = []
    for d in dps:
        if traffic and d != "direct" and "direct" in dps:
            ratios.append((d, "direct"))
    for d in dps:
        if d not in ("direct", "iptables") and "iptables" in dps:
            ratios.append((d, "iptables"))
    head += [f"{a}/{b}" for a, b in ratios]
    lines = [f"#### {title} ({unit})", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in doc["services"]:
        cells = [f"{n:,}"]
        for d in dps:
            v = s.get((d, n, key))
            cells.append(f"{fmt(v['median'])} ({fmt(v['pi_low'])}–{fmt(v['pi_high'])})" if v else "—")
        cells += [ratio(s, a, b, n, key) for a, b in ratios]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def svg_plot(s, doc, key, title, unit, log_y, path):
    W, H, L, R, T, B = 640, 380, 80, 200, 40, 50
    dps = [d for d in doc["dataplanes"] if any((d, n, key) in s for n in doc["services"])]
    values = [s[(d, n, key)][m] for d in dps for n in doc["services"] if (d, n, key) in s for m in ("pi_low", "pi_high")]
    if not values:
        return False
    if log_y:
        positive = [v for v in values if v > 0] or [1]
        lo, hi = math.log10(min(positive)), math.log10(max(positive))
        lo, hi = math.floor(lo), math.ceil(hi if hi > lo else lo + 1)
        ty = lambda v: math.log10(max(v, 10 ** lo))
    else:
        lo, hi = min(0, min(values)), max(values) * 1.1 or 1
        ty = lambda v: v
    xs = doc["services"]
    xlo, xhi = math.log10(min(xs)), math.log10(max(xs)) if max(xs) > min(xs) else math.log10(min(xs)) + 1
    px = lambda n: L + (math.log10(n) - xlo) / (xhi - xlo) * (W - L - R)
    py = lambda v: H - B - (ty(v) - lo) / (hi - lo) * (H - T - B)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="10" y="20" font-size="12">{title}</text>',
         f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
         f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>',
         f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">services × 10 endpoints (log scale)</text>',
         f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - B) / 2})">{unit}{" (log scale)" if log_y else ""}</text>']
    for n in xs:
        o.append(f'<line x1="{px(n):.1f}" y1="{H - B}" x2="{px(n):.1f}" y2="{H - B + 5}" stroke="black"/>'
                 f'<text x="{px(n):.1f}" y="{H - B + 18}" text-anchor="middle">{n:,}</text>')
    ticks = [10 ** e for e in range(lo, hi + 1)] if log_y else [lo + (hi - lo) * i / 5 for i in range(6)]
    for v in ticks:
        o.append(f'<line x1="{L - 5}" y1="{py(v):.1f}" x2="{W - R}" y2="{py(v):.1f}" stroke="#dddddd"/>'
                 f'<text x="{L - 8}" y="{py(v) + 4:.1f}" text-anchor="end">{fmt(v)}</text>')
    for i, d in enumerate(dps):
        pts = [(n, s[(d, n, key)]) for n in xs if (d, n, key) in s]
        c = COLORS.get(d, "black")
        dash = ' stroke-dasharray="6 4"' if d == "direct" else ""
        o.append(f'<polyline fill="none" stroke="{c}" stroke-width="2"{dash} points="' +
                 " ".join(f"{px(n):.1f},{py(v['median']):.1f}" for n, v in pts) + '"/>')
        for n, v in pts:  # the spread of the repetitions as a bar, the median as a dot
            o.append(f'<line x1="{px(n):.1f}" y1="{py(v["pi_low"]):.1f}" x2="{px(n):.1f}" y2="{py(v["pi_high"]):.1f}" stroke="{c}"/>'
                     f'<circle cx="{px(n):.1f}" cy="{py(v["median"]):.1f}" r="3" fill="{c}"/>')
        y = T + 10 + i * 18
        o.append(f'<line x1="{W - R + 12}" y1="{y}" x2="{W - R + 36}" y2="{y}" stroke="{c}" stroke-width="2"{dash}/>'
                 f'<text x="{W - R + 40}" y="{y + 4}">{LABELS.get(d, d)}</text>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")
    return True


def repeatability(spread_of, medians_of):
    """Which medians of one run fall within the other run's prediction interval (and min-max)."""
    inside_pi, inside_range, outside = 0, 0, []
    for k, m in medians_of.items():
        if k not in spread_of:
            continue
        c = spread_of[k]
        if c["pi_low"] <= m["median"] <= c["pi_high"]:
            inside_pi += 1
        else:
            outside.append((k, m["median"], c))
        inside_range += c["min"] <= m["median"] <= c["max"]
    return inside_pi, inside_range, outside


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("out_dir")
    ap.add_argument("--previous")
    ap.add_argument("--command", default="bench/packet/run.sh")
    a = ap.parse_args()
    with open(a.results) as f:
        doc = json.load(f)
    s = summarize(doc)
    os.makedirs(a.out_dir, exist_ok=True)
    with open(os.path.join(a.out_dir, "summary.json"), "w") as f:
        json.dump([{"dataplane": d, "services": n, "metric": k, **v} for (d, n, k), v in sorted(s.items())], f, indent=1)
    md = [f"# Packet benchmark: {os.path.basename(os.path.abspath(a.out_dir))}", "",
          f"Command: `{a.command}`", "",
          f"{doc['repetitions']} repetitions of every figure, {doc['seconds_per_test']} s per traffic test, "
          f"{doc['endpoints_per_service']} endpoints per service, {doc['cpus']} CPUs, load average {doc['load_average_at_end']:.1f} "
          f"at the end (the machine is shared), {doc['wall_seconds']:.0f} s in all. Cells: median (spread) of the repetitions, the spread being the 95 % prediction interval "
          f"for the median of a repeat run (from the repetitions' standard deviation, in logs; never narrower than their "
          f"min–max, which summary.json also holds; the plots' bars show it too). "
          f"Ratios to direct: median (spread) of the ratios within each repetition (the dataplanes of a repetition ran one after "
          f"the other); ratios to iptables: of the medians.", "",
          "Paths: every traffic figure starts in the client pod (a routed pod namespace, 10.244.1.2) and crosses the node "
          "namespace to one of the 10 backend pods. *direct*: to the pod IPs, nothing programmed (the ceiling). "
          "*ebpf*: to the ClusterIP; the socket hooks on the bench's cgroup rewrite connect() to a pod IP, so the packets "
          "take the direct path. *nftables* / *iptables*: to the ClusterIP; DNAT in the node namespace's prerouting hook "
          "(conntrack: the rules run once per connection / UDP flow). The service is listed last in KUBE-SERVICES (worst case "
          "of the linear walk). *NodePort*: from the external client namespace to the node's address, port 30080 (eBPF: tc "
          "program on the node's external interface; nftables/iptables: DNAT + masquerade); direct: to the pod IPs.", ""]
    plots = []
    for key, title, unit, _, log_y, traffic in METRICS:
        if not any(k[2] == key for k in s):
            continue
        md.append(table(s, doc, key, title, unit, traffic))
        if svg_plot(s, doc, key, title, unit, log_y, os.path.join(a.out_dir, key + ".svg")):
            md.append(f"![{title}]({key}.svg)\n")
            plots.append(key)
    if a.previous:
        with open(a.previous) as f:
            prev = summarize(json.load(f))
        md += ["## Repeatability", ""]
        for title, spread_of, medians_of in (("This run's medians in the previous run's spread", prev, s),
                                             ("The previous run's medians in this run's spread", s, prev)):
            inside, in_range, outside = repeatability(spread_of, medians_of)
            ratios = {k: v for k, v in medians_of.items() if k[2].startswith("direct_ratio:")}
            r_inside, r_range, _ = repeatability(spread_of, ratios)
            total = inside + len(outside)
            md += [f"**{title}** (previous: `{a.previous}`): {inside} of {total} inside the 95 % prediction "
                   f"interval ({100 * inside / max(total, 1):.0f} %; 95 % expected if the runs are alike), {in_range} inside "
                   f"the min–max of the repetitions. Of the per-repetition ratios to direct: {r_inside} of {len(ratios)} "
                   f"inside the prediction interval, {r_range} inside the min–max.", ""]
            if outside:
                md += ["| dataplane | services | figure | median | other run: prediction interval (min–max) |",
                       "|---|---|---|---|---|"]
                for (d, n, k), m, c in sorted(outside):
                    md.append(f"| {d} | {n:,} | {k} | {fmt(m)} | {fmt(c['pi_low'])}–{fmt(c['pi_high'])} "
                              f"({fmt(c['min'])}–{fmt(c['max'])}) |")
                md.append("")
    with open(os.path.join(a.out_dir, "results.md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
