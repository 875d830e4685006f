#!/usr/bin/env bash
# The Python package's CI: lint the binding, install the package into a fresh
# virtual environment under target/ (pip, maturin as the build backend), and
# run its pytest suite against `relay serve`. Needs python3 (3.9+, with venv)
# and PyPI; the Rust workspace itself never needs Python.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

target="${CARGO_TARGET_DIR:-$root/target}"
manifest=shims/python/Cargo.toml

step "python binding: format and lint (its own workspace)"
cargo fmt --manifest-path "$manifest" -- --check
CARGO_TARGET_DIR="$target/python" cargo clippy --manifest-path "$manifest" --all-targets -- -D warnings

step "python binding: relay-core resolves as in the root workspace"
diff <(cargo tree -p relay-core -e normal --prefix none) \
     <(CARGO_TARGET_DIR="$target/python" cargo tree --manifest-path "$manifest" -p relay-core -e normal --prefix none)

step "relay serve for the tests"
cargo build -p relay-cli --quiet
export RELAY_BIN="$target/debug/relay"

step "fresh virtual environment: maturin, pytest, pytest-asyncio; pip install ./shims/python"
venv="$target/python-venv"
rm -rf "$venv"
python3 -m venv "$venv"
pip() { "$venv/bin/python" -m pip --disable-pip-version-check --no-input "$@"; }
pip install --quiet maturin pytest pytest-asyncio
CARGO_TARGET_DIR="$target/python" pip install --quiet ./shims/python

step "pytest (machine binding, helpers, transport against relay serve)"
cd shims/python
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests
