#!/bin/sh
# npm run demo: dist/init as PID 1 of a fresh PID namespace (what a container gives it),
# supervising three services: a oneshot "migrate", an "api" server that starts after it and
# reads a config init rendered with a secret, and a "client" (the main service) that starts
# once the api answers its readiness probe. Without root (no namespaces) init runs as a
# child subreaper instead. ^C at any time: everything stops in reverse order.
cd "$(dirname "$0")/../.."
demo=$PWD/examples/demo
out=$(mktemp -d /tmp/sesame-demo-XXXXXX)
# The pinned Node the project installs runs the api and the client's requests.
PATH=$PWD/node_modules/.bin:$PATH
# The config file needs absolute paths, so it is written here.
cat > "$out/sesame.yaml" <<YAML
secrets:
  - ref: file:$demo/secrets/db_password
    name: db_password              # for templates only: in no environment
  - ref: file:$demo/secrets/api_token
    env: API_TOKEN                 # only to the services that list it below
templates:
  - src: $demo/api.conf.liquid
    dest: $out/api.conf            # 0600: it holds a secret
services:
  migrate:
    command: [sh, $demo/migrate.sh]
    oneshot: true
  api:
    command: [node, $demo/api.js]
    environment:
      API_CONFIG: $out/api.conf
    secrets: [API_TOKEN]
    depends_on:
      migrate: { condition: service_completed_successfully }
    ready:
      http: http://127.0.0.1:\${DEMO_PORT}/health
  client:
    command: [sh, $demo/client.sh]
    environment:
      TOKEN_FILE: $demo/secrets/api_token
    depends_on:
      api: { condition: service_healthy }
main: client
YAML
DEMO_PORT=${DEMO_PORT:-18080}
sed -i "s/\${DEMO_PORT}/$DEMO_PORT/" "$out/sesame.yaml"
export DB_HOST=db.internal DEMO_PORT PATH
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  set -- unshare --pid --fork --mount-proc dist/init --config "$out/sesame.yaml"
else
  echo "demo: not root, so no PID namespace: init runs as a child subreaper"
  set -- dist/init --config "$out/sesame.yaml"
fi
echo "demo: $*"
# ^C goes to this script too: let init finish its shutdown and report its code.
trap : INT
"$@"
echo "demo: init exited with $?"
rm -rf "$out"
