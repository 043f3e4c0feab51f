#!/bin/sh
# test_man_galpostd_example.sh: galpostd(1)'s EXAMPLES script, pasted as it
# is into a shell, works: the galaxy is inferred and its summary printed.
# The block is taken from the page as man renders it (mandoc), with only
# the installed paths (@pkgdatadir@) pointed at this tree's model and
# analysis file, and run under a private Xvfb and XPA name server: galpostd
# detaches, DS9 starts in the background, and the requests follow at once,
# as a pasted block sends them.  The example once asked galpostd before
# DS9 answered ("DS9 'ds9' is not answering") and read the job before it
# ended.  Skipped without mandoc, DS9 or Xvfb.
. "${GP_TOP_SRCDIR:-$(dirname "$0")/..}/tests/ds9_lib.sh"
need ds9 Xvfb xpaset xpaget xpaaccess mandoc

# the literal block of EXAMPLES, with this tree's files for the installed ones
sed -e "s|@pkgdatadir@/galpost-photometry.gpw|$S/weights/galpost-photometry.gpw|g" \
    -e "s|@pkgdatadir@/galpost.ans|$S/analysis/galpost.ans|g" \
    "$S/man/galpostd.1.in" >"$WORK/galpostd.1"
sed -n '/^\.Sh EXAMPLES/,/^\.Sh SEE/p' "$WORK/galpostd.1" | grep '@pkgdatadir@' \
    && fail "the example names an installed file this test does not map (above)"
mandoc -T ascii -O width=200 "$WORK/galpostd.1" 2>/dev/null | col -bx >"$WORK/page" || fail "mandoc"
awk '/^EXAMPLES/ { ex = 1; next } /^[A-Z]/ { ex = 0 } ex && /^          *[^ ]/ { sub(/^       /, ""); print }' \
    "$WORK/page" | sed 's/^ *//' >"$WORK/example.sh"
grep -q '^galpostd ' "$WORK/example.sh" && grep -q '^xpaget galpost summary json' "$WORK/example.sh" \
    || fail "no galpostd ... xpaget galpost summary json script in EXAMPLES: $(cat "$WORK/example.sh")"
echo "--- the example"; cat "$WORK/example.sh"

# the block as a user pastes it, in a directory of its own; galpost and
# galpostd from this build; DS9's pid and galpostd's (it detaches) kept to
# stop them
start_xvfb
mkdir "$WORK/run"
sed -e 's|&$|\& echo $! >"$WORK/ds9.pid"|' "$WORK/example.sh" >"$WORK/run.sh"
grep -q 'ds9.pid' "$WORK/run.sh" || fail "the example starts no program in the background (DS9 &)"
(cd "$WORK/run" && PATH=$B:$PATH WORK=$WORK sh "$WORK/run.sh" >"$WORK/out" 2>"$WORK/err" </dev/null)
rc=$?
[ -s "$WORK/ds9.pid" ] && remember "$(cat "$WORK/ds9.pid")"
gpid=$(xpaget galpost status 2>/dev/null | sed -n 's/^pid: //p')
[ -n "$gpid" ] && remember "$gpid"
[ $rc -eq 0 ] || fail "the example exited $rc: $(tail -5 "$WORK/err")"
out=$(cat "$WORK/out")
contains "$out" "a done #1" "the example's request is done when it reads the job"
contains "$out" '"colours": "catalogue ' "its summary json holds the result (catalogue colours)"
contains "$out" '"lgm_tot_p50": {' "its summary json has the stellar mass"
echo "PASS: $TEST"
