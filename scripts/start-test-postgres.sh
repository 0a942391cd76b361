#!/usr/bin/env bash
# Starts Debian's PostgreSQL for the sweep-storage tests and prints the URL to export as
# TUNEVLSEG_TEST_PG (the tests read it). Idempotent.
set -euo pipefail
ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$ver main"; then
  pg_createcluster "$ver" main >/dev/null
fi
pg_ctlcluster "$ver" main start >/dev/null 2>&1 || true
for i in $(seq 1 30); do
  su postgres -c "psql -qtAc 'select 1'" >/dev/null 2>&1 && break
  sleep 1
done
su postgres -c "psql -qtAc \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='tunevlseg') THEN CREATE ROLE tunevlseg LOGIN PASSWORD 'tunevlseg' SUPERUSER; END IF; END \\\$\\\$;\"" >/dev/null
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='tunevlseg_test'\"" | grep -q 1 || su postgres -c "createdb -O tunevlseg tunevlseg_test"
port=$(pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $3}')
echo "postgres://tunevlseg:tunevlseg@127.0.0.1:${port}/tunevlseg_test"
