#!/usr/bin/env bash
# Install the Postgres server binaries the tests start a throwaway cluster from
# (tests/postgres.py). Idempotent; installs only, never starts a server.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
   && compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
  echo "postgres: server binaries present ($(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' '))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Debian's package starts a cluster on install where an init system runs; the
# policy-rc.d answer 101 ("action not allowed") keeps it from doing so.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

$SUDO apt-get update -qq
if apt-cache show postgresql-15 >/dev/null 2>&1; then
  package=postgresql-15
else
  package=postgresql
fi
echo "postgres: installing $package"
$SUDO apt-get install -y -qq --no-install-recommends "$package" >/dev/null
ls -d /usr/lib/postgresql/*/bin
