#!/usr/bin/env python3
# Differential test: random pod documents and strategic merge patches, applied by Switchyard
# (smp_cli) and by Kubernetes' own strategicpatch (kubectl patch --local), results compared.
# Usage: ninja -C build smp_cli && tools/smp_differential_pod.py SEED COUNT [path/to/smp_cli]
import json, os, random, subprocess, sys, tempfile
random.seed(int(sys.argv[1])); N = int(sys.argv[2])
DOC = os.path.join(tempfile.mkdtemp(), 'doc.json')
K = '/usr/lib/google-cloud-sdk/bin/kubectl.1.33'
NAMES = ['app', 'side', 'init']; ENVS = ['A', 'B', 'C']; CPORTS = [80, 81, 82]
def env(n): return {'name': n, 'value': random.choice(['1', '2'])}
def ctr(n, patch=False):
    c = {'name': n}
    if random.random() < 0.5: c['image'] = random.choice(['i:1', 'i:2'])
    if random.random() < 0.6:
        es = []
        for e in random.sample(ENVS, random.randint(0, 3)):
            if patch and random.random() < 0.25: es.append({'name': e, '$patch': 'delete'})
            elif patch and random.random() < 0.15: es.append({'name': e, 'value': None})
            else: es.append(env(e))
        c['env'] = es
    if random.random() < 0.5:
        c['ports'] = [{'containerPort': p, 'protocol': 'TCP'} if random.random() < 0.5 else {'containerPort': p} for p in random.sample(CPORTS, random.randint(0, 2))]
    return c
def doc():
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'x'},
            'spec': {'containers': [ctr(n) for n in random.sample(NAMES, random.randint(1, 3))],
                     'tolerations': [{'key': 'k', 'operator': 'Exists'}]},
            'status': {'conditions': [{'type': t, 'status': 'True'} for t in random.sample(['Ready', 'PodScheduled'], random.randint(0, 2))]}}
def patch():
    p = {'spec': {}}
    cs = []
    for n in random.sample(NAMES, random.randint(0, 3)):
        cs.append({'name': n, '$patch': 'delete'} if random.random() < 0.15 else ctr(n, True))
    if cs: p['spec']['containers'] = cs
    if random.random() < 0.3: p['spec']['tolerations'] = [{'key': 'z', 'operator': 'Exists'}]
    if random.random() < 0.4: p['status'] = {'conditions': [{'type': random.choice(['Ready', 'Initialized']), 'status': 'False'}]}
    return p
def nonull(j):
    if isinstance(j, dict): return {a: nonull(b) for a, b in j.items() if b is not None}
    if isinstance(j, list): return [nonull(b) for b in j]
    return j
def nodirective(j):  # what a typed decode would make of verbatim-copied directives
    if isinstance(j, dict): return {a: nodirective(b) for a, b in j.items() if a != '$patch'}
    if isinstance(j, list): return [nodirective(b) for b in j]
    return j
cases = [(doc(), patch()) for _ in range(N)]
inp = '\n'.join(json.dumps({'kind': 'Pod', 'doc': d, 'patch': p}) for d, p in cases) + '\n'
ours = subprocess.run([sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../build/orchestrator/apiserver/smp_cli')], input=inp, capture_output=True, text=True).stdout.splitlines()
diff = verbatim = 0
for (d, p), o in zip(cases, ours):
    open(DOC, 'w').write(json.dumps(d))
    r = subprocess.run([K, 'patch', '--local', '-f', DOC, '-p', json.dumps(p), '--type', 'strategic', '-o', 'json'], capture_output=True, text=True)
    o = json.loads(o)
    if r.returncode:
        if 'error' not in o: diff += 1; print('DIFF kubectl error', r.stderr[:200], json.dumps(d), json.dumps(p))
        continue
    raw = json.loads(r.stdout); k = nonull(raw)
    if k != o:
        if nonull(nodirective(raw)) != raw and '$patch' in json.dumps(raw):
            verbatim += 1; continue  # documented: Kubernetes copies directives in new values verbatim
        diff += 1; print('DIFF\n doc', json.dumps(d), '\n patch', json.dumps(p), '\n kubectl', json.dumps(k, sort_keys=True), '\n ours   ', json.dumps(o, sort_keys=True))
print('cases', N, 'diffs', diff, 'verbatim-directive cases', verbatim)
