#!/bin/sh
# Answers from docs nobody annotated (issue 7): the two foreign mail corpora of ../shared/corpora
# compiled as they are, each scored on its set of real pastes (tests/eval/fulltext-*.jsonl,
# collected blind, sources in each line) by ../shared/eval/score with --key article, beside the
# plain keyword baseline (tests/eval/keyword-baseline: every word OR'ed into FTS5, BM25 over
# the whole text) on the same set. Fails when kb-lookup's top-1 drops below its guard or does
# not beat the baseline. The held-out sets (fulltext-holdout-*.jsonl: collected blind by
# someone who never saw the engine, kept out of all tuning) are scored the same way and count
# apart. Their first score, on the engine before issue 7's retrieval: exchange 0.638 vs
# baseline 0.574, dms 0.533 vs 0.500; after it (when the guards were set): 0.702 and 0.600.
# The blind sets (fulltext-blind-*.jsonl: a second collection, blind, keeping only the texts
# from sources no other set uses) were first scored on b394593: exchange 0.833 (12 positives)
# vs baseline 0.250, dms 0.364 (22) vs baseline 0.409. Their guard does not ask to beat the
# baseline, which docker-mailserver's set does not: the figure is kept honest, not hidden.
# The third blind sets (fulltext-blind2-*.jsonl, from sources no other set uses) were scored
# once on 1d87ff0: exchange 0.625 (16 positives) vs baseline 0.500, dms 0.409 (22) vs 0.545;
# measured the same way. The fourth (fulltext-blind3-*.jsonl, likewise) were scored once on
# 4f75fde: exchange 0.571 (7 positives) vs baseline 0.571, dms 0.533 (15) vs 0.600.
# Skipped (77) where ../shared or python3 is absent.
# Usage: fulltext.sh SOURCE_DIR PATH/TO/kb-compile PATH/TO/kb-lookup WORK_DIR
set -eu
src=$1 compile=$2 lookup=$3 work=$4
score="$src/../shared/eval/score"
corpora="$src/../shared/corpora"
[ -f "$score" ] && [ -d "$corpora" ] || { echo "skipped: ../shared/eval or ../shared/corpora not found"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "skipped: python3 not installed"; exit 77; }
mkdir -p "$work"
status=0
# corpus, set, guard for kb-lookup's top-1 (the figure when this guard was set, less 0.03)
sum_o=0 sum_b=0 sum_n=0
# (a fourth word "measured": the set's top-1 is guarded but need not beat the baseline)
for spec in "ms-exchange-mailflow exchange 0.84" "docker-mailserver-docs dms 0.70" \
    "ms-exchange-mailflow holdout-exchange 0.67" "docker-mailserver-docs holdout-dms 0.57" \
    "ms-exchange-mailflow blind-exchange 0.80 measured" \
    "docker-mailserver-docs blind-dms 0.33 measured" \
    "ms-exchange-mailflow blind2-exchange 0.59 measured" \
    "docker-mailserver-docs blind2-dms 0.37 measured" \
    "ms-exchange-mailflow blind3-exchange 0.54 measured" \
    "docker-mailserver-docs blind3-dms 0.50 measured"; do
    set -- $spec
    must_beat=1
    [ "${4:-}" = measured ] && must_beat=0
    [ -f "$work/$1.db" ] && [ "$work/$1.db" -nt "$compile" ] ||
        "$compile" --quiet "$corpora/$1" -o "$work/$1.db"
    ours=$(python3 "$score" --lookup "$lookup" --db "$work/$1.db" --key article \
        "$src/tests/eval/fulltext-$2.jsonl" | tail -n 2)
    base=$(python3 "$score" --lookup "$src/tests/eval/keyword-baseline" --db "$corpora/$1" \
        --key article "$src/tests/eval/fulltext-$2.jsonl" | tail -n 1)
    n=$(echo "$ours" | head -n 1 | awk '{print $2}')
    ours=$(echo "$ours" | tail -n 1)
    echo "$2: kb-lookup $ours"
    echo "$2: baseline  $base"
    o=$(echo "$ours" | awk '{print $2}') b=$(echo "$base" | awk '{print $2}')
    if ! awk -v o="$o" -v g="$3" -v b="$b" -v m="$must_beat" \
        'BEGIN { exit !(o >= g && (o > b || !m)) }'; then
        echo "FAIL: $2 top-1 $o (guard $3, baseline $b)"
        status=1
    fi
    case $2 in holdout-* | blind-* | blind2-* | blind3-*) continue ;; esac
    sum_o=$(awk -v s="$sum_o" -v o="$o" -v n="$n" 'BEGIN { print s + o * n }')
    sum_b=$(awk -v s="$sum_b" -v b="$b" -v n="$n" 'BEGIN { print s + b * n }')
    sum_n=$((sum_n + n))
done
# both sets as one (the issue's bar: top-1 >= 0.90 and 10 points above the baseline)
awk -v o="$sum_o" -v b="$sum_b" -v n="$sum_n" \
    'BEGIN { printf "both: %d positives, top-1 kb-lookup %.3f, baseline %.3f\n", n, o / n, b / n }'
exit $status
