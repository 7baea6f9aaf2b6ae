#!/bin/sh
# Regenerates actions.txt: the "action parsing" test cases of OVN v23.03.1
# tests/ovn.at (the text of AT_DATA([test-cases.txt], [[...]]), verbatim).
# Usage: extract_actions.sh /path/to/ovn.git > actions.txt
set -e
git -C "$1" show v23.03.1:tests/ovn.at | awk '
  /^AT_SETUP\(\[action parsing\]\)/ { in_test = 1 }
  in_test && /^\[\[# drop$/ { on = 1; sub(/^\[\[/, "") }
  on && /^\]\]\)$/ { exit }
  on { print }
'
