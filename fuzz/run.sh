#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30) and exits non-zero if
# any of them crashed. Used by .ci/run; see fuzz/README.md.
#
# - cargo-fuzz is installed when missing (`cargo install cargo-fuzz --locked`).
# - A nightly toolchain is used when installed. Without one, the stable
#   toolchain runs with RUSTC_BOOTSTRAP=1, which unlocks the unstable flags
#   cargo-fuzz needs (sanitizers, coverage instrumentation).
# - The repository stays clean: each target fuzzes a temporary copy of its
#   committed corpus, and crash artifacts go to fuzz/target/run/artifacts/.
#   To keep new corpus entries, see "Growing the corpus" in the README.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: fuzz/run.sh [SECONDS per target, default 30]" >&2
  exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: installing it"
  cargo install cargo-fuzz --locked
fi

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  cargo=(cargo +nightly)
  echo "toolchain: nightly"
else
  cargo=(cargo)
  export RUSTC_BOOTSTRAP=1
  echo "toolchain: no nightly installed, using stable with RUSTC_BOOTSTRAP=1"
fi

targets=$(cargo fuzz list)
run_dir="target/run"
rm -rf "$run_dir"
mkdir -p "$run_dir"

start=$SECONDS
"${cargo[@]}" fuzz build
echo "built every target in $((SECONDS - start)) s"

failed=()
for target in $targets; do
  corpus="$run_dir/corpus/$target"
  artifacts="$run_dir/artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  cp "corpus/$target/"* "$corpus/"
  echo "==> $target for ${seconds} s"
  # -timeout turns a hang into a crash; -artifact_prefix (given last, so it
  # wins over cargo-fuzz's own) keeps crash files out of the source tree.
  if ! "${cargo[@]}" fuzz run "$target" "$corpus" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096 -timeout=20 \
      -print_final_stats=1 -artifact_prefix="$artifacts" 2>"$run_dir/$target.log"; then
    failed+=("$target")
    tail -n 60 "$run_dir/$target.log" >&2
    echo "fuzz target $target crashed; reproducer(s):" >&2
    ls -1 "$artifacts" >&2
  else
    grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$run_dir/$target.log" || true
    echo "corpus: $(ls -1 "$corpus" | wc -l) entries (committed: $(ls -1 "corpus/$target" | wc -l))"
  fi
done

echo "fuzzing took $((SECONDS - start)) s in total"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashed: ${failed[*]} (artifacts under fuzz/$run_dir/artifacts/)" >&2
  exit 1
fi
