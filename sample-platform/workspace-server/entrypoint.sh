#!/bin/sh
# Base entrypoint: the platform-agent image hands off here after restoring its identity files.
set -eu
echo "molecule-base-entrypoint: $*"
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
