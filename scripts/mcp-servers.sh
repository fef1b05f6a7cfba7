#!/usr/bin/env bash
# Installs the MCP servers the tests run (crates/cli/tests/mcp.rs) into .tools/ (ignored by git):
#   .tools/npm   @modelcontextprotocol/server-everything (Node)
#   .tools/venv  mcp-server-time (Python virtual environment)
# Idempotent: what is already installed is kept. Prints the paths the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools

everything=.tools/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js
if [ ! -f "$everything" ]; then
  echo "== installing @modelcontextprotocol/server-everything into .tools/npm"
  npm install --silent --no-audit --no-fund --prefix .tools/npm @modelcontextprotocol/server-everything >/dev/null
fi

time_server=.tools/venv/bin/mcp-server-time
if [ ! -x "$time_server" ]; then
  echo "== installing mcp-server-time into .tools/venv"
  python3 -m venv .tools/venv
  .tools/venv/bin/pip install --quiet --disable-pip-version-check mcp-server-time
fi

echo "server-everything: $everything"
echo "mcp-server-time:   $time_server"
