#!/usr/bin/env bash
# make check-go-install: `go install` of the daemon as a user without a clone
# would run it, from a clean GOPATH (empty module cache: every dependency comes
# from the module proxy), against this working tree through a replace
# directive in a scratch module (the module is not published from here). It
# then runs the installed binary's `version`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
root=$(pwd)
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
export GOPATH="$tmp/gopath" GOMODCACHE="$tmp/gopath/pkg/mod" GOBIN="$tmp/bin" GOFLAGS=-mod=mod
mkdir -p "$tmp/scratch"
cd "$tmp/scratch"
"$GO" mod init example.com/scratch >/dev/null 2>&1
"$GO" mod edit -require=github.com/orgstream/orgstream@v0.0.0 -replace=github.com/orgstream/orgstream="$root"
"$GO" install github.com/orgstream/orgstream/cmd/orgstream
"$GOBIN/orgstream" version
echo "check-go-install: go install from a clean GOPATH works"
