#!/usr/bin/env bash
# The test suite: Swift tests (unit, reference fixtures, default-model comparisons) and the
# Python checks of run files. Needs what scripts/install-deps.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build 2>&1
