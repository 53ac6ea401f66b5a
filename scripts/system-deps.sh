#!/usr/bin/env bash
# Install the optional system packages listed in system-packages.txt (Debian names).
#
#   scripts/system-deps.sh [LIST]      (default LIST: system-packages.txt)
#
# As root with apt-get: installs what is missing (one `apt-get update` first).
# Otherwise: prints what is missing and the command to install it; exits 1 only
# when CI=true (a CI run must not pass with a part of the course missing).
# An empty list (only comments) is a quick no-op.
set -euo pipefail

list="${1:-system-packages.txt}"
if [[ ! -f "$list" ]]; then
    echo "system-deps: $list not found, nothing to install"
    exit 0
fi

# Package names: strip comments and blanks.
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$list")
if [[ ${#wanted[@]} -eq 0 ]]; then
    exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "system-deps: cannot check system packages here (no dpkg); make sure these are installed:"
    printf '  %s\n' "${wanted[@]}"
    echo "  (macOS with Homebrew: brew install redis chromium node, as needed)"
    exit 0
fi

missing=()
for pkg in "${wanted[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "system-deps: all ${#wanted[@]} system packages present (${wanted[*]})"
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    log="$(mktemp)"
    trap 'rm -f "$log"' EXIT
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log"
        echo "system-deps: apt-get failed to install ${missing[*]} (output above)"
        exit 1
    fi
    echo "system-deps: installed ${missing[*]}"
    exit 0
fi

echo "system-deps: missing system packages: ${missing[*]}"
echo "  install them with: sudo apt-get update && sudo apt-get install ${missing[*]}"
if [[ "${CI:-}" == "true" ]]; then
    echo "system-deps: CI=true and packages are missing: failing"
    exit 1
fi
echo "  (the course runs without them until a module needs them; make doctor tells more)"
