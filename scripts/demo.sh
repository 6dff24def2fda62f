#!/usr/bin/env bash
# The incident, end to end, on a fixture home in a temp dir (never ~/.spec-kitty):
# sk-doctor explains it, sk-migrate run moves the stranded rows, sk-doctor again.
set -euo pipefail
cd "$(dirname "$0")/.."
# Cargo's own progress (a bar on a terminal, a line per crate otherwise): the
# first release build takes minutes, and silence reads as a hang.
echo "== building sk-doctor and sk-migrate (release; the first build takes a few minutes) ==" >&2
cargo build --release --bins --examples
bin=target/release
demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
target/release/examples/fixture_home fixtures/incident/home "$demo/home"
export SPEC_KITTY_HOME="$demo/home"
# The release the user runs (no spec-kitty is installed where the demo runs).
export SK_RELEASE=3.2.5
fg=fixtures/incident/foreground.json

echo "== sk-doctor (before) =="
"$bin/sk-doctor" --no-probe --foreground "$fg" || true
echo
echo "== sk-migrate run =="
"$bin/sk-migrate" run
echo
echo "== sk-doctor --check (rows moved; the stale daemon's record is still there) =="
"$bin/sk-doctor" --no-probe --foreground "$fg" --check || echo "(exit $?: incoherent)"
echo
echo "== sk-doctor retire --yes (removes the orphan record; signals nothing) =="
"$bin/sk-doctor" retire --yes
echo
echo "== sk-doctor --check =="
"$bin/sk-doctor" --no-probe --foreground "$fg" --check
