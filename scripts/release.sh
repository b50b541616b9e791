#!/usr/bin/env bash
# make release: static binaries of orgstream and orgstream-bench for each
# platform, one tarball per platform, a CycloneDX SBOM per binary, and
# SHA256SUMS, into $DIST (default dist/). Reproducible: the same commit gives
# the same bytes (-trimpath, no VCS stamp, no build id, fixed tar metadata
# from the commit's time, gzip without a name or time, SBOMs without a serial
# number or timestamp); `make release-verify` builds twice and compares.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO=${GO:-go}
DIST=${DIST:-dist}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
PLATFORMS=${PLATFORMS:-"linux/amd64 linux/arm64 darwin/arm64"}
CYCLONEDX=${CYCLONEDX:-github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0}
# The commit's time stamps every file in the tarballs.
EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}

rm -rf "$DIST"
mkdir -p "$DIST"
# The SBOM tool, built once for this machine; it reads each binary's
# embedded module list (the exact dependencies linked in, no git needed).
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
GOBIN="$tools" "$GO" install "$CYCLONEDX"
for p in $PLATFORMS; do
	os=${p%/*} arch=${p#*/}
	name="orgstream_${VERSION}_${os}_${arch}"
	dir="$DIST/$name"
	mkdir -p "$dir"
	for cmd in orgstream orgstream-bench; do
		CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$GO" build -trimpath -buildvcs=false \
			-ldflags "-s -w -buildid= -X main.version=$VERSION" -o "$dir/$cmd" "./cmd/$cmd"
		"$tools/cyclonedx-gomod" bin -json -noserial -notimestamp -version "$VERSION" \
			-output "$dir/$cmd.cdx.json" "$dir/$cmd" 2>/dev/null
	done
	cp LICENSE README.md CHANGELOG.md "$dir/"
	tar --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner \
		-C "$DIST" -cf - "$name" | gzip -n -9 >"$DIST/$name.tar.gz"
	for cmd in orgstream orgstream-bench; do
		cp "$dir/$cmd.cdx.json" "$DIST/${name}_$cmd.cdx.json"
	done
	rm -rf "$dir"
done
(cd "$DIST" && sha256sum -- *.tar.gz *.cdx.json >SHA256SUMS)
echo "release $VERSION in $DIST/:"
(cd "$DIST" && ls -l)
