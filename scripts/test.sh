#!/usr/bin/env bash
# The test command of the README: installs what the tests need (Go modules,
# Apache Kafka jars from Maven Central, Debian's ClickHouse server and PyPI's
# chDB for the ClickHouse store's tests), checks formatting and vet, then runs
# every test, the end-to-end ones against a real Apache Kafka broker included.
#
#   scripts/test.sh [go test flags and packages]   (default: ./...)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== dependencies"
go list -deps -test ./... >/dev/null  # fetches only the modules the build needs
scripts/kafka.sh fetch >/dev/null
scripts/clickhouse.sh install --zookeeper
scripts/clickhouse.sh chdb >/dev/null
scripts/install-clients.sh

echo "== gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files -co --exclude-standard -- '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

echo "== go test"
if [ $# -eq 0 ]; then
  # sluice's own changes to its copy of kfake (third_party/kfake/SLUICE.md)
  # are tested by kfake's Sluice* tests; the copy is a module of its own,
  # outside ./...
  go test -count=1 -timeout 10m -run Sluice github.com/twmb/franz-go/pkg/kfake
  set -- ./...
fi
go test -count=1 -timeout 30m "$@"
