#!/usr/bin/env bash
# A new user's first hour, replayed: clone this repository (its committed
# HEAD) into a fresh directory beside ../shared, run the two commands the
# README's first block gives, exactly as written, and fail if either fails or
# npm prints a single warning. The step cache starts empty, as on a new
# machine (ROUTELLM_CACHE_DIR points into the clone).
#
#   scripts/newcomer.sh            # clone, run, delete the clone
#   scripts/newcomer.sh --keep     # keep it (its path is printed)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
shared="$(cd "$here/../shared" 2>/dev/null && pwd)" || { echo "newcomer: no ../shared beside $here" >&2; exit 1; }
keep=false
[[ "${1:-}" == "--keep" ]] && keep=true

clone="$(mktemp -d "$(dirname "$shared")/newcomer.XXXXXX")"
cleanup() { if $keep; then echo "newcomer: kept $clone"; else rm -rf "$clone"; fi; }
trap cleanup EXIT

git clone --quiet "$here" "$clone/repo-tmp"
# The clone must sit beside shared/ (the README's paths say ../shared): move its contents up one level.
shopt -s dotglob
mv "$clone/repo-tmp"/* "$clone/"
rmdir "$clone/repo-tmp"
cd "$clone"

# The README's first fenced block: its command lines, in order.
mapfile -t commands < <(awk '/^```/ { if (open) exit; open = 1; next } open && NF { print }' README.md)
(( ${#commands[@]} == 2 )) || { echo "newcomer: expected two commands in the README's first block, found ${#commands[@]}" >&2; exit 1; }

export ROUTELLM_CACHE_DIR="$clone/.cache-routellm"
status=0
step=0
for command in "${commands[@]}"; do
  echo "newcomer: \$ $command"
  log="$clone/.newcomer-$(( ++step )).log"
  start=$(date +%s)
  if ! bash -o pipefail -c "$command" 2>&1 | tee "$log"; then
    echo "newcomer: FAILED: $command" >&2
    status=1
  fi
  echo "newcomer: $(( $(date +%s) - start )) s: $command"
  if grep -inE '^npm (warn|WARN)|npm warn ' "$log" >/dev/null; then
    echo "newcomer: npm printed warnings during: $command" >&2
    grep -inE 'npm warn' "$log" >&2
    status=1
  fi
done
exit $status
