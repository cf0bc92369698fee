#!/usr/bin/env bash
# Prints the home of a JDK >= 25: $JAVA_HOME if it qualifies, else the newest suitable one installed.
set -euo pipefail
major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | cut -d. -f1; }
ok() { [ -x "$1/bin/javac" ] && [ "$(major "$1")" -ge 25 ] 2>/dev/null; }
if [ -n "${JAVA_HOME:-}" ] && ok "$JAVA_HOME"; then echo "$JAVA_HOME"; exit 0; fi
best=""; best_major=0
for d in /usr/lib/jvm/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/*; do
  [ -d "$d" ] || continue
  if ok "$d"; then m=$(major "$d"); if [ "$m" -gt "$best_major" ]; then best="$d"; best_major=$m; fi; fi
done
if [ -z "$best" ] && command -v javac >/dev/null; then
  d=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")"); ok "$d" && best="$d"
fi
[ -n "$best" ] || { echo "no JDK >= 25 found: install one or set JAVA_HOME" >&2; exit 1; }
echo "$best"
