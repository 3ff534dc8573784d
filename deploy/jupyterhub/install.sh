#!/usr/bin/env bash
# The hub's proxy: configurable-http-proxy from npm, at the version package-lock.json pins,
# into deploy/jupyterhub/node_modules (JupyterHub itself is pinned in pyproject.toml and
# installed with the course: ./course.sh setup). Idempotent; needs Node.js >= 20 and npm.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x node_modules/.bin/configurable-http-proxy ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
node_modules/.bin/configurable-http-proxy --version
