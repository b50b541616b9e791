#!/usr/bin/env bash
# make release-verify: builds the release twice, into $DIST (default dist/,
# kept: it is the release) and a temporary directory, and compares their
# SHA256SUMS: a release must be byte-for-byte reproducible.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
a=${DIST:-dist} b=$(mktemp -d)
trap 'rm -rf "$b"' EXIT
# One version for both: a commit in between must not count as a difference.
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
export VERSION
DIST="$a" ./scripts/release.sh >/dev/null
# The second build ignores the build cache (-a): every package compiled again.
DIST="$b" GOFLAGS="${GOFLAGS:-} -a" ./scripts/release.sh >/dev/null
if ! diff "$a/SHA256SUMS" "$b/SHA256SUMS"; then
	echo "release-verify: the two builds differ" >&2
	exit 1
fi
echo "release-verify: two builds, identical checksums:"
cat "$a/SHA256SUMS"
