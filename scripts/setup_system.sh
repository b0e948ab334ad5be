#!/usr/bin/env bash
# System packages the tests need: Postgres (the production store), bubblewrap (the
# sandbox's kernel isolation), Chromium (the dashboard tests), EGL/Mesa (offscreen
# MuJoCo rendering), docker-compose (to check docker-compose.yml; no engine needed).
# Idempotent: installs only what is missing.
set -euo pipefail
packages=(postgresql bubblewrap chromium libegl1 libegl-mesa0 libgl1-mesa-dri fonts-dejavu-core docker-compose)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
