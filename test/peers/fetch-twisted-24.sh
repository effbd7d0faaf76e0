#!/usr/bin/env bash
# Fetches Twisted 24.11 from Debian trixie, as a second real peer beside bookworm's Twisted 22.4,
# without touching the system: apt's own client with a private sources list, lists and cache,
# then `dpkg -x` of each package into .cache/twisted-24.11/. Use it with
#   PYTHONPATH=.cache/twisted-24.11/usr/lib/python3/dist-packages /usr/bin/python3 ...
# Only the pure-Python packages that bookworm's are too old for are taken from trixie; the compiled
# ones (zope.interface, cryptography) and pyOpenSSL, which must match that cryptography, stay
# bookworm's. Idempotent: a cache whose Twisted imports as 24.11 is left alone. Prints the
# PYTHONPATH to use on its last line.
set -euo pipefail

VERSION=24.11
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# The tests look in .cache/twisted-24.11/ (test/support/twisted-peers.ts); the override is for trying
# the script elsewhere.
CACHE="${AMPSTATE_TWISTED24_CACHE:-$ROOT/.cache/twisted-$VERSION}"
SITE="$CACHE/usr/lib/python3/dist-packages"
PYTHON=/usr/bin/python3
MIRROR=http://deb.debian.org/debian
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# Twisted 24.11 needs automat >= 24.8, incremental >= 24.7 and typing_extensions (bookworm has
# automat 22.10, incremental 21.3 and no typing_extensions); attrs, constantly and hyperlink come
# along so that every pure-Python dependency is the one trixie tested Twisted with.
PACKAGES=(python3-twisted python3-automat python3-incremental python3-typing-extensions python3-attr python3-constantly python3-hyperlink)

installed_version() {
  PYTHONPATH="$SITE" "$PYTHON" -c 'import twisted, twisted.trial._dist.workertrial, automat, incremental; print(twisted.__version__)' 2>/dev/null || true
}

case "$(installed_version)" in
  "$VERSION".*)
    echo "$SITE"
    exit 0
    ;;
esac

[ -r "$KEYRING" ] || { echo "fetch-twisted-24: $KEYRING is missing (apt-get install debian-archive-keyring)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
echo "deb [signed-by=$KEYRING] $MIRROR trixie main" >"$work/sources.list"
# apt downloads as the unprivileged _apt user when run as root; let it write there.
if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then chown -R _apt "$work/lists" "$work/debs"; chmod 755 "$work"; fi

apt=(
  -o "Dir::Etc::SourceList=$work/sources.list"
  -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache"
)
echo "fetch-twisted-24: apt-get update (trixie, private lists)" >&2
apt-get "${apt[@]}" -qq update >&2
echo "fetch-twisted-24: apt-get download ${PACKAGES[*]}" >&2
(cd "$work/debs" && apt-get "${apt[@]}" -qq download "${PACKAGES[@]/%//trixie}" >&2)

# Unpacked beside the cache and renamed into place, so a concurrent run never sees half a tree.
mkdir -p "$(dirname "$CACHE")"
fresh="$(mktemp -d "$CACHE.new-XXXXXX")"
chmod 755 "$fresh"
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$fresh"; done
rm -rf "$CACHE"
mv "$fresh" "$CACHE"

got="$(installed_version)"
case "$got" in
  "$VERSION".*) ;;
  *)
    echo "fetch-twisted-24: $SITE does not import Twisted $VERSION (got '${got:-an import error}')" >&2
    exit 1
    ;;
esac
echo "fetch-twisted-24: Twisted $got in $SITE" >&2
echo "$SITE"
