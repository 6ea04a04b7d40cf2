#!/bin/sh
# A stand-in application for the demo: it reads its config and a secret from its
# environment, leaves orphans behind (as shell pipelines and daemons do), waits for a
# signal, and exits with a code of its own.
echo "app: I am pid $$; my parent is pid $PPID (init)"
echo "app: API_TOKEN from my environment: $API_TOKEN (init read it from a file)"
echo "app: my config, rendered by init (mode $(stat -c %a "$DEMO_CONFIG")):"
sed 's/^/app:   /' "$DEMO_CONFIG"
if env | grep -q demo-db-password; then echo "app: the database password IS in my environment"; else echo "app: the database password is in the file only, not in my environment"; fi
for i in 1 2 3; do sh -c 'sleep 0.2 &'; done
echo "app: left 3 orphans behind; init adopts and reaps them"
sleep 0.6
zombies=$(grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l)
echo "app: zombies now: $zombies"
trap 'echo "app: got SIGTERM from init, exiting with 0"; exit 0' TERM
trap 'echo "app: got SIGINT (^C), exiting with 130"; exit 130' INT
echo "app: waiting 3 s: press ^C to see it forwarded, or let me exit with 3"
sleep 3 &
wait $!
exit 3
