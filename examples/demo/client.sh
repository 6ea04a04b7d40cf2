#!/bin/sh
# The main service: calls the api a few times, leaves orphans behind (as shell pipelines and
# daemons do) for init to reap, and exits 0; its exit ends the container. ^C stops it earlier.
echo "I am pid $$; my parent is pid $PPID (init)"
echo "API_TOKEN in my environment: ${API_TOKEN:-no (only the api service gets it)}"
trap 'echo "got SIGTERM from init, exiting with 143"; exit 143' TERM
for i in 1 2 3 4 5; do
  node -e 'fetch(process.argv[1], { headers: { authorization: `Bearer ${process.argv[2]}` } })
    .then(async (r) => console.log(`GET /hello -> ${r.status} ${(await r.text()).trim()}`), (e) => console.log(`GET /hello failed: ${e.cause?.code ?? e.message}`))' \
    "http://127.0.0.1:$DEMO_PORT/hello" "$(cat "$TOKEN_FILE")"
  for j in 1 2; do sh -c 'sleep 0.2 &'; done
  sleep 0.5 & wait $!
done
echo "left 10 orphans behind; zombies now: $(grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l)"
echo "done; press ^C next time to see a clean shutdown before this"
