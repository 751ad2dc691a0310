#!/usr/bin/env bash
# Installs code-server 4.100.3 (VS Code 1.100.3) from npm into .cache/code-server, offline-safe and idempotent.
# Needs Debian's ripgrep (its rg seeds @vscode/ripgrep's download cache) and libkrb5-dev + build tools.
set -euo pipefail
VERSION=4.100.3
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR="$ROOT/.cache/code-server"
BIN="$DIR/node_modules/.bin/code-server"
if [ -x "$BIN" ] && [ "$("$BIN" --version 2>/dev/null | head -1 | cut -d' ' -f1)" = "$VERSION" ]; then
  exit 0
fi
command -v rg >/dev/null || { echo "setup-code-server: ripgrep (rg) is missing: apt-get install ripgrep" >&2; exit 1; }
echo "setup-code-server: installing code-server $VERSION into $DIR (about 2-3 minutes)"
# @vscode/ripgrep's postinstall downloads rg; seed its cache with Debian's rg (name follows its pinned version).
CACHE="$(node -p 'require("os").tmpdir()')/vscode-ripgrep-cache-1.15.11"
TMP=$(mktemp -d)
mkdir -p "$CACHE" && cp "$(command -v rg)" "$TMP/rg"
tar czf "$CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$TMP" rg
rm -rf "$TMP" "$DIR" && mkdir -p "$DIR"
echo '{"private":true}' > "$DIR/package.json"
LOG="$ROOT/.cache/code-server-install.log"
if ! (cd "$DIR" && npm_config_yes=true npm i --unsafe-perm --no-audit --no-fund --no-save "code-server@$VERSION" > "$LOG" 2>&1); then
  tail -30 "$LOG" >&2; echo "setup-code-server: npm install failed (log: $LOG)" >&2; exit 1
fi
"$BIN" --version | head -1
