#!/usr/bin/env bash
# npm run test:docker (and .ci/run, after the other suites): the real-engine tests.
# With DOCKER_HOST set to an engine that answers, that engine is used (its images are kept
# and reused). Otherwise an engine of the suite's own is started under a temporary
# directory (engine.sh) and stopped, with everything in it, at the end.
# The base images come from debootstrap (images.sh) unless the engine has them already.
# Prints "docker suite skipped: WHY" and exits 0 when no engine can run here; the last line
# is otherwise test/run.mjs's "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
here=test/docker
tmp=$(mktemp -d /tmp/sesame-docker.XXXXXX)
own=
cleanup() {
  if [ -n "$own" ]; then
    # Containers first (a test killed midway leaves some), then the engine and its data.
    ids=$(docker ps -aq 2>/dev/null); [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
    docker builder prune -af >/dev/null 2>&1
    bash "$here/engine.sh" stop "$tmp/engine"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$SECONDS
if [ -n "${DOCKER_HOST:-}" ] && docker version >/dev/null 2>&1; then
  echo "docker: using the engine at $DOCKER_HOST"
else
  out=$(bash "$here/engine.sh" start "$tmp/engine") || { echo "docker suite skipped: $out"; exit 0; }
  export "${out?}"
  own=1
  echo "docker: started an engine of its own ($DOCKER_HOST)"
fi
bash "$here/images.sh" "$tmp/images" || { echo "docker: base images could not be made"; echo "0 passed, 1 failed"; exit 1; }
echo "docker: engine and base images ready in $((SECONDS - t0)) s"
node test/run.mjs --config "$here/vitest.config.mts"
rc=$?
echo "docker: suite done in $((SECONDS - t0)) s"
exit $rc
