#!/usr/bin/env bash
# The Debian package (scripts/package.sh): builds it (incrementally), then checks what an operator gets:
# dpkg-deb --info (name, version, dependencies without the Swift toolchain) and --contents (binary, unit,
# /etc/nat64d/nat64d.toml as a conffile, man pages, shell completions, changelog), the extracted binary
# running `--version` and `check-config` on the packaged sample with the toolchain hidden (env -i, no
# /opt/swift in its library path or RUNPATH), `systemd-analyze verify` on the packaged unit, and the bash
# completion. Prints one line per check, then `N passed, N failed`. Run as root (systemd-analyze). A clean
# release build takes several minutes; later runs rebuild only what changed.
#
#   scripts/package-test.sh
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/netns-lib.sh
source "$SCRIPT_DIR/netns-lib.sh"
# shellcheck source=scripts/netns-checks.sh
source "$SCRIPT_DIR/netns-checks.sh"
netns_preflight package-test dpkg-deb systemd-analyze ldd readelf gzip

CMD_TIMEOUT=${PACKAGE_BUILD_TIMEOUT:-3000}
netns_init_workdir
W=$NETNS_WORKDIR
DEB=
ROOT=$W/root

check_builds() {
    local out start=$SECONDS
    out=$(timeout "$CMD_TIMEOUT" bash "$SCRIPT_DIR/package.sh" 2>"$W/package.log") ||
        { DETAIL="package.sh failed: $(oneline "$(tail -5 "$W/package.log")")"; return 1; }
    DEB=$(tail -n 1 <<<"$out")
    [[ -f $DEB ]] || { DETAIL="no package at '$DEB'"; return 1; }
    printf '[package] built %s in %ss\n' "$(basename "$DEB")" "$((SECONDS - start))" >&2
    mkdir -p "$ROOT"
    dpkg-deb -x "$DEB" "$ROOT"
    dpkg-deb -e "$DEB" "$ROOT/DEBIAN"
}
check "scripts/package.sh builds a .deb" check_builds
[[ -n $DEB ]] || SKIP_REASON="no package was built"

check_info() {
    local info
    info=$(dpkg-deb --info "$DEB" 2>&1) || { DETAIL="dpkg-deb --info: $(oneline "$info")"; return 1; }
    grep -q '^ Package: nat64d$' <<<"$info" || { DETAIL="no Package: nat64d"; return 1; }
    grep -Eq '^ Version: [0-9]+\.[0-9]+\.[0-9]+' <<<"$info" || { DETAIL="no version"; return 1; }
    grep -Eq '^ Depends: .*libnl-route-3' <<<"$info" && grep -Eq '^ Depends: .*libpcap' <<<"$info" ||
        { DETAIL="Depends lacks libnl-route-3 or libpcap: $(oneline "$(grep Depends <<<"$info")")"; return 1; }
    if grep -Eiq '^ Depends: .*swift' <<<"$info"; then DETAIL="depends on a Swift package"; return 1; fi
}
check "dpkg-deb --info: name, version, Debian dependencies only" check_info

check_contents() {
    local contents path
    contents=$(dpkg-deb --contents "$DEB" 2>&1) || { DETAIL="dpkg-deb --contents failed"; return 1; }
    for path in ./usr/sbin/nat64d ./lib/systemd/system/nat64d.service ./etc/nat64d/nat64d.toml \
        ./usr/share/man/man1/nat64d.1.gz ./usr/share/man/man1/nat64d.run.1.gz \
        ./usr/share/bash-completion/completions/nat64d ./usr/share/zsh/vendor-completions/_nat64d \
        ./usr/share/fish/vendor_completions.d/nat64d.fish \
        ./usr/share/doc/nat64d/changelog.Debian.gz ./usr/share/doc/nat64d/copyright; do
        grep -q " $path\$" <<<"$contents" || { DETAIL="$path missing"; return 1; }
    done
    [[ $(cat "$ROOT/DEBIAN/conffiles") == /etc/nat64d/nat64d.toml ]] ||
        { DETAIL="conffiles: $(oneline "$(cat "$ROOT/DEBIAN/conffiles")")"; return 1; }
    grep -q ' root/root ' <<<"$contents" || { DETAIL="files not owned by root"; return 1; }
}
check "dpkg-deb --contents: binary, unit, conffile, man pages, completions, changelog" check_contents

check_no_toolchain() {
    local out
    out=$(ldd "$ROOT/usr/sbin/nat64d" 2>&1)
    if grep -q '/opt/swift\|not found\|libswift' <<<"$out"; then DETAIL="ldd: $(oneline "$out")"; return 1; fi
    out=$(readelf -d "$ROOT/usr/sbin/nat64d" 2>&1)
    if grep -E 'R(UN)?PATH' <<<"$out" | grep -q '/'; then
        DETAIL="a RUNPATH names a directory: $(oneline "$(grep PATH <<<"$out")")"
        return 1
    fi
}
check "the binary links no Swift toolchain library and no RUNPATH names a directory" check_no_toolchain

check_runs_without_toolchain() {
    local out version
    version=$(dpkg-deb --field "$DEB" Version)
    out=$(env -i PATH=/usr/bin:/bin "$ROOT/usr/sbin/nat64d" --version 2>&1) ||
        { DETAIL="--version failed: $(oneline "$out")"; return 1; }
    [[ $out == "$version" ]] || { DETAIL="--version printed '$out', the package is $version"; return 1; }
    out=$(env -i PATH=/usr/bin:/bin "$ROOT/usr/sbin/nat64d" check-config "$ROOT/etc/nat64d/nat64d.toml" 2>&1) ||
        { DETAIL="check-config of the packaged sample: $(oneline "$out")"; return 1; }
}
check "the extracted binary runs --version and check-config with the toolchain hidden (env -i)" check_runs_without_toolchain

check_unit() {
    local unit=$W/nat64d.service out
    grep -q '^ExecStart=/usr/sbin/nat64d run --config /etc/nat64d/nat64d.toml$' "$ROOT/lib/systemd/system/nat64d.service" ||
        { DETAIL="the packaged unit does not start /usr/sbin/nat64d with /etc/nat64d/nat64d.toml"; return 1; }
    # systemd-analyze wants the ExecStart binary to exist: point it at the extracted one.
    sed "s#/usr/sbin/nat64d#$ROOT/usr/sbin/nat64d#g" "$ROOT/lib/systemd/system/nat64d.service" >"$unit"
    out=$(systemd-analyze verify "$unit" 2>&1) || { DETAIL="$(oneline "$out")"; return 1; }
    [[ -z $out ]] || { DETAIL="systemd-analyze warns: $(oneline "$out")"; return 1; }
}
check "systemd-analyze verify passes on the packaged unit" check_unit

check_man() {
    local page
    page=$(gzip -dc "$ROOT/usr/share/man/man1/nat64d.1.gz")
    grep -q '^\.Dt NAT64D 1' <<<"$page" && grep -q 'nat64d.check-config 1' <<<"$page" ||
        { DETAIL="nat64d.1 has no .Dt NAT64D 1 header or does not refer to nat64d.check-config(1)"; return 1; }
    gzip -dc "$ROOT/usr/share/man/man1/nat64d.run.1.gz" | grep -q '^\.It Fl c , -config' ||
        { DETAIL="nat64d.run.1 does not document --config"; return 1; }
}
check "man pages generated from the argument parser" check_man

# The packaged bash completion, sourced as bash-completion would, completes "nat64d c" to the two
# subcommands that start with c.
check_completion() {
    local out
    out=$(bash -c 'source "$1"; COMP_LINE="nat64d c"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(nat64d c)
        COMP_CWORD=1; _nat64d nat64d c nat64d; printf "%s\n" "${COMPREPLY[@]}" | sort' _ \
        "$ROOT/usr/share/bash-completion/completions/nat64d" 2>&1)
    [[ $out == $'check-config\nctl' ]] || { DETAIL="completions of 'nat64d c': $(oneline "$out")"; return 1; }
}
check "bash completion of subcommands" check_completion

netns_checks_done
