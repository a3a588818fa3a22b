#!/bin/sh
# Restore the concierge's identity files that /configs lacks (never overwriting), then run the base entrypoint.
set -eu
/opt/molecule-platform-agent-template/identity-fallback.sh
exec /entrypoint.sh "$@"
