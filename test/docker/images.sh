#!/usr/bin/env bash
# The base images the real-engine tests run on, made without a registry: one Debian
# bookworm root from debootstrap (minbase, plus nginx-light, php-fpm, curl, procps, tini
# for comparisons, and musl and busybox-static for a musl image) imported with `docker
# import`, and images built from it (images/*.Dockerfile): two that lay things out as the
# official nginx and php:fpm images do, and one with musl's loader and a static busybox
# and no glibc, as Alpine is.
#   images.sh WORKDIR   (WORKDIR: scratch space for the root, removed afterwards)
# Skips what the engine already has. Needs root, debootstrap and the Debian mirror.
set -euo pipefail
work=$1
here=$(cd "$(dirname "$0")" && pwd)
base=sesame-test/bookworm
mirror=${SESAME_DEBIAN_MIRROR:-http://deb.debian.org/debian}

if ! docker image inspect "$base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { echo "images.sh: no debootstrap (apt-get install debootstrap)" >&2; exit 1; }
  mkdir -p "$work"
  rootfs="$work/rootfs"
  t0=$SECONDS
  debootstrap --variant=minbase --include=nginx-light,php-fpm,curl,procps,tini,musl,busybox-static bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 5 "$work/debootstrap.log" >&2; exit 1; }
  # What the official images do too: no package caches, no init scripts that a
  # container never runs.
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb
  tar -C "$rootfs" --numeric-owner -c . | docker import -c 'CMD ["bash"]' - "$base" >/dev/null
  rm -rf "$rootfs"
  echo "images.sh: $base from debootstrap in $((SECONDS - t0)) s"
fi
for name in nginx php musl; do
  tag=sesame-test/$name
  docker image inspect "$tag" >/dev/null 2>&1 && continue
  DOCKER_BUILDKIT=0 docker build -q -t "$tag" -f "$here/images/$name.Dockerfile" "$here/images" >/dev/null
done
