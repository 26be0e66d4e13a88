#!/bin/sh
# Accuracy of the shipped KB, scored by ../shared/eval/score as a chatbot would run it.
#   dev:      the shared development set, with the bar of the KB issue;
#   holdout, blind*: tests/eval/{holdout,blind,blind2,blind3,blind4}-*.jsonl, real pastes collected by people who
#             never saw the KB (sources in each line), as guards against writing for the dev
#             set. Both were blind when first scored; the figures then are in the commit log.
# Skipped (exit 77) where ../shared is absent, e.g. on a fresh clone.
# Usage: score.sh dev|holdout|blind|blind2|blind3|blind4|blind5|bounce SOURCE_DIR PATH/TO/kb-lookup
set -eu
set_name="$1"
shift
eval_dir="$1/../shared/eval"
if [ ! -x "$eval_dir/score" ] && [ ! -f "$eval_dir/score" ]; then
    echo "skipped: $eval_dir not found"
    exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "skipped: python3 not installed"
    exit 77
fi
if [ "$set_name" = bounce ]; then
    # Pasted bounces (issue 16), collected blind from 20+ mail systems, first scored top-1
    # 0.691, negatives 0.731: a regression guard just under what the bounce reader gives
    # (top-1 0.711, top-3 0.740, negatives 1.000) while the KB side is written.
    exec python3 "$eval_dir/score" --lookup "$2" --min-top1 0.70 --min-top3 0.73 \
        --min-negative 0.95 "$1/tests/eval/bounce-errors.jsonl" "$1/tests/eval/bounce-negatives.jsonl"
fi
if [ "$set_name" = blind5 ]; then
    # Real client outputs and transcripts (issue 13), collected blind: Go, Java, .NET, Ruby,
    # Rust, Elixir, PHP frameworks, MTA logs. First scored on ad22522 at top-1 0.911, top-3
    # 0.938, negatives 0.886 (146 + 35 after dropping 35 texts already in other sets): a
    # regression guard just under that until the transcript reader lands.
    exec python3 "$eval_dir/score" --lookup "$2" --min-top1 0.89 --min-top3 0.92 \
        --min-negative 0.85 "$1/tests/eval/blind5-errors.jsonl" "$1/tests/eval/blind5-negatives.jsonl"
fi
if [ "$set_name" != dev ]; then
    exec python3 "$eval_dir/score" --lookup "$2" --min-top1 0.93 --min-top3 0.95 \
        --min-negative 0.92 "$1/tests/eval/$set_name-errors.jsonl" \
        "$1/tests/eval/$set_name-negatives.jsonl"
fi
exec python3 "$eval_dir/score" --lookup "$2" --min-top1 0.90 --min-top3 0.97 --min-negative 0.95 \
    "$eval_dir/dev-errors.jsonl" "$eval_dir/dev-negatives.jsonl"
