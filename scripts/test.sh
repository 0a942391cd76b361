#!/usr/bin/env bash
# `npm test` after the build: the lint (`npm run lint`: type check, Prettier's format check), then
# every test in dist/test/, one file at a time. The sweep-storage tests
# need a PostgreSQL: unless $TUNEVLSEG_TEST_PG names one (or TUNEVLSEG_SKIP_PG=1 leaves those
# tests out), the local test cluster that bootstrap.sh installed is started
# (scripts/start-test-postgres.sh, idempotent) and used.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${TUNEVLSEG_TEST_PG:-}" && "${TUNEVLSEG_SKIP_PG:-}" != 1 ]]; then
  if url=$(bash scripts/start-test-postgres.sh 2>/dev/null); then
    export TUNEVLSEG_TEST_PG=$url
    echo "test: PostgreSQL for the sweep-storage tests at $url" >&2
  else
    echo "test: could not start the local PostgreSQL (scripts/start-test-postgres.sh needs Debian's postgresql and root):" \
      "set TUNEVLSEG_TEST_PG=postgres://... or TUNEVLSEG_SKIP_PG=1" >&2
  fi
fi
npm run --silent lint || { echo "test: lint failed (\`npm run format\` rewrites the files Prettier lists)" >&2; exit 1; }
exec node --test --test-concurrency=1 dist/test/
