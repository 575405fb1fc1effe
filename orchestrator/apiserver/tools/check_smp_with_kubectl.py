#!/usr/bin/env python3
# Cross-checks the strategic merge patch cases of strategic_merge_patch_test.cpp against the real
# Kubernetes implementation: `kubectl patch --local --type strategic` applies the patch to the
# case document (no server needed) with apimachinery's strategicpatch. Prints OK or DIFF per case.
# Known differences (documented in strategic_merge_patch.cpp): whole_object_replace (kubectl needs
# a kind in the result) and new_container_is_added_clean (Kubernetes copies directives verbatim).
# Usage: tools/check_smp_with_kubectl.py [1.33]
import json, os, re, subprocess, sys, tempfile
src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'strategic_merge_patch_test.cpp')).read()
consts = {m.group(1): m.group(2) for m in re.finditer(r'constexpr const char\* (\w+) = R"\((.*?)\)";', src, re.S)}
tok = re.compile(r'R"\((.*?)\)"|"((?:[^"\\]|\\.)*)"|(\bnullptr\b|\bk[A-Z]\w*\b|\b\d+\b)', re.S)
K = '/usr/lib/google-cloud-sdk/bin/kubectl.' + (sys.argv[1] if len(sys.argv) > 1 else '1.33')
api = {'Service':'v1','Pod':'v1','Node':'v1','Namespace':'v1','Endpoints':'v1','EndpointSlice':'discovery.k8s.io/v1'}
parts = src.split('SmpCase{')[1:]
bad = 0
doc_file = os.path.join(tempfile.mkdtemp(), 'doc.json')
for p in parts:
    vals = []
    for m in tok.finditer(p):
        if m.group(1) is not None: vals.append(m.group(1))
        elif m.group(2) is not None: vals.append(json.loads('"' + m.group(2) + '"'))
        else:
            t = m.group(3); vals.append(None if t == 'nullptr' else consts.get(t, t))
        if len(vals) >= 5: break
    name, kind, doc, patch, expected = vals[:5]
    if kind not in api: continue
    d = json.loads(doc); d.setdefault('apiVersion', api[kind]); d['kind'] = kind
    d.setdefault('metadata', {}).setdefault('name', 'x')
    open(doc_file, 'w').write(json.dumps(d))
    r = subprocess.run([K, 'patch', '--local', '-f', doc_file, '-p', patch, '--type', 'strategic', '-o', 'json'],
                       capture_output=True, text=True, timeout=30)
    if expected is None:
        print(f"{'OK ' if r.returncode else 'DIFF'} {name}: error expected; kubectl rc={r.returncode} {r.stderr.strip()[:200]}")
        if not r.returncode: bad += 1
        continue
    e = json.loads(expected); e.setdefault('apiVersion', api[kind]); e['kind'] = kind
    e.setdefault('metadata', {}).setdefault('name', 'x')
    if r.returncode:
        print(f"DIFF {name}: kubectl failed: {r.stderr.strip()[:300]}"); bad += 1; continue
    got = json.loads(r.stdout)
    if got == e: print(f"OK   {name}")
    else:
        bad += 1
        print(f"DIFF {name}\n  kubectl: {json.dumps(got, sort_keys=True)}\n  ours:    {json.dumps(e, sort_keys=True)}")
print("differences:", bad)
