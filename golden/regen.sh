#!/usr/bin/env bash
# Regenerates the oracle files of the golden corpus (golden/corpus/<name>/:
# sb.txt, lflow-list.txt, and nb.db for nb.nbctl entries) with a private,
# real ovn-northd 23.03 (daemons in a temp dir, killed afterwards).
#   golden/regen.sh [--record] [NAME...]
# --record re-records the nb.db history of nb.nbctl entries (new random row
# UUIDs); do it after editing an nb.nbctl. Then update the status files:
#   GOLDEN_STATUS=1 cargo test -p ovnflow-golden --test corpus
# Needs ovsdb-server, ovsdb-tool, ovsdb-client, ovn-northd, ovn-nbctl, ovn-sbctl.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q -p ovnflow-golden --bin golden-regen -- "$@"
