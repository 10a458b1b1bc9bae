#!/usr/bin/env bash
# Rebuilds playground/dist/ (index.html + assets/graphiql.js + assets/graphiql.css),
# which the Rust server embeds and serves at /playground.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
npm ci --no-audit --no-fund
node build.mjs
