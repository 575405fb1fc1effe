#!/usr/bin/env bash
# Builds the container images the tests run, from Debian packages only (no registry is reachable):
#   switchyard.local/busybox:1  busybox-static with every applet linked, /www/index.html for
#                               `httpd -f -p 80 -h /www`, /etc/passwd and /etc/group; Cmd /bin/sh
#   switchyard.local/busybox:2  the same image under a second tag (busybox-2.tar), for rollouts
#   switchyard.local/pause:1    a static pause program (scripts/test-images/pause.c): the sandbox
# Each is written as a docker archive (what `ctr images import` and `switchyard images import`
# load) into OUT_DIR (default build/images). "switchyard.local" is a name no registry answers,
# so the runtime never tries to pull these. Idempotent: does nothing when the archives are newer
# than their inputs.
# Needs: busybox-static, umoci, skopeo, a C compiler with static glibc (build-essential).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../build/images}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
busybox=/usr/bin/busybox
inputs=("$0" "$here/test-images/pause.c" "$busybox")

up_to_date() {
  local archive=$1
  [[ -s $archive ]] || return 1
  for input in "${inputs[@]}"; do [[ $input -nt $archive ]] && return 1; done
  return 0
}
if up_to_date "$out/busybox.tar" && up_to_date "$out/busybox-2.tar" && up_to_date "$out/pause.tar"; then
  exit 0
fi
for tool in umoci skopeo cc "$busybox"; do
  command -v "$tool" >/dev/null || { echo "build-test-images: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/switchyard-images.XXXXXX")"
trap 'rm -rf "$work"' EXIT
layout="$work/layout"
umoci init --layout "$layout"

# image NAME TAG ROOTFS ARCHIVE [umoci config flags...]: one layer holding ROOTFS.
image() {
  local name=$1 tag=$2 rootfs=$3 archive=$4
  shift 4
  umoci new --image "$layout:$name"
  umoci insert --image "$layout:$name" "$rootfs" /
  umoci config --image "$layout:$name" --author=switchyard --config.workingdir=/ "$@"
  rm -f "$archive.tmp"
  skopeo --insecure-policy copy --quiet "oci:$layout:$name" "docker-archive:$archive.tmp:$tag"
  mv "$archive.tmp" "$archive"
}

# busybox: the binary, one symlink per applet, the files httpd and `id` expect.
bb="$work/busybox"
mkdir -p "$bb/bin" "$bb/etc" "$bb/www" "$bb/tmp" "$bb/root"
chmod 1777 "$bb/tmp"
cp "$busybox" "$bb/bin/busybox"
for applet in $("$busybox" --list); do
  [[ $applet == busybox ]] || ln -sf busybox "$bb/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$bb/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$bb/etc/group"
printf 'hello from switchyard busybox\n' >"$bb/www/index.html"
image busybox switchyard.local/busybox:1 "$bb" "$out/busybox.tar" \
  --config.env=PATH=/bin --config.cmd=/bin/sh
# The same image under a second tag, for rollouts that change the image (`kubectl set image`).
rm -f "$out/busybox-2.tar.tmp"
skopeo --insecure-policy copy --quiet "oci:$layout:busybox" "docker-archive:$out/busybox-2.tar.tmp:switchyard.local/busybox:2"
mv "$out/busybox-2.tar.tmp" "$out/busybox-2.tar"

# pause: one static binary.
pause="$work/pause"
mkdir -p "$pause"
cc -static -Os -s -o "$pause/pause" "$here/test-images/pause.c"
image pause switchyard.local/pause:1 "$pause" "$out/pause.tar" --config.entrypoint=/pause

echo "build-test-images: $out/busybox.tar $out/busybox-2.tar $out/pause.tar"
