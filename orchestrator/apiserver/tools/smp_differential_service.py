#!/usr/bin/env python3
# Differential test: random service documents and strategic merge patches, applied by Switchyard
# (smp_cli) and by Kubernetes' own strategicpatch (kubectl patch --local), results compared.
# Usage: ninja -C build smp_cli && tools/smp_differential_service.py SEED COUNT [path/to/smp_cli]

import json, os, random, subprocess, sys, tempfile
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
N = int(sys.argv[2]) if len(sys.argv) > 2 else 100
DOC = os.path.join(tempfile.mkdtemp(), 'doc.json')
K = '/usr/lib/google-cloud-sdk/bin/kubectl.1.33'
PORTS = [80, 443, 8080, 9000]
FINS = ['a/x', 'b/y', 'c/z', 'd/w']
def port(p):
    e = {'port': p}
    if random.random() < 0.6: e['targetPort'] = random.choice([1, 2, 3])
    if random.random() < 0.3: e['name'] = random.choice(['n1', 'n2'])
    return e
def doc():
    d = {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'x'}}
    if random.random() < 0.8: d['metadata']['finalizers'] = random.sample(FINS, random.randint(0, 4))
    if random.random() < 0.7: d['metadata']['labels'] = {k: 'v' for k in random.sample(['a', 'b', 'c'], random.randint(0, 3))}
    d['spec'] = {'ports': [port(p) for p in random.sample(PORTS, random.randint(0, 4))]}
    if random.random() < 0.5: d['spec']['externalIPs'] = random.sample(['1.1.1.1', '2.2.2.2'], random.randint(1, 2))
    return d
def patch(d):
    p = {}
    r = random.random()
    ports = []
    for pp in random.sample(PORTS, random.randint(0, 3)):
        x = random.random()
        if x < 0.2: ports.append({'$patch': 'delete', 'port': pp})
        else:
            e = port(pp)
            if random.random() < 0.2: e['targetPort'] = None
            ports.append(e)
    # First: Kubernetes rejects a directive element after the last $setElementOrder match.
    if random.random() < 0.1: ports.insert(0, {'$patch': 'replace'})
    spec = {}
    if ports or random.random() < 0.3: spec['ports'] = ports
    if random.random() < 0.3:
        live = [e['port'] for e in d['spec']['ports']]
        order = [q['port'] for q in ports if '$patch' not in q]
        rest = [x for x in live if x not in order]
        merged = order + rest; random.shuffle(merged)
        # keep patch items in relative order inside the order list
        it = iter(order)
        seq = [next(it) if x in order else x for x in merged]
        spec['$setElementOrder/ports'] = [{'port': x} for x in seq]
    if random.random() < 0.2: spec['externalIPs'] = ['3.3.3.3']
    if spec: p['spec'] = spec
    meta = {}
    if random.random() < 0.5: meta['finalizers'] = random.sample(FINS, random.randint(0, 3))
    if random.random() < 0.3: meta['$deleteFromPrimitiveList/finalizers'] = random.sample(FINS, random.randint(1, 2))
    if random.random() < 0.2 and 'finalizers' in meta:
        fs = list(dict.fromkeys(meta['finalizers'] + d['metadata'].get('finalizers', [])))
        random.shuffle(fs)
        it = iter(meta['finalizers'])
        meta['$setElementOrder/finalizers'] = [next(it) if f in meta['finalizers'] else f for f in fs]
    if 'finalizers' in meta and '$deleteFromPrimitiveList/finalizers' in meta:
        # Adding and deleting one value in one patch has no defined result in Kubernetes.
        meta['$deleteFromPrimitiveList/finalizers'] = [f for f in meta['$deleteFromPrimitiveList/finalizers'] if f not in meta['finalizers']]
    if random.random() < 0.4: meta['labels'] = {k: random.choice(['n', None]) for k in random.sample(['a', 'b', 'd'], 2)}
    if meta: p['metadata'] = meta
    return p
cases = []
for i in range(N):
    d = doc(); cases.append((d, patch(d)))
inp = '\n'.join(json.dumps({'kind': 'Service', 'doc': d, 'patch': p}) for d, p in cases) + '\n'
ours = subprocess.run([sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../build/orchestrator/apiserver/smp_cli')], input=inp, capture_output=True, text=True).stdout.splitlines()
diff = 0
quirk = 0
for (d, p), o in zip(cases, ours):
    open(DOC, 'w').write(json.dumps(d))
    r = subprocess.run([K, 'patch', '--local', '-f', DOC, '-p', json.dumps(p), '--type', 'strategic', '-o', 'json'], capture_output=True, text=True)
    o = json.loads(o)
    if r.returncode:
        if 'no elements in any of the given slices' in r.stderr: quirk += 1; continue
        if 'error' not in o:
            diff += 1; print('DIFF kubectl error', r.stderr.strip()[:200], '\n doc', json.dumps(d), '\n patch', json.dumps(p), '\n ours', json.dumps(o))
        continue
    def nonull(j):
        if isinstance(j, dict): return {a: nonull(b) for a, b in j.items() if b is not None}
        if isinstance(j, list): return [nonull(b) for b in j]
        return j
    k = nonull(json.loads(r.stdout))
    if 'error' in o or k != o:
        diff += 1; print('DIFF\n doc', json.dumps(d), '\n patch', json.dumps(p), '\n kubectl', json.dumps(k, sort_keys=True), '\n ours   ', json.dumps(o, sort_keys=True))
print('cases', N, 'diffs', diff, 'kubectl empty-$setElementOrder errors', quirk)
