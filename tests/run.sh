#!/usr/bin/env bash
# The test command from README.md: builds the solution and runs every test not marked Category=Long.
# Extra arguments go to `dotnet test` (e.g. --filter to narrow it). Ends with one line
# "N passed, N failed, N skipped" summed over all test projects.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
filter="Category!=Long"
[ "${CHATFORGE_LONG_TESTS:-0}" = 1 ] && filter="FullyQualifiedName!=none"
dotnet test ChatForge.slnx -c Release --filter "$filter" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
sum() { grep -E "^(Passed|Failed)!" "$log" | grep -oE "$1: +[0-9]+" | awk '{s += $2} END {print s + 0}'; }
echo "$(sum Passed) passed, $(sum Failed) failed, $(sum Skipped) skipped"
rm -f "$log"
exit "$status"
