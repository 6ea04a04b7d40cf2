#!/bin/sh
# npm run demo: dist/init as PID 1 of a fresh PID namespace (what a container gives it).
# Init logs in to Vault with AppRole and reads the database password (from a Vault
# STAND-IN started here: the project's test server on loopback, not a real Vault), reads
# an API token from a secret file, renders the api's config with the password, and
# supervises three services: a oneshot "migrate", an "api" server that starts after it and
# reads that config, and a "client" (the main service) that starts once the api answers
# its readiness probe. Without root (no namespaces) init runs as a child subreaper
# instead. ^C at any time: everything stops in reverse order.
cd "$(dirname "$0")/../.."
demo=$PWD/examples/demo
out=$(mktemp -d /tmp/sesame-demo-XXXXXX)
# The pinned Node the project installs runs the api, the client's requests and the stand-in.
PATH=$PWD/node_modules/.bin:$PATH
node "$demo/vault-stand-in.mjs" "$out" &
vault=$!
trap 'kill $vault 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s "$out/vault-addr" ] && break; sleep 0.1; done
[ -s "$out/vault-addr" ] || { echo "demo: the Vault stand-in did not start"; kill $vault; exit 1; }
# The config file needs absolute paths, so it is written here.
cat > "$out/sesame.yaml" <<YAML
secrets:
  - ref: vault:secret/demo#db_password
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
# Init's Vault login, as a real deployment would give it: AppRole, the secret_id in a file
# that init deletes once read. Init removes these variables before any service starts.
export VAULT_ADDR="$(cat "$out/vault-addr")" SESAME_VAULT_AUTH=approle \
  SESAME_VAULT_ROLE_ID_FILE="$out/role-id" SESAME_VAULT_SECRET_ID_FILE="$out/secret-id" SESAME_VAULT_SECRET_ID_REMOVE=true
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
code=$?
[ -e "$out/secret-id" ] || echo "demo: the secret_id file is gone: init deleted it after logging in"
kill $vault; wait $vault
echo "demo: init exited with $code"
rm -rf "$out"
