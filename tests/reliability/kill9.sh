#!/bin/bash
# kill9.sh - kill -9 at random points of a compile (issue 12): the output is always the
# previous database or the complete new one, kb-compile --verify finds it intact, and nothing
# else is left in the folder (a kill between linkat and rename, two system calls apart, leaves
# the named file, which the next compile into the folder must remove). Then the fallback's named temporary files: one whose compile is
# gone (no lock on it) is removed by the next compile into the folder, one whose compile still
# runs (locked) is kept.
#   kill9.sh KB_COMPILE [KILLS]      (KILLS: 20, or 200 with KB_SOAK=1)
set -u
KBC=$1
KILLS=${2:-20}
[ -n "${KB_SOAK:-}" ] && KILLS=$((KILLS * 10))
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kb-kill9.XXXXXX")
holder=
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; rm -rf "$WORK"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Two knowledge bases of foreign Markdown, big enough to keep the compiler busy for a moment.
for kb in a b; do
    mkdir -p "$WORK/$kb"
    awk -v dir="$WORK/$kb" -v kb="$kb" 'BEGIN { for (i = 0; i < 500; i++) {
        f = sprintf("%s/page-%05d.md", dir, i)
        printf "# Page %d of %s\n\n", i, kb > f
        for (j = 0; j < 30; j++) printf "Paragraph %d with words %s%d beta%d gamma.\n\n", j, kb, i * j, j > f
        close(f) } }'
done
mkdir "$WORK/out"
out=$WORK/out/kb.db
start=$(date +%s%N)
"$KBC" --quiet "$WORK/b" -o "$WORK/b.db" || { echo "compile of b failed"; exit 1; }
ms=$((($(date +%s%N) - start) / 1000000))
"$KBC" --quiet "$WORK/a" -o "$out" || { echo "compile of a failed"; exit 1; }
cp "$out" "$WORK/a.db"

killed=0 finished=0 named=0
for i in $(seq 1 "$KILLS"); do
    "$KBC" --quiet "$WORK/b" -o "$out" 2>/dev/null &
    pid=$!
    # a random point of the compile: scanning, parsing, building, self-testing, writing
    delay=$((RANDOM % (ms + 50)))
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); else finished=$((finished + 1)); fi
    wait "$pid" 2>/dev/null
    if cmp -s "$out" "$WORK/a.db"; then
        :
    elif cmp -s "$out" "$WORK/b.db"; then
        cp "$WORK/a.db" "$out" # back to the previous one for the next kill
    else
        fail "after kill $i (at ${delay} ms) the output is neither the previous nor the new database"
        cp "$WORK/a.db" "$out"
    fi
    left=$(ls -A "$WORK/out" | grep -v '^kb.db$')
    if [ -n "$left" ] && [ -z "$(printf '%s\n' "$left" | grep -v '^kb\.db\.tmp-')" ]; then
        # killed in the two system calls between naming the file (linkat) and renaming it:
        # the name is the fallback's, unlocked now, and the next compile into the folder
        # must remove it
        named=$((named + 1))
        "$KBC" --quiet "$WORK/a" -o "$out" 2>/dev/null || fail "compile after kill $i"
        left=$(ls -A "$WORK/out" | grep -v '^kb.db$')
    fi
    [ -z "$left" ] || fail "after kill $i (at ${delay} ms) left behind: $left"
done
"$KBC" --verify "$out" >/dev/null || fail "kb-compile --verify after the kills"
echo "kill -9 sent $killed times (the compile had finished $finished times; a compile takes about ${ms} ms);" \
    "$named killed between naming and renaming, their file removed by the next compile"
[ "$killed" -gt 0 ] || fail "no compile was killed"

# Named temporary files (where the file system has no unnamed ones): the one whose owner is
# gone goes, the one still locked stays until its owner is gone.
echo stale >"$out.tmp-gone01"
echo busy >"$out.tmp-busy01"
# the lock is held by the sleep that flock runs (it inherits the locked file): stopped by PID
flock "$out.tmp-busy01" sh -c "echo \$\$ >'$WORK/holder'; exec sleep 60" &
for _ in $(seq 1 100); do
    [ -s "$WORK/holder" ] && break
    sleep 0.05
done
holder=$(cat "$WORK/holder")
"$KBC" --quiet "$WORK/a" -o "$out" || fail "compile with stale temporary files"
[ -e "$out.tmp-gone01" ] && fail "a temporary file whose compile is gone was not removed"
[ -e "$out.tmp-busy01" ] || fail "a temporary file still locked by its compile was removed"
kill "$holder" 2>/dev/null
wait 2>/dev/null
holder=
"$KBC" --quiet "$WORK/a" -o "$out" || fail "compile after the holder is gone"
[ -e "$out.tmp-busy01" ] && fail "the temporary file of a compile now gone was not removed"

[ "$failures" -eq 0 ] && echo ok || echo "$failures failure(s)"
[ "$failures" -eq 0 ]
