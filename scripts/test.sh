#!/usr/bin/env bash
# Builds and runs the whole test suite with a JDK >= 25 (found by scripts/java-home.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA_HOME="$(scripts/java-home.sh)"
export JAVA_HOME
exec ./mvnw -B -ntp verify "$@"
