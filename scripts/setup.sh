#!/usr/bin/env bash
# Sets up a fresh machine for pathlens: Debian packages, a virtual environment in .venv,
# torch==2.13.0 (the local CPU build) before the package, then the package with its dev extras,
# then the web front end (npm ci, the API schema and its generated types, vite build into
# src/pathlens/server/static).
# Idempotent: every step checks whether it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${PATHLENS_VENV:-.venv}
APT_PACKAGES=(dataset-fashion-mnist chromium fonts-dejavu-core)  # chromium: browser tests

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    say "installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV"
    python3 -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

if ! "$VENV/bin/python" -c 'import torch, sys; sys.exit(not torch.__version__.startswith("2.13.0"))' 2>/dev/null; then
    say "installing torch==2.13.0 (CPU build)"
    "${PIP[@]}" install torch==2.13.0
fi

stamp="$VENV/.pathlens-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    say "installing pathlens with its dev extras"
    "${PIP[@]}" install -e '.[dev]'
    touch "$stamp"
fi
# The front end: rebuilt when a source file, or the server whose schema its types come from, is
# newer than the build (never committed). Its API types are generated from the server's OpenAPI
# schema, which the package writes (web/openapi.json, ignored by git).
built=src/pathlens/server/static/index.html
newer() { find "$@" -type f -newer "$built" -print -quit; }
if [ ! -f "$built" ] || [ ! -f web/openapi.json ] \
    || [ -n "$(find web -path web/node_modules -prune -o -type f -newer "$built" -print -quit)" ] \
    || [ -n "$(newer src/pathlens/server -name '*.py')" ]; then
    if ! command -v npm >/dev/null; then
        say "npm is missing: install Node.js 20 (apt-get install nodejs npm)"; exit 1
    fi
    if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules ]; then
        say "installing the front end's packages (npm ci)"
        (cd web && npm ci --no-audit --no-fund --loglevel=error)
    fi
    say "writing the API schema (web/openapi.json)"
    "$VENV/bin/python" -m pathlens.server.schema > web/openapi.json.tmp
    mv web/openapi.json.tmp web/openapi.json
    say "building the front end"
    (cd web && npm run --silent build -- --logLevel error)
fi
say "ready ($VENV)"
