#!/bin/sh
# test_man_prefix.sh: the installed man pages name the files where this
# build installs them.  galpostd(1) lists the analysis file, its script and
# the photometry-only model under $(pkgdatadir); the pages said
# /usr/local/share/galpost whatever --prefix was.  A throw-away build
# configured with another --prefix installs its man pages (only them) into
# a temporary tree: the page names the files under that prefix, never under
# /usr/local, and keeps no @...@ placeholder.  This build's own page names
# its $(pkgdatadir) (GP_PKGDATADIR, from make check).
set -u
top=${GP_TOP_BUILDDIR:?GP_TOP_BUILDDIR is not set (run through make check)}
T=$(mktemp -d "${TMPDIR:-/tmp}/gp_man_prefix.XXXXXX") || exit 99
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# this build's page
if [ -n "${GP_PKGDATADIR:-}" ]; then
    grep -q -F "$GP_PKGDATADIR/galpost.ans" "$top/man/galpostd.1" \
        || fail "$top/man/galpostd.1 does not name $GP_PKGDATADIR/galpost.ans"
fi

# a build for another prefix (configure and the man pages only: nothing is
# compiled), from a copy of the distributed sources: configure refuses a
# source directory that is configured itself, as the README's in-tree build is
make -s -C "$top" distdir distdir="$T/src" >"$T/distdir.out" 2>&1 \
    || fail "make distdir: $(tail -5 "$T/distdir.out")"
p=$T/opt/gp
mkdir "$T/b" || exit 99
(cd "$T/b" && "$T/src/configure" --prefix="$p" --with-cuda=no >"$T/configure.out" 2>&1) \
    || fail "configure --prefix=$p: $(tail -5 "$T/configure.out")"
make -s -C "$T/b" install-man >"$T/make.out" 2>&1 || fail "make install-man: $(tail -5 "$T/make.out")"
page=$p/share/man/man1/galpostd.1
[ -s "$page" ] || fail "no $page installed: $(find "$p" -type f | head -5)"
for f in galpost.ans galpost-ds9 galpost-photometry.gpw; do
    grep -q -F "$p/share/galpost/$f" "$page" || fail "the installed galpostd(1) does not name $p/share/galpost/$f"
done
grep -n '/usr/local' "$page" && fail "the installed galpostd(1) names /usr/local"
grep -n '@[a-z_]*@' "$page" && fail "the installed galpostd(1) keeps a placeholder"
# every page is installed
for m in galpost.1 galpost-mock.1 galpostd.1; do
    [ -s "$p/share/man/man1/$m" ] || fail "$m not installed"
done
exit 0
