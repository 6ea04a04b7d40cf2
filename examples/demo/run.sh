#!/bin/sh
# npm run demo: dist/init as PID 1 of a fresh PID namespace (what a container gives it),
# running examples/demo/app.sh. Without root (no namespaces) it runs as a subreaper instead.
cd "$(dirname "$0")/../.."
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  set -- unshare --pid --fork --mount-proc dist/init --log-level info -- sh examples/demo/app.sh
else
  echo "demo: not root, so no PID namespace: init runs as a child subreaper"
  set -- dist/init --log-level info -- sh examples/demo/app.sh
fi
echo "demo: $*"
"$@"
echo "demo: init exited with $?"
