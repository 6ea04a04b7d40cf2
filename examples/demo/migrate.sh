#!/bin/sh
# A oneshot, like a schema migration: the api starts only once it has exited 0.
echo "migrating the schema (pretend)..."
sleep 0.5
echo "schema is up to date"
