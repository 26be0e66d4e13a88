#!/bin/sh
# The .deb as a Debian user gets it: 'cpack -G DEB' builds it; it is installed with dpkg -i into
# a clean Debian 12 (minbase) chroot, where kb-lookup answers, kb-compile runs, 'man -w' finds
# the pages, the bash completion offers ids and libkb is in the linker's cache; 'dpkg -r' then
# leaves nothing of it behind.
#
# The chroot is made once by debootstrap from the mirror this machine's apt sources name (or
# KB_DEB_MIRROR), with only man-db and the package's Depends added (no recommends), and kept as
# a tarball in the build folder: later runs unpack it in a second. Exit 77 (skipped) when not
# root, when debootstrap or dpkg-shlibdeps (dpkg-dev) is missing, in a sanitizer build, or when
# no mirror is known.
# Usage: deb.sh BUILD_DIR SANITIZE(ON/OFF)
set -eu
build=$(cd "$1" && pwd)
suite=${KB_DEB_SUITE:-bookworm}
text='535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.'

skip() { echo "skipped: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg -i into a chroot)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (apt-get install debootstrap)"
command -v dpkg-shlibdeps >/dev/null || skip "dpkg-shlibdeps is not installed (apt-get install dpkg-dev)"
case $2 in ON | on | 1 | TRUE | true) skip "sanitizer build: packages are made from a normal build" ;; esac

# The first URI of this machine's apt sources that carries $suite (one-line or deb822 format).
apt_mirror() {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [options] URI SUITE COMPONENTS...
        awk -v suite="$suite" '{ line = $0; sub(/\[[^]]*\]/, "", line); split(line, w) }
            w[1] == "deb" && w[3] == suite { print w[2]; exit }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$suite" '
            function flush() { if (deb && on && has && uri != "") { print uri; exit } deb = 0; on = 1; has = 0; uri = "" }
            BEGIN { on = 1 }
            /^[ \t]*$/ { flush(); next }
            tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
            tolower($1) == "enabled:" { on = (tolower($2) != "no") }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) has = 1 }
            END { flush() }' "$f"
    done
}
mirror=${KB_DEB_MIRROR:-$(apt_mirror | head -n 1)}
[ -n "$mirror" ] || skip "no apt source for $suite in /etc/apt (set KB_DEB_MIRROR)"

work=$build/deb-test
root=$work/root
mkdir -p "$work"
cleanup() { rm -rf "$root" "$work/pkg"; }
trap cleanup EXIT
cleanup

echo "== cpack -G DEB"
(cd "$build" && cpack -G DEB -B "$work/pkg" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; exit 1; }
deb=$(ls "$work"/pkg/kb_*.deb)
dpkg-deb -f "$deb" Package Version Architecture Depends Installed-Size
depends=$(dpkg-deb -f "$deb" Depends)
# Depends: "libc6 (>= 2.34), libpcre2-8-0 (>= 10.32)" -> "libc6,libpcre2-8-0" (first alternative)
include=$(echo "man-db, $depends" | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' |
    sed '/^$/d' | sort -u | paste -sd, -)

tarball=$work/$suite-minbase-$(echo "$suite $mirror $include" | cksum | cut -d' ' -f1).tar
if [ ! -f "$tarball" ]; then
    echo "== debootstrap --variant=minbase --include=$include $suite (once; cached as $tarball)"
    start=$(date +%s)
    mkdir -p "$root"
    if ! debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" \
        >"$work/debootstrap.log" 2>&1; then
        tail -n 20 "$work/debootstrap.log"
        exit 1
    fi
    rm -f "$root"/var/cache/apt/archives/*.deb
    tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    echo "debootstrap took $(($(date +%s) - start)) s"
    rm -rf "$root"
fi
mkdir -p "$root"
tar -C "$root" -xf "$tarball"

in_root() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 chroot "$root" "$@"; }
# Every path in the chroot but the package manager's own records, logs and caches.
snapshot() {
    (cd "$root" && find . -xdev \( -path ./var/lib/dpkg -o -path ./var/log -o -path ./var/cache \
        -o -path ./tmp -o -path ./proc \) -prune -o -print | sort)
}

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }

snapshot >"$work/before"
cp "$deb" "$root/tmp/kb.deb"
echo "== dpkg -i"
in_root dpkg -i /tmp/kb.deb >"$work/dpkg-i.log" 2>&1 && ok || { cat "$work/dpkg-i.log"; fail "dpkg -i"; }
rm -f "$root/tmp/kb.deb"

out=$(in_root kb-lookup --json "$text" 2>&1) || true
case $out in *'"id":"m365-smtp-auth-disabled"'*) ok ;; *) fail "kb-lookup in the chroot: $out" ;; esac
out=$(in_root kb-lookup --db /usr/share/kb/kb.db --top 1 "$text" 2>&1) || true
case $out in *'SMTP AUTH'*) ok ;; *) fail "kb-lookup --db /usr/share/kb/kb.db: $out" ;; esac
in_root kb-lookup --version && ok || fail "kb-lookup --version"
in_root kb-compile --version >/dev/null && ok || fail "kb-compile --version"
for page in kb-lookup 1:kb-compile 5:kb-format; do
    section=${page%%:*} name=${page#*:}
    [ "$section" = "$page" ] && section=1
    where=$(in_root man -w "$section" "$name" 2>&1) || true
    [ "$where" = "/usr/share/man/man$section/$name.$section.gz" ] && ok ||
        fail "man -w $section $name: $where"
done
out=$(in_root sh -c 'MANWIDTH=80 man kb-lookup 2>/dev/null') || true
case $out in *'--list-ids'*) ok ;; *) fail "man kb-lookup does not render: $(echo "$out" | head -5)" ;; esac
out=$(in_root bash -c '. /usr/share/bash-completion/completions/kb-lookup
    COMP_WORDS=(kb-lookup --show m365-smtp-auth-d) COMP_CWORD=2; _kb_lookup; echo "${COMPREPLY[*]}"') || true
[ "$out" = m365-smtp-auth-disabled ] && ok || fail "bash completion of --show in the chroot: '$out'"
[ -f "$root/usr/share/doc/kb/copyright" ] && ok || fail "no /usr/share/doc/kb/copyright"
# The library (issue 9): in the linker's cache after the postinst's ldconfig, its header and
# pkg-config file where compilers and pkg-config look.
in_root ldconfig -p | grep -q 'libkb\.so\.[0-9]' && ok || fail "libkb.so is not in the ldconfig cache"
[ -f "$root/usr/include/kb.h" ] && ok || fail "no /usr/include/kb.h"
[ -n "$(find "$root/usr/lib" -name kb.pc)" ] && ok || fail "no kb.pc below /usr/lib"

echo "== dpkg -r"
listed=$(in_root dpkg -L kb)
in_root dpkg -r kb >"$work/dpkg-r.log" 2>&1 && ok || { cat "$work/dpkg-r.log"; fail "dpkg -r"; }
# A package with a shared library runs ldconfig in its postrm (CPack writes it), and dpkg
# keeps the record of a package with a postrm ('config-files', nothing on disk) until a purge.
status=$(in_root dpkg-query -W -f='${db:Status-Status}' kb 2>/dev/null) || status=not-installed
case $status in not-installed | config-files) ok ;; *) fail "dpkg -r left kb in state '$status'" ;; esac
in_root dpkg --purge kb >>"$work/dpkg-r.log" 2>&1 && ok || { cat "$work/dpkg-r.log"; fail "dpkg --purge"; }
status=$(in_root dpkg-query -W -f='${db:Status-Status}' kb 2>/dev/null) || status=not-installed
[ "$status" = not-installed ] && ok || fail "dpkg --purge left kb in state '$status'"
in_root ldconfig -p | grep -q 'libkb\.so' && fail "libkb.so still in the ldconfig cache" || ok
left=$(echo "$listed" | while read -r p; do [ -f "$root$p" ] || [ -L "$root$p" ] && echo "$p"; done || true)
[ -z "$left" ] && ok || fail "files of the package left after dpkg -r: $left"
snapshot >"$work/after"
if cmp -s "$work/before" "$work/after"; then ok; else
    fail "the chroot differs from before the install:"
    diff "$work/before" "$work/after" | head -20 >&2
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
