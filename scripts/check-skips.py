#!/usr/bin/env python3
"""Fails when a test reported SKIPPED that .ci/skips-allowed does not list.

GoogleTest counts a GTEST_SKIP() as a pass, so ctest shows it green: a root-only or
kubectl-only test would silently stop testing anything. scripts/test.sh has every test binary
write its results (GTEST_OUTPUT=json:DIR/) and calls this on DIR afterwards.
usage: check-skips.py RESULTS_DIR ALLOWLIST
"""
import json
import pathlib
import sys


def allowed_skips(path):
    allowed = {}
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(":")
        if not reason.strip():
            sys.exit(f"{path}: '{name}' has no reason")
        allowed[name.strip()] = reason.strip()
    return allowed


def skipped_tests(results_dir):
    for report in sorted(pathlib.Path(results_dir).glob("*.json")):
        try:
            doc = json.loads(report.read_text())
        except json.JSONDecodeError as e:
            print(f"check-skips: {report}: unreadable ({e}); was the binary killed?", file=sys.stderr)
            continue
        for suite in doc.get("testsuites", []):
            for case in suite.get("testsuite", []):
                if case.get("result") == "SKIPPED":
                    message = "; ".join(f.get("failure", "") for f in case.get("failures", []))
                    yield report.stem, f"{suite['name']}.{case['name']}", message


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    results_dir, allowlist = sys.argv[1], sys.argv[2]
    allowed = allowed_skips(allowlist)
    reports = list(pathlib.Path(results_dir).glob("*.json"))
    if not reports:
        sys.exit(f"check-skips: no test reports in {results_dir}")
    unexpected = [(b, n, m) for b, n, m in skipped_tests(results_dir) if n not in allowed]
    for binary, name, message in unexpected:
        print(f"SKIPPED and not allowed: {binary}: {name} {message}".rstrip())
    if unexpected:
        print(f"{len(unexpected)} test(s) skipped; list them in {allowlist} with a reason, or make them run")
        return 1
    print(f"check-skips: {len(reports)} test binaries, no unexpected skip")
    return 0


if __name__ == "__main__":
    sys.exit(main())
