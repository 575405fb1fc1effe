#!/usr/bin/env python3
"""Kernel cost of candidate nftables layouts for the full sync, before writing them in C++.

Generates the per-service part of a ruleset for N ClusterIP services x 10 endpoints spread over
K service tables, in several layouts, loads each with `nft -f` into a network namespace of its
own (sy-nftproto-<pid>) and reports the nft process's user and system CPU time: the system time
is the kernel building and committing the batch, which is what a layout changes; the user time is
the nft command line's parser, which the libnftnl backend does not pay.

  sudo bench/nft_layout_prototype.py --services 10000 --tables 40 --repeat 2

Layouts (`--layouts`, comma-separated):
  cascade        what NftablesBackend commits now: per service a masquerade rule and
                 `numgen random mod N-i == 0 meta l4proto tcp dnat to EP:PORT` per endpoint
  permap         per service a masquerade rule, a named map `index : address . port` and one rule
                 `dnat ip to numgen random mod N map @endpoints-S`; elements after all rules
  permap-nomasq  permap, the masquerade rules replaced by one rule per table and a set of
                 ClusterIP . proto . port
  sharedmap      one map per table keyed by `numgen … offset BASE`, one dnat rule per service
  bycount        no rule per service: per table and per endpoint count N one chain `endpoints-N`
                 (a generic masquerade rule and `dnat ip to ip daddr . meta l4proto . th dport .
                 numgen random mod N map @endpoints-N`) and one map `endpoints-N`
                 (ClusterIP . proto . port . index : address . port), one `add element` per service
  bycount-bulk   bycount, all of a map's elements in one `add element` command

Every layout also fills each table's `service-ips` verdict map (one element per service, to the
service's chain or to `endpoints-N`), after all rules, as the backend does.
"""
import argparse
import os
import resource
import subprocess
import sys

ENDPOINTS = 10


def ruleset(services, layout, tables):
    rules, elements = [], []
    for k in range(tables):
        t = f"ip switchyard-services-{k}"
        rules += [f"add table {t}", f"add chain {t} mark-for-masquerade",
                  f"add rule {t} mark-for-masquerade meta mark set meta mark or 0x4000"]
        rules += [f"add map {t} service-ips {{ type ipv4_addr . inet_proto . inet_service : verdict; }}",
                  f"add chain {t} services",
                  f"add rule {t} services ip daddr . meta l4proto . th dport vmap @service-ips"]
        if layout == "permap-nomasq":
            rules += [f"add set {t} cluster-ip-ports {{ type ipv4_addr . inet_proto . inet_service; }}",
                      f"add rule {t} services ip saddr != 10.244.0.0/16 ip daddr . meta l4proto . th dport @cluster-ip-ports jump mark-for-masquerade"]
        if layout.startswith("bycount"):
            chain = f"endpoints-{ENDPOINTS}"
            rules += [f"add map {t} {chain} {{ typeof ip daddr . meta l4proto . th dport . numgen random mod 1 : ip daddr . th dport; }}",
                      f"add chain {t} {chain}",
                      f"add rule {t} {chain} ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
                      f"add rule {t} {chain} dnat ip to ip daddr . meta l4proto . th dport . numgen random mod {ENDPOINTS} map @{chain}"]
        if layout == "sharedmap":
            rules.append(f"add map {t} endpoints {{ typeof numgen random mod 1 : ip daddr . tcp dport; }}")
    bulk = {}  # table -> elements of its endpoints-N map (bycount-bulk)
    for s in range(services):
        t = f"ip switchyard-services-{s % tables}"
        ip = f"10.{96 + s // 65536}.{(s // 256) % 256}.{s % 256}"
        chain = f"service-{s}"
        eps = [f"10.{244 + (s * ENDPOINTS + i) // 65536 % 8}.{((s * ENDPOINTS + i) // 256) % 256}.{(s * ENDPOINTS + i) % 256}"
               for i in range(ENDPOINTS)]
        if layout.startswith("bycount"):
            elements.append(f"add element {t} service-ips {{ {ip} . tcp . 80 : goto endpoints-{ENDPOINTS} }}")
            items = [f"{ip} . tcp . 80 . {i} : {e} . 8080" for i, e in enumerate(eps)]
            if layout == "bycount":
                elements.append(f"add element {t} endpoints-{ENDPOINTS} {{ " + ", ".join(items) + " }")
            else:
                bulk.setdefault(t, []).extend(items)
            continue
        elements.append(f"add element {t} service-ips {{ {ip} . tcp . 80 : goto {chain} }}")
        rules.append(f"add chain {t} {chain}")
        if layout == "permap-nomasq":
            elements.append(f"add element {t} cluster-ip-ports {{ {ip} . tcp . 80 }}")
        else:
            rules.append(f"add rule {t} {chain} ip daddr {ip} meta l4proto tcp th dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade")
        if layout == "cascade":
            for i in range(ENDPOINTS - 1):
                rules.append(f"add rule {t} {chain} numgen random mod {ENDPOINTS - i} == 0 meta l4proto tcp dnat to {eps[i]}:8080")
            rules.append(f"add rule {t} {chain} meta l4proto tcp dnat to {eps[-1]}:8080")
        elif layout.startswith("permap"):
            rules.append(f"add map {t} endpoints-{s} {{ typeof numgen random mod 1 : ip daddr . tcp dport; }}")
            rules.append(f"add rule {t} {chain} meta l4proto tcp dnat ip to numgen random mod {ENDPOINTS} map @endpoints-{s}")
            elements.append(f"add element {t} endpoints-{s} {{ " + ", ".join(f"{i} : {e} . 8080" for i, e in enumerate(eps)) + " }")
        elif layout == "sharedmap":
            base = (s // tables) << 8
            rules.append(f"add rule {t} {chain} meta l4proto tcp dnat ip to numgen random mod {ENDPOINTS} offset {base} map @endpoints")
            elements.append(f"add element {t} endpoints {{ " + ", ".join(f"{base + i} : {e} . 8080" for i, e in enumerate(eps)) + " }")
        else:
            raise SystemExit(f"unknown layout {layout}")
    for t, items in bulk.items():
        elements.append(f"add element {t} endpoints-{ENDPOINTS} {{ " + ", ".join(items) + " }")
    # Elements last: a rule bound to a map that already has elements makes the kernel walk them
    # (nf_tables_bind_set), and an element added to a bound map is checked against every binding.
    return "\n".join(rules + elements) + "\n"


def timed_nft(netns, path):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(["nsenter", f"--net=/run/netns/{netns}", "nft", "-f", path], capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"nft -f {path}: {r.stderr[:500]}")
    return after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10000)
    ap.add_argument("--tables", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--layouts", default="cascade,permap,permap-nomasq,sharedmap,bycount,bycount-bulk")
    args = ap.parse_args()
    netns = f"sy-nftproto-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        print(f"| layout | {args.services} services x {ENDPOINTS} endpoints, {args.tables} tables: nft system time (kernel) | nft user time |")
        print("|---|---|---|")
        for layout in args.layouts.split(","):
            path = f"/tmp/{netns}-{layout}.nft"
            with open(path, "w") as f:
                f.write(ruleset(args.services, layout, args.tables))
            sys_times, user_times = [], []
            for _ in range(args.repeat):
                user, system = timed_nft(netns, path)
                sys_times.append(system)
                user_times.append(user)
                drop = "".join(f"delete table ip switchyard-services-{k}\n" for k in range(args.tables))
                subprocess.run(["nsenter", f"--net=/run/netns/{netns}", "nft", "-f", "-"], input=drop, text=True, check=True)
            os.unlink(path)
            print(f"| {layout} | {' / '.join(f'{t:.2f} s' for t in sys_times)} | {' / '.join(f'{t:.2f} s' for t in user_times)} |", flush=True)
    finally:
        subprocess.run(["ip", "netns", "del", netns])


if __name__ == "__main__":
    main()
