#!/bin/sh
# Fill files absent from /configs with the baked template copy. Never overwrite: /configs is the user's.
set -eu
src=/opt/molecule-platform-agent-template
dst=${MOLECULE_CONFIGS_DIR:-/configs}
mkdir -p "$dst"
cd "$src"
find . -type f ! -name identity-fallback.sh | while read -r f; do
  if [ ! -e "$dst/$f" ]; then
    mkdir -p "$dst/$(dirname "$f")"
    cp "$f" "$dst/$f"
    echo "identity-fallback: restored $f"
  fi
done
