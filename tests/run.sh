#!/usr/bin/env bash
# The test command from README.md: builds the solution and runs every test not marked Long.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet test ChatForge.slnx -c Release --filter "Category!=Long" "$@"
