#!/bin/sh
# test_infer_resume.sh: an interrupted `galpost infer` batch resumes.  Real
# processes on a mock shard of 3000 rows (--threads 1): SIGINT after the
# first rows are recorded (polled from the progress record, not slept for),
# then the same command again gives the uninterrupted run's file byte for
# byte; so does a run killed with SIGKILL, one whose record is older than its
# rows, one stopped as it appended SAMPLES; a rerun with another setting, a
# damaged partial table or record, and a second run on the same output are
# refused and leave the partial results as they were; --restart starts over;
# an error before the resume leaves them too; a run killed after renaming the
# finished table, before removing its record, is found complete.
set -u
top=${GP_TOP_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
galpost="$top/galpost"
tmp=$(mktemp -d)
pid= pgid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; [ -n "$pgid" ] && env kill -9 -- -$pgid 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

"$galpost" model random "$tmp/p.gpw" --small --photometry --seed 4 || fail "model random"
"$galpost" mock shards -n 3000 --seed 9 --size 16 --shard-size 3000 -o "$tmp/sh" >/dev/null 2>&1 || fail "mock shards"
shard=$tmp/sh/shard-00000.fits
args="--model $tmp/p.gpw --backend cpu --threads 1 --samples 200 --keep-samples 10 --shard $shard"

# rows N in OUT's progress record (empty when there is none)
rec_rows() { sed -n 's/^rows = \([0-9]*\).*/\1/p' "$1.partial.progress" 2>/dev/null; }
# start a batch into OUT in the background (stderr in $tmp/bg.err), with
# SIGINT caught as in a terminal's foreground: the shell starts a script's
# background jobs with SIGINT ignored, and galpost keeps a signal ignored
# that it was started with (checked below)
env --default-signal=INT true 2>/dev/null || { echo "SKIP: env has no --default-signal (coreutils < 8.31)"; exit 77; }
start() { out=$1; shift; env --default-signal=INT "$galpost" infer $args "$@" -o "$out" 2>"$tmp/bg.err" & pid=$!; }
# wait until OUT's progress record counts more than MIN rows (the batch
# still running: one that ended first fails the test)
wait_rows() {
    i=0
    while :; do
        n=$(rec_rows "$1")
        [ -n "$n" ] && [ "$n" -gt "$2" ] && return 0
        kill -0 $pid 2>/dev/null || { cat "$tmp/bg.err"; fail "the batch into $1 ended before recording more than $2 rows"; }
        i=$((i + 1))
        [ $i -lt 6000 ] || fail "no progress record of more than $2 rows for $1"
        sleep 0.02
    done
}
# interrupt OUT [SIGNAL]: stop the background batch with SIGINT (or SIGNAL):
# it must say where it stopped and then die of that signal (exit status
# 128 + its number, 130 for SIGINT, as the shell reports it), so that a
# shell loop of batches stops too
interrupt() {
    sig=${2:-INT}
    kill -$sig $pid
    wait $pid; rc=$?; pid=
    case $sig in INT) want=130 ;; TERM) want=143 ;; *) fail "interrupt: signal $sig" ;; esac
    [ $rc -eq $want ] || { cat "$tmp/bg.err"; fail "batch interrupted by SIG$sig: exit $rc, not $want"; }
    n=$(rec_rows "$1")
    grep -q "interrupted after $n of 3000 rows: $1 not written; rows 1\.\.$n are kept in $1.partial" "$tmp/bg.err" \
        || { cat "$tmp/bg.err"; fail "the interrupt message does not say where it stopped"; }
    grep -q "run the same command again to resume at row $((n + 1))" "$tmp/bg.err" || fail "the interrupt message does not say how to resume"
    [ -e "$1" ] && fail "an interrupted batch wrote $1"
    [ "$n" -gt 0 ] && [ "$n" -lt 3000 ] || fail "interrupted at row '$n'"
}
# rerun the batch into OUT (extra options after): exit 0, resuming at the
# recorded row, the uninterrupted file byte for byte, no partial file left
resume() {
    o=$1; shift
    n=$(rec_rows "$o")
    "$galpost" infer $args "$@" -o "$o" 2>"$tmp/err" || { cat "$tmp/err"; fail "resume of $o"; }
    grep -q "galpost infer: resuming $o at row $((n + 1)) of 3000 (rows 1\.\.$n from an interrupted run" "$tmp/err" \
        || { cat "$tmp/err"; fail "the resume of $o does not say it resumes at row $((n + 1)) (rows from 1)"; }
    grep -q "3000 galaxies (0 failed) -> $o; resumed at row $((n + 1))" "$tmp/err" || { cat "$tmp/err"; fail "resume summary line"; }
    cmp "$o" "$tmp/full.fits" || fail "$o after interrupt and resume differs from the uninterrupted run's"
    ls "$o".partial* 2>/dev/null && fail "partial files left after the resume of $o"
    return 0
}
# offset of the first data row of the SUMMARY table of FILE
data_start() {
    end=$(head -c 100000 "$1" | fold -w 80 | grep -a -n '^END *$' | sed -n '2s/:.*//p')
    echo $(( (end * 80 + 2879) / 2880 * 2880 ))
}

# the uninterrupted run; a galaxy's result depends on the seed and its row
# only, not on the calls' size or the threads (what lets a batch resume with
# other --batch or --threads)
"$galpost" infer $args -o "$tmp/full.fits" 2>"$tmp/err" || { cat "$tmp/err"; fail "uninterrupted batch"; }
grep -q "3000 galaxies (0 failed) in" "$tmp/err" || { cat "$tmp/err"; fail "summary line"; }
"$galpost" infer $args --batch 7 --threads 2 -o "$tmp/b7.fits" 2>/dev/null || fail "batch 7"
cmp "$tmp/full.fits" "$tmp/b7.fits" || fail "--batch 7 --threads 2 gives another table than --batch 64 --threads 1"
ls "$tmp"/*.partial* 2>/dev/null && fail "a complete batch left partial files"

# SIGINT after the first rows; the same command resumes (with other
# --batch and --threads: free to differ)
start "$tmp/a.fits"
wait_rows "$tmp/a.fits" 0
interrupt "$tmp/a.fits"
[ -f "$tmp/a.fits.partial" ] && [ -f "$tmp/a.fits.partial.samples" ] || fail "the partial results were not kept"
# a rerun with another setting is refused, naming it, and changes nothing
cp "$tmp/a.fits.partial" "$tmp/keep"; cp "$tmp/a.fits.partial.samples" "$tmp/keeps"; cp "$tmp/a.fits.partial.progress" "$tmp/keepp"
n=$(rec_rows "$tmp/a.fits")
for change in "--seed 2|--seed is 1 there, 2 in this run" \
              "--samples 300|--samples is 200 there, 300 in this run" \
              "--keep-samples 5|--keep-samples is 10 there, 5 in this run"; do
    opt=${change%%|*}; msg=${change#*|}
    "$galpost" infer $args $opt -o "$tmp/a.fits" 2>"$tmp/err"; rc=$?
    [ $rc -eq 1 ] || { cat "$tmp/err"; fail "a rerun with $opt: exit $rc, not 1"; }
    grep -q "$tmp/a.fits.partial holds $n rows of an interrupted run made with other settings: $msg" "$tmp/err" \
        || { cat "$tmp/err"; fail "a rerun with $opt is not refused naming it"; }
    grep -q -- "--restart" "$tmp/err" || fail "the refusal does not say how to start over"
    [ -e "$tmp/a.fits" ] && fail "a refused rerun wrote the output"
    cmp -s "$tmp/keep" "$tmp/a.fits.partial" && cmp -s "$tmp/keeps" "$tmp/a.fits.partial.samples" \
        && cmp -s "$tmp/keepp" "$tmp/a.fits.partial.progress" || fail "a refused rerun ($opt) changed the partial results"
done
# a record written by a galpost that counted the table's rows from 0 (it has
# no set.row-numbers line) is another galpost's: refused, not mixed in.  The
# record is rewritten as that version wrote it, its FNV-1a 64 checksum
# recomputed here (bash arithmetic wraps as the C code's uint64_t does).
grep -a -q "^set.row-numbers = from 1$" "$tmp/keepp" || fail "the record has no row numbering"
fnv1a() {   # stdin -> 16 hex digits
    h=-3750763034362895579   # 0xcbf29ce484222325
    for b in $(od -An -v -tu1); do h=$(( (h ^ b) * 1099511628211 )); done
    printf '%016x' "$h"
}
body=$(grep -a -v -e "^set.row-numbers = " -e "^check = " "$tmp/keepp" | sed 's/ *$//' | grep -a -v '^$'; echo x)
body=${body%x}
printf '%s' "$body" >"$tmp/oldrec"
sum=$(fnv1a <"$tmp/oldrec")
printf 'check = %s\n' "$sum" >>"$tmp/oldrec"
size=$(wc -c <"$tmp/oldrec")
{ cat "$tmp/oldrec"; head -c $((4096 - size - 1)) /dev/zero | tr '\0' ' '; echo; } >"$tmp/a.fits.partial.progress"
[ "$(wc -c <"$tmp/a.fits.partial.progress")" -eq 4096 ] || fail "test: the rewritten record is not one page"
"$galpost" infer $args -o "$tmp/a.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "$tmp/a.fits.partial holds $n rows of an interrupted run made with other settings: the numbering of rows in the table's messages is (not recorded) there, from 1 in this run" "$tmp/err" \
    || { cat "$tmp/err"; fail "a record without row numbering: exit $rc"; }
cmp -s "$tmp/keep" "$tmp/a.fits.partial" || fail "a refused older record changed the partial results"
cp "$tmp/keepp" "$tmp/a.fits.partial.progress"
# another model (same architecture, other weights) is another model
"$galpost" model random "$tmp/p2.gpw" --small --photometry --seed 5 || fail "model random 2"
"$galpost" infer $args --model "$tmp/p2.gpw" -o "$tmp/a.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "the model (--model, by content) is" "$tmp/err" || { cat "$tmp/err"; fail "another model: exit $rc"; }
# an error before the decision to resume (the model not read again for the
# record's settings: GP_INFER_TEST_STOP makes it fail there) leaves the
# record and the partial results as they were, for the next run to resume
GP_INFER_TEST_STOP=model-read "$galpost" infer $args -o "$tmp/a.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "cannot read the model $tmp/p.gpw" "$tmp/err" || { cat "$tmp/err"; fail "a failed model read: exit $rc"; }
cmp -s "$tmp/keep" "$tmp/a.fits.partial" && cmp -s "$tmp/keeps" "$tmp/a.fits.partial.samples" \
    && cmp -s "$tmp/keepp" "$tmp/a.fits.partial.progress" || fail "an error before the resume decision changed the record or the partial results"
# ... and without a record, leaves none (nor the empty one its lock made)
GP_INFER_TEST_STOP=model-read "$galpost" infer $args -o "$tmp/e.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] || { cat "$tmp/err"; fail "a failed model read without a record: exit $rc"; }
ls "$tmp"/e.fits* 2>/dev/null && fail "a failed first run left files"
# ... the same model under another name is not
cp "$tmp/p.gpw" "$tmp/p-copy.gpw"
resume "$tmp/a.fits" --batch 50 --threads 2 --model "$tmp/p-copy.gpw"

# SIGKILL (no chance to flush): after the first record, and later on
for min in 0 1000; do
    rm -f "$tmp/k.fits"
    start "$tmp/k.fits"
    wait_rows "$tmp/k.fits" $min
    kill -9 $pid; wait $pid 2>/dev/null; pid=
    [ -e "$tmp/k.fits" ] && fail "a killed batch left $tmp/k.fits"
    resume "$tmp/k.fits"
done

# a record older than the rows (a run killed after writing rows and before
# recording them): the rows after the record are dropped, not kept twice
start "$tmp/o.fits"
wait_rows "$tmp/o.fits" 0
interrupt "$tmp/o.fits"
cp "$tmp/o.fits.partial.progress" "$tmp/old"
n1=$(rec_rows "$tmp/o.fits")
start "$tmp/o.fits"
wait_rows "$tmp/o.fits" $((n1 + 200))
interrupt "$tmp/o.fits"
cp "$tmp/old" "$tmp/o.fits.partial.progress"
resume "$tmp/o.fits"

# stopped as the finished run appended SAMPLES behind SUMMARY (before its
# rename): the appended table is dropped, the rows are resumed
start "$tmp/c.fits"
wait_rows "$tmp/c.fits" 0
interrupt "$tmp/c.fits" TERM
tail -c +2881 "$tmp/c.fits.partial.samples" >>"$tmp/c.fits.partial"
resume "$tmp/c.fits"

# damaged partial results or record: refused, nothing changed, --restart
# starts over
start "$tmp/d.fits"
wait_rows "$tmp/d.fits" 0
interrupt "$tmp/d.fits"
at=$(( $(data_start "$tmp/d.fits.partial") + 3 ))
printf 'X' | dd of="$tmp/d.fits.partial" bs=1 seek=$at conv=notrunc 2>/dev/null
cp "$tmp/d.fits.partial" "$tmp/keep"
"$galpost" infer $args -o "$tmp/d.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "cannot resume: .*d.fits.partial: its first [0-9]* rows are not the ones the progress record describes" "$tmp/err" \
    || { cat "$tmp/err"; fail "a damaged partial table: exit $rc"; }
cmp -s "$tmp/keep" "$tmp/d.fits.partial" || fail "a refused resume changed the partial table"
[ -e "$tmp/d.fits" ] && fail "a refused resume wrote the output"
grep -a -q "^set.seed = 1" "$tmp/d.fits.partial.progress" || fail "test: the record names no seed"
sed -i 's/^set.seed = 1/set.seed = 3/' "$tmp/d.fits.partial.progress"
"$galpost" infer $args -o "$tmp/d.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "d.fits.partial.progress: its checksum does not match its content" "$tmp/err" \
    || { cat "$tmp/err"; fail "a damaged progress record: exit $rc"; }
"$galpost" infer $args --restart -o "$tmp/d.fits" 2>"$tmp/err" || { cat "$tmp/err"; fail "--restart"; }
grep -q "resuming" "$tmp/err" && fail "--restart resumed"
cmp "$tmp/d.fits" "$tmp/full.fits" || fail "--restart differs from the uninterrupted run"
ls "$tmp"/d.fits.partial* 2>/dev/null && fail "partial files left after --restart"

# killed after its finished table was renamed into OUT and before its record
# was removed (GP_INFER_TEST_STOP kills it there): a rerun finds OUT complete,
# checks its rows against the record's digest, removes the record and
# computes nothing; OUT changed since, or other settings, are refused and
# change nothing
GP_INFER_TEST_STOP=after-rename "$galpost" infer $args -o "$tmp/f.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 137 ] || { cat "$tmp/err"; fail "test: GP_INFER_TEST_STOP=after-rename: exit $rc, not killed"; }
[ "$(rec_rows "$tmp/f.fits")" = 3000 ] && [ ! -e "$tmp/f.fits.partial" ] \
    || fail "test: the killed run did not leave a record of all rows beside the finished table"
cmp "$tmp/f.fits" "$tmp/full.fits" || fail "the table renamed into place differs from the uninterrupted run's"
cp "$tmp/f.fits.partial.progress" "$tmp/keepp"
"$galpost" infer $args --seed 2 -o "$tmp/f.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "$tmp/f.fits.partial.progress records that a run made with other settings finished $tmp/f.fits: --seed is 1 there, 2 in this run" "$tmp/err" \
    || { cat "$tmp/err"; fail "a finished run's record with other settings: exit $rc"; }
cmp -s "$tmp/keepp" "$tmp/f.fits.partial.progress" && cmp -s "$tmp/full.fits" "$tmp/f.fits" \
    || fail "a refused rerun (other settings) changed the record or the table"
at=$(( $(data_start "$tmp/f.fits") + 3 ))
printf 'X' | dd of="$tmp/f.fits" bs=1 seek=$at conv=notrunc 2>/dev/null
cp "$tmp/f.fits" "$tmp/keep"
"$galpost" infer $args -o "$tmp/f.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "$tmp/f.fits.partial.progress records a finished run of all 3000 rows of $tmp/f.fits, but $tmp/f.fits does not hold them: .*digest differs" "$tmp/err" \
    || { cat "$tmp/err"; fail "a finished run's record beside a changed table: exit $rc"; }
cmp -s "$tmp/keepp" "$tmp/f.fits.partial.progress" && cmp -s "$tmp/keep" "$tmp/f.fits" \
    || fail "a refused rerun (changed table) changed the record or the table"
cp "$tmp/full.fits" "$tmp/f.fits"
ino=$(ls -i "$tmp/f.fits")
"$galpost" infer $args -o "$tmp/f.fits" 2>"$tmp/err" || { cat "$tmp/err"; fail "a rerun after a kill between the rename and the record's removal"; }
grep -q "$tmp/f.fits is already complete: its 3000 rows (0 failed) are the ones $tmp/f.fits.partial.progress records for these settings" "$tmp/err" \
    || { cat "$tmp/err"; fail "the rerun does not say that the table is complete"; }
grep -q "galaxies/s" "$tmp/err" && { cat "$tmp/err"; fail "the rerun computed the table again"; }
[ "$(ls -i "$tmp/f.fits")" = "$ino" ] && cmp -s "$tmp/full.fits" "$tmp/f.fits" || fail "the rerun replaced or changed the complete table"
ls "$tmp"/f.fits.partial* 2>/dev/null && fail "the stale record was not removed"

# one run at a time on an output: a second is refused while the first runs
start "$tmp/l.fits"
wait_rows "$tmp/l.fits" 0
"$galpost" infer $args -o "$tmp/l.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "another galpost infer is writing $tmp/l.fits" "$tmp/err" || { cat "$tmp/err"; fail "a second run: exit $rc"; }
wait $pid || { cat "$tmp/bg.err"; fail "the first run failed beside a refused second"; }
pid=
cmp "$tmp/l.fits" "$tmp/full.fits" || fail "the first run's file differs"

# --catalog (a CSV with a failed row): the failed count is carried over
tocsv=$top/tests/gp_test_table_csv
"$tocsv" "$shard" | awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } NR == 3 { $(c["modelMag_r"]) = "null" } { print }' \
    >"$tmp/cat.csv" || fail "gp_test_table_csv"
args="--model $tmp/p.gpw --backend cpu --threads 1 --samples 200 --catalog $tmp/cat.csv"
"$galpost" infer $args -o "$tmp/full.fits" 2>"$tmp/err" || { cat "$tmp/err"; fail "catalogue batch"; }
grep -q "3000 galaxies (1 failed) in" "$tmp/err" || { cat "$tmp/err"; fail "catalogue summary line"; }
start "$tmp/cat.fits"
wait_rows "$tmp/cat.fits" 0
interrupt "$tmp/cat.fits"
n=$(rec_rows "$tmp/cat.fits")
# the catalogue is compared by content
printf '# a comment\n' >>"$tmp/cat.csv"
"$galpost" infer $args -o "$tmp/cat.fits" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "the input's content is .* there, .* in this run" "$tmp/err" || { cat "$tmp/err"; fail "a changed catalogue: exit $rc"; }
sed -i '$d' "$tmp/cat.csv"
"$galpost" infer $args -o "$tmp/cat.fits" 2>"$tmp/err" || { cat "$tmp/err"; fail "catalogue resume"; }
grep -q "3000 galaxies (1 failed) -> $tmp/cat.fits; resumed at row $((n + 1))" "$tmp/err" || { cat "$tmp/err"; fail "catalogue resume summary"; }
cmp "$tmp/cat.fits" "$tmp/full.fits" || fail "the resumed catalogue batch differs"

# a batch started with SIGINT ignored (a script's background job, trap '')
# keeps ignoring it: SIGINT during the run changes nothing, the table is the
# uninterrupted one; SIGTERM still stops it
(trap '' INT; exec "$galpost" infer $args -o "$tmp/ign.fits" 2>"$tmp/bg.err") & pid=$!
wait_rows "$tmp/ign.fits" 0
kill -INT $pid
wait $pid; rc=$?; pid=
[ $rc -eq 0 ] || { cat "$tmp/bg.err"; fail "a batch started with SIGINT ignored: exit $rc after SIGINT, not 0"; }
cmp "$tmp/ign.fits" "$tmp/full.fits" || fail "a batch that ignored SIGINT wrote another table"
grep -q interrupted "$tmp/bg.err" && { cat "$tmp/bg.err"; fail "a batch started with SIGINT ignored says it was interrupted"; }
(trap '' INT; exec "$galpost" infer $args -o "$tmp/ign2.fits" 2>"$tmp/bg.err") & pid=$!
wait_rows "$tmp/ign2.fits" 0
kill -INT $pid
kill -TERM $pid
wait $pid; rc=$?; pid=
[ $rc -eq 143 ] && grep -q "interrupted after" "$tmp/bg.err" \
    || { cat "$tmp/bg.err"; fail "a batch started with SIGINT ignored: SIGTERM gave exit $rc, not 143 after a clean stop"; }
rm -f "$tmp"/ign2.fits*

# Ctrl-C in a shell loop over batches: the terminal sends SIGINT to the
# whole foreground process group, and bash stops the loop only when its
# child died of the signal (an exit status of 1 reads as "the child
# handled it": the loop went on to the next batch).  The loop runs in a
# session of its own, SIGINT not ignored (this script's background jobs
# start with it ignored).
if command -v bash >/dev/null && command -v setsid >/dev/null && env --default-signal=INT true 2>/dev/null; then
    : >"$tmp/bg.err"
    env --default-signal=INT setsid bash -c 'for o in "$1/loop-a.fits" "$1/loop-b.fits"; do
            "$2" infer $3 -o "$o" 2>>"$1/bg.err"; echo "after $o" >>"$1/loop.log"; done' loop "$tmp" "$galpost" "$args" &
    pid=$! pgid=$!
    wait_rows "$tmp/loop-a.fits" 0
    env kill -INT -- -$pid
    wait $pid; rc=$?; pid= pgid=
    [ -e "$tmp/loop.log" ] && { cat "$tmp/loop.log"; fail "the loop went on after Ctrl-C"; }
    [ -e "$tmp/loop-b.fits.partial.progress" ] && fail "the loop started its next batch after Ctrl-C"
    [ $rc -eq 130 ] || fail "the loop's shell exited $rc after Ctrl-C, not 130"
    grep -q "interrupted after .* rows: $tmp/loop-a.fits not written" "$tmp/bg.err" || { cat "$tmp/bg.err"; fail "the looped batch's interrupt message"; }
else
    echo "(no bash, setsid or env --default-signal: the shell-loop check is left out)"
fi
echo "PASS"
