#!/bin/sh
# Stand-in for an application that reads its database password from DB_PASSWORD.
echo "app: running as $(id -un), connecting to $DB_HOST with a password of ${#DB_PASSWORD} characters"
env | grep -q '^VAULT_\|^SESAME_' && echo "app: init's credentials leaked into my environment!" >&2
trap 'echo "app: stopping"; exit 0' TERM
while :; do sleep 3600 & wait $!; done
