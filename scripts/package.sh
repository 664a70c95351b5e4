#!/usr/bin/env bash
# Builds the Debian package of nat64d: a release build with the Swift runtime linked in
# (--static-swift-stdlib: the binary needs no Swift toolchain, only Debian's libc, libnl and libpcap), the
# systemd unit, the sample configuration as /etc/nat64d/nat64d.toml (a conffile: an upgrade keeps local
# edits), man pages generated from the argument parser (swift-argument-parser's generate-manual plugin),
# shell completions for bash, zsh and fish (the argument parser's --generate-completion-script), a
# changelog and a copyright file. Incremental: a second run rebuilds only what changed.
#
#   scripts/package.sh                 # -> .build/package/nat64d_VERSION_ARCH.deb (path printed last)
#   PACKAGE_OUT=/tmp/pkg scripts/package.sh
#
# Needs swift, dpkg-deb, gzip (scripts/install-deps.sh). A clean release build takes several minutes.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO_ROOT"
if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then PATH=/opt/swift/usr/bin:$PATH; fi
OUT=${PACKAGE_OUT:-$REPO_ROOT/.build/package}

log() { printf '[package] %s\n' "$*" >&2; }

log "release build (--static-swift-stdlib)"
swift build -c release --static-swift-stdlib --product nat64d >&2
BIN="$(swift build -c release --static-swift-stdlib --show-bin-path)/nat64d"
VERSION=$("$BIN" version)
ARCH=$(dpkg --print-architecture)

# Man pages from the command definitions (the help text is the same in every build configuration, so the
# debug build the tests use serves): one page per subcommand, dated by the last commit.
log "man pages (swift package plugin generate-manual)"
MAN_DATE=$(git log -1 --format=%as 2>/dev/null || date +%F)
swift package plugin generate-manual --configuration debug --multi-page --date "$MAN_DATE" \
    --authors "the nat64d authors" >&2
MANUAL_DIR=$(find "$REPO_ROOT/.build/plugins" -type d -path '*GenerateManual*' -name nat64d | head -n 1)
[[ -n $MANUAL_DIR ]] && compgen -G "$MANUAL_DIR/*.1" >/dev/null ||
    { log "generate-manual wrote no man page (looked under .build/plugins)"; exit 1; }

STAGE=$OUT/nat64d_${VERSION}_$ARCH
rm -rf "$STAGE"
install -d "$STAGE/DEBIAN" "$STAGE/usr/sbin" "$STAGE/lib/systemd/system" "$STAGE/etc/nat64d" \
    "$STAGE/usr/share/man/man1" "$STAGE/usr/share/doc/nat64d" "$STAGE/usr/share/bash-completion/completions" \
    "$STAGE/usr/share/zsh/vendor-completions" "$STAGE/usr/share/fish/vendor_completions.d"
install -m 0755 "$BIN" "$STAGE/usr/sbin/nat64d"
strip --strip-unneeded "$STAGE/usr/sbin/nat64d" 2>/dev/null || true
sed 's#/usr/local/bin/nat64d#/usr/sbin/nat64d#g' contrib/systemd/nat64d.service >"$STAGE/lib/systemd/system/nat64d.service"
chmod 0644 "$STAGE/lib/systemd/system/nat64d.service"
install -m 0644 config/nat64d.toml "$STAGE/etc/nat64d/nat64d.toml"
for page in "$MANUAL_DIR"/*.1; do
    gzip -9n <"$page" >"$STAGE/usr/share/man/man1/$(basename "$page").gz"
done
# Completions where Debian's bash-completion, zsh and fish look for them.
"$BIN" --generate-completion-script bash >"$STAGE/usr/share/bash-completion/completions/nat64d"
"$BIN" --generate-completion-script zsh >"$STAGE/usr/share/zsh/vendor-completions/_nat64d"
"$BIN" --generate-completion-script fish >"$STAGE/usr/share/fish/vendor_completions.d/nat64d.fish"
chmod 0644 "$STAGE"/usr/share/bash-completion/completions/nat64d "$STAGE"/usr/share/zsh/vendor-completions/_nat64d \
    "$STAGE"/usr/share/fish/vendor_completions.d/nat64d.fish

# The changelog entry is dated by the last commit, so the same tree gives the same package.
DATE=$(git log -1 --format=%aD 2>/dev/null || date -R)
{
    printf 'nat64d (%s) unstable; urgency=medium\n\n' "$VERSION"
    printf '  * nat64d %s built from commit %s.\n\n' "$VERSION" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    printf ' -- nat64d authors <nat64d@example.org>  %s\n' "$DATE"
} | gzip -9n >"$STAGE/usr/share/doc/nat64d/changelog.Debian.gz"
cat >"$STAGE/usr/share/doc/nat64d/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: nat64d

Files: *
Copyright: the nat64d authors
License: see the nat64d source repository
COPYRIGHT

# Depends: the Debian packages holding the shared libraries the binary itself needs (its NEEDED entries,
# located by ldd), never a toolchain path.
DEPENDS=$(readelf -d "$BIN" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | while read -r needed; do
    lib=$(ldd "$BIN" | awk -v l="$needed" '$1 == l && $3 ~ /^\// { print $3 }')
    [[ -n $lib ]] || continue
    dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true
done | cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')

cat >"$STAGE/DEBIAN/control" <<CONTROL
Package: nat64d
Version: $VERSION
Architecture: $ARCH
Maintainer: nat64d authors <nat64d@example.org>
Depends: $DEPENDS
Section: net
Priority: optional
Description: NAT64/DNS64 gateway for IPv6-only networks
 nat64d translates between IPv6-only hosts and the IPv4 internet (stateful
 NAT64, RFC 6146 and RFC 7915) and synthesises AAAA records for IPv4-only
 names (DNS64, RFC 6147). It runs as a systemd service with two capabilities;
 the configuration is /etc/nat64d/nat64d.toml.
CONTROL
printf '/etc/nat64d/nat64d.toml\n' >"$STAGE/DEBIAN/conffiles"

DEB=$OUT/nat64d_${VERSION}_$ARCH.deb
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >&2
log "built $DEB"
echo "$DEB"
