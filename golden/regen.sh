#!/usr/bin/env bash
# Regenerates the oracle output of the golden corpus (golden/corpus/<scenario>/:
# nb.db, sb.txt, lflow-list.txt) by running every scenario of
# compiler/tests/scenarios/ through a private, real ovn-northd 23.03.
# Needs ovsdb-server, ovn-northd, ovn-nbctl, ovn-sbctl (bash .ci/install-ovn).
set -euo pipefail
cd "$(dirname "$0")/.."
GOLDEN_REGEN=1 cargo test -p ovnflow-compiler --test vs_northd scenarios_match_northd -- --nocapture
