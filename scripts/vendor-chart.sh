#!/usr/bin/env bash
# Vendors Chart.js into the Explorer page's embedded assets
# (internal/httpapi/web/vendor/): the pinned release's prebuilt UMD bundle,
# byte for byte, and its license. The page loads nothing from a CDN, so the
# file is committed; this script is how it got there and how to check it.
#
#   scripts/vendor-chart.sh          fetch the pinned release and write the files
#   scripts/vendor-chart.sh --check  fail if the committed files differ from it
#
# The tarball comes from the npm registry through `npm pack` and must match
# the integrity pinned below before anything is written. To upgrade, change
# VERSION and INTEGRITY (`npm view chart.js@X.Y.Z dist.integrity`), run the
# script, and run the Explorer browser test (e2e/explorer_browser_test.go).
set -euo pipefail
VERSION=4.5.1
INTEGRITY=sha512-GIjfiT9dbmHRiYi6Nl2yFCq7kkwdkp1W/lp2J99rX0yo9tgJGn3lKQATztIjb5tVtevcBtIdICNWqlq5+E8/Pw==
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST="$ROOT/internal/httpapi/web/vendor"

die() {
	echo "vendor-chart.sh: $*" >&2
	exit 1
}

check=false
case "${1:-}" in
"") ;;
--check) check=true ;;
*) die "unknown argument $1 (use --check or nothing)" ;;
esac

command -v npm >/dev/null && command -v node >/dev/null || die "npm and node are needed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tarball=$(cd "$tmp" && npm pack "chart.js@$VERSION" --silent --loglevel=error) || die "npm pack chart.js@$VERSION failed"
got=$(node -e 'const c = require("crypto"), fs = require("fs");
process.stdout.write("sha512-" + c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$tmp/$tarball")
[[ $got == "$INTEGRITY" ]] || die "chart.js@$VERSION tarball has integrity $got, want $INTEGRITY"
tar -xzf "$tmp/$tarball" -C "$tmp" package/dist/chart.umd.min.js package/LICENSE.md package/package.json
version=$(node -p 'require(process.argv[1]).version' "$tmp/package/package.json")
[[ $version == "$VERSION" ]] || die "the tarball holds chart.js $version, want $VERSION"

# The file names carry no version, so the page's <script> tag does not
# change on an upgrade; VERSION.chart.js says which release it is, and the
# bundle's SHA-256, which internal/httpapi's tests check the embedded file
# against (so a hand edit of the bundle fails them).
mkdir -p "$tmp/out"
cp "$tmp/package/dist/chart.umd.min.js" "$tmp/out/chart.umd.min.js"
cp "$tmp/package/LICENSE.md" "$tmp/out/chart.js.LICENSE.md"
{
	printf 'chart.js %s (npm tarball %s)\n' "$VERSION" "$INTEGRITY"
	printf 'chart.umd.min.js sha256 %s\n' "$(sha256sum "$tmp/out/chart.umd.min.js" | cut -d' ' -f1)"
} >"$tmp/out/VERSION.chart.js"

if $check; then
	for f in chart.umd.min.js chart.js.LICENSE.md VERSION.chart.js; do
		cmp -s "$tmp/out/$f" "$DEST/$f" || die "$DEST/$f differs from chart.js@$VERSION: run scripts/vendor-chart.sh"
	done
	echo "vendored chart.js $VERSION is up to date"
	exit 0
fi
mkdir -p "$DEST"
cp "$tmp/out/"* "$DEST/"
echo "vendored chart.js $VERSION into $DEST"
