#!/usr/bin/env python3
"""Writes protobuf_schema_data.cpp: the protobuf message schemas of the kinds the server serves.

The wire contract is upstream's: the field numbers and wire kinds in the `protobuf:"..."` tags of
the Go types (k8s.io/api, k8s.io/apimachinery), whose names are the JSON names. Go pointers (a
field whose presence matters even at its zero value) come from the Go type. Run with the Go
sources of those packages, e.g. from `git show HEAD:core/v1/types.go` in kubernetes/api:

  git -C kubernetes/api show HEAD:core/v1/types.go > core_types.go   # and discovery/v1, coordination/v1, apps/v1, autoscaling/v1
  git -C kubernetes/apimachinery show HEAD:pkg/apis/meta/v1/types.go > meta_types.go  # meta/v1/watch.go
  protobuf_schema_gen.py --source "(kubernetes/api COMMIT, kubernetes/apimachinery COMMIT)" \
      --package core/v1=core_types.go --package discovery/v1=discovery_types.go \
      --package coordination/v1=coordination_types.go --package apps/v1=apps_types.go \
      --package autoscaling/v1=autoscaling_types.go --package meta/v1=meta_types.go,meta_watch.go \
      --root core/v1.Namespace --root core/v1.NamespaceList --root core/v1.Pod --root core/v1.PodList \
      --root core/v1.Service --root core/v1.ServiceList --root core/v1.Endpoints --root core/v1.EndpointsList \
      --root core/v1.Node --root core/v1.NodeList --root core/v1.Event --root core/v1.EventList \
      --root discovery/v1.EndpointSlice --root discovery/v1.EndpointSliceList \
      --root meta/v1.Status --root meta/v1.WatchEvent --root meta/v1.DeleteOptions \
      --root coordination/v1.Lease --root coordination/v1.LeaseList \
      --root apps/v1.Deployment --root apps/v1.DeploymentList --root apps/v1.ReplicaSet --root apps/v1.ReplicaSetList \
      --root apps/v1.ControllerRevision --root apps/v1.ControllerRevisionList --root autoscaling/v1.Scale > protobuf_schema_data.cpp

batch/v1 was generated on its own (--package batch/v1=batch_types.go, with the alpha
`Scheduling *JobSchedulingConfiguration` line removed; --root batch/v1.{Job,JobList,CronJob,CronJobList})
and its new messages appended.

To serve a new kind (apps/v1 Deployment, say), add its package (--package apps/v1=apps_types.go)
and roots, and run it again (a new Go import alias goes into pkgalias below); the codec needs
nothing else.
"""
import argparse
import re
import sys

# Types with a fixed wire form, named as the Go sources spell them from each package.
LEAVES = {
    "Time": "time", "MicroTime": "microtime", "Duration": "duration", "FieldsV1": "fieldsv1",
    "IntOrString": "intstr", "Quantity": "quantity", "RawExtension": "rawext",
}
SCALARS = {"string": "string", "int32": "int32", "int64": "int64", "bool": "bool", "float64": "double",
           "uint32": "uint32", "uint64": "uint64", "UID": "string", "byte": "bytes"}

FIELD = re.compile(r'^\s*(?:(\w+)\s+)?([\w.*\[\]]+)\s+`(.*)`\s*$')


def parse_go(pkg, text, structs, named):
    current = None
    for line in text.splitlines():
        m = re.match(r'^type (\w+) struct \{', line)
        if m:
            current = structs.setdefault((pkg, m.group(1)), [])
            continue
        if current is not None and line.startswith('}'):
            current = None
            continue
        m = re.match(r'^type (\w+) ([\w.\[\]]+)\s*$', line)
        if m:
            named[(pkg, m.group(1))] = m.group(2)
            continue
        if current is None or line.strip().startswith('//'):
            continue
        m = FIELD.match(line)
        if not m:
            continue
        gotype, tag = m.group(2), m.group(3)
        pm = re.search(r'protobuf:"(\w+),(\d+)(?:,\w+)?(?:,name=(\w+))?', tag)
        if not pm:
            continue
        jm = re.search(r'json:"([^"]*)"', tag)
        jparts = (jm.group(1) if jm else "").split(',')
        # An embedded struct whose JSON name is empty is flattened into its parent's JSON object.
        inline = "inline" in jparts[1:] or (m.group(1) is None and jparts[0] == "")
        jname = jparts[0] if jparts[0] not in ("", "-") else (pm.group(3) or gotype)
        # Without omitempty Go's JSON writes the field even at its zero value.
        always = not inline and jparts[0] not in ("", "-") and "omitempty" not in jparts[1:]
        current.append(dict(num=int(pm.group(2)), name=jname, gotype=gotype, inline=inline, always=always))


def resolve(pkg, gotype, named, structs, pkgalias):
    """Returns (kind, message-ref or None) for one Go type, without pointer/slice markers."""
    if '.' in gotype:
        alias, base = gotype.split('.', 1)
        tpkg = pkgalias.get(alias)
    else:
        base, tpkg = gotype, pkg
    if base in LEAVES and (tpkg in (None, "meta/v1") or alias_is_leaf(gotype)):
        return LEAVES[base], None
    if base in SCALARS:
        return SCALARS[base], None
    if tpkg is not None and (tpkg, base) in named:
        return resolve(tpkg, named[(tpkg, base)], named, structs, pkgalias)
    if tpkg is not None and (tpkg, base) in structs:
        return "message", f"{tpkg}.{base}"
    raise SystemExit(f"unknown Go type {gotype} in {pkg}")


def alias_is_leaf(gotype):
    return gotype.split('.')[0] in ("metav1", "intstr", "resource", "runtime")


def wire(pkg, gotype, named, structs, pkgalias):
    """The DSL type of a Go field type: ?T (pointer), []T, map[K]V, scalars, m:ref."""
    if gotype.startswith('*'):
        return '?' + wire(pkg, gotype[1:], named, structs, pkgalias)
    if gotype == '[]byte':
        return 'bytes'
    if gotype.startswith('[]'):
        return '[]' + wire(pkg, gotype[2:], named, structs, pkgalias)
    if gotype.startswith('map['):
        key, value = re.match(r'map\[([\w.]+)\](.+)', gotype).groups()
        return f'map:{wire(pkg, key, named, structs, pkgalias)}:{wire(pkg, value, named, structs, pkgalias)}'
    # a named slice or map type (ResourceList, TopologyKeys): look through it
    base = gotype.split('.')[-1]
    tpkg = pkgalias.get(gotype.split('.')[0]) if '.' in gotype else pkg
    target = named.get((tpkg, base))
    if target and (target.startswith('[]') or target.startswith('map[')):
        return wire(tpkg, target, named, structs, pkgalias)
    kind, ref = resolve(pkg, gotype, named, structs, pkgalias)
    return f'm:{ref}' if kind == 'message' else kind


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--package', action='append', required=True, help='pkg=file.go[,file.go]')
    ap.add_argument('--root', action='append', required=True, help='pkg.Kind')
    ap.add_argument('--source', default='', help='where the Go sources came from (recorded in the output)')
    args = ap.parse_args()
    structs, named = {}, {}
    for spec in args.package:
        pkg, files = spec.split('=')
        for f in files.split(','):
            parse_go(pkg, open(f).read(), structs, named)
    pkgalias = {"metav1": "meta/v1", "v1": "core/v1", "corev1": "core/v1", "runtime": "runtime", "types": None}
    seen, order, todo = set(), [], list(args.root)
    while todo:
        ref = todo.pop(0)
        if ref in seen:
            continue
        seen.add(ref)
        pkg, name = ref.rsplit('.', 1)
        if (pkg, name) not in structs:
            raise SystemExit(f"no struct {ref}")
        lines = []
        for f in structs[(pkg, name)]:
            w = wire(pkg, f['gotype'], named, structs, pkgalias)
            if f['inline']:
                w = 'inline:' + w.lstrip('?')
            lines.append(f"  {f['num']} {f['name']} {w}" + (" always" if f['always'] else ""))
            for sub in re.findall(r'm:([\w/.]+)', w):
                todo.append(sub)
        order.append((ref, lines))
    out = sys.stdout
    out.write("// Generated by orchestrator/api/tools/protobuf_schema_gen.py: do not edit by hand.\n")
    out.write(f"// From the Go types' protobuf tags {args.source}\n")
    out.write("// One message per paragraph: `message PKG.Name`, then `NUMBER jsonName TYPE` per field;\n")
    out.write("// TYPE: scalar | m:REF | []TYPE | ?TYPE (Go pointer: kept at its zero value) | map:K:V | inline:m:REF;\n")
    out.write("// `always`: no omitempty, JSON has the field even at its zero value.\n")
    out.write('#include "orchestrator/api/protobuf_schema.h"\n\nnamespace switchyard::api::protobuf {\n\n')
    out.write('const char* const kSchemaText = R"schema(\n')
    for ref, lines in order:
        out.write(f"message {ref}\n")
        out.write("\n".join(lines) + "\n")
    out.write(')schema";\n\n}  // namespace switchyard::api::protobuf\n')


if __name__ == '__main__':
    main()
