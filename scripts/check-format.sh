#!/usr/bin/env bash
# Fails when a tracked C/C++ file is not formatted as .clang-format says; lists those files.
# Fix with: git ls-files '*.cpp' '*.h' '*.c' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=()
while IFS= read -r f; do
  clang-format --style=file "$f" | cmp -s - "$f" || unformatted+=("$f")
done < <(git ls-files '*.cpp' '*.h' '*.c')
if ((${#unformatted[@]})); then
  printf 'not formatted (clang-format -i): %s\n' "${unformatted[@]}"
  exit 1
fi
echo "check-format: every C/C++ file formatted"
