#!/bin/sh
# npm run demo: dist/init as PID 1 of a fresh PID namespace (what a container gives it),
# with a secret from a file into the environment, another into a rendered config file
# only, and examples/demo/app.sh as the program. Without root (no namespaces) init runs as
# a child subreaper instead.
cd "$(dirname "$0")/../.."
demo=examples/demo
out=$(mktemp -d /tmp/sesame-demo-XXXXXX)
# The config file needs absolute paths, so it is written here.
cat > "$out/sesame.yaml" <<YAML
secrets:
  - ref: file:$PWD/$demo/secrets/db_password
    name: db_password              # for templates only: in no environment
templates:
  - src: $demo/app.conf.liquid
    dest: $out/app.conf            # 0600: it holds a secret
YAML
export DB_HOST=db.internal API_TOKEN="file:$PWD/$demo/secrets/api_token" DEMO_CONFIG="$out/app.conf"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  set -- unshare --pid --fork --mount-proc dist/init --log-level info --config "$out/sesame.yaml" -- sh $demo/app.sh
else
  echo "demo: not root, so no PID namespace: init runs as a child subreaper"
  set -- dist/init --log-level info --config "$out/sesame.yaml" -- sh $demo/app.sh
fi
echo "demo: $*"
"$@"
echo "demo: init exited with $?"
rm -rf "$out"
