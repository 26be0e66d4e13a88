#!/bin/sh
# Accuracy of the shipped KB, scored by ../shared/eval/score as a chatbot would run it.
#   dev:      the shared development set, with the bar of the KB issue;
#   holdout, blind*: tests/eval/{holdout,blind,blind2..blind9}-*.jsonl, real pastes collected by people who
#             never saw the KB (sources in each line), as guards against writing for the dev
#             set. Both were blind when first scored; the figures then are in the commit log.
# Skipped (exit 77) where ../shared is absent, e.g. on a fresh clone.
#   bounce3, bounce3-diagnostic: a second blind bounce set (whole messages, then the failure
#             line the collector picked, looked up alone); bounce4, bounce4-diagnostic: a third.
# Usage: score.sh dev|holdout|blind|blind2|blind3|blind4|blind5|blind6|blind7|blind8|blind9|bounce|
#                 bounce-diagnostic|bounce3|bounce3-diagnostic|bounce4|bounce4-diagnostic
#                 SOURCE_DIR PATH/TO/kb-lookup
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
    # 0.691, negatives 0.731; after the articles learnt the wordings it showed, 0.951 / 0.955
    # / 1.000: a regression guard just under that.
    exec python3 "$eval_dir/score" --lookup "$2" --min-top1 0.93 --min-top3 0.94 \
        --min-negative 0.95 "$1/tests/eval/bounce-errors.jsonl" "$1/tests/eval/bounce-negatives.jsonl"
fi
# Writes to $work one case per bounce of $2 (JSON lines) whose failure line is looked up
# alone: with a lookup given as $1, the first diagnostic line its bounce reader finds
# (report.recipients[].diagnostic in the JSON; bounces without one are left out), else the
# line the collector copied into the case ("diagnostic").
diagnostic_lines() {
    work=$(mktemp)
    trap 'rm -f "$work"' EXIT
    python3 - "$1" "$2" "$work" <<'PY'
import json, subprocess, sys
lookup, cases, out = sys.argv[1:4]
with open(cases, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
    for line in src:
        case = json.loads(line)
        if lookup:
            answer = subprocess.run([lookup, "--json", "--top", "1"], input=case["text"].encode(),
                                    stdout=subprocess.PIPE).stdout.decode("utf-8", "replace")
            report = json.loads(answer).get("report") or {}
            lines = [r["diagnostic"] for r in report.get("recipients", []) if r.get("diagnostic")]
        else:
            lines = [case["diagnostic"]]
        if lines:
            dst.write(json.dumps({"id": case["id"], "text": lines[0],
                                  "expected": case["expected"]}) + "\n")
PY
}
if [ "$set_name" = bounce3 ]; then
    # A second set of real bounces (issue 16), collected blind from 37 mail systems by someone
    # who had not read the KB; the 45 failures and 8 non-failures kept are those from sources
    # no other set uses (of 84 + 16 collected). First scored on b394593: top-1 0.867, top-3
    # 0.889, non-failures rejected 0.625 (the misses are delay notices, answered with the
    # delay's cause); once the articles learnt three wordings its misses showed (then no
    # longer blind), 0.933 / 0.933 / 0.625: a guard just under that (0.956 once a bounce
    # quoted in a reply was read as the bounce itself).
    exec python3 "$eval_dir/score" --lookup "$2" --min-top1 0.91 --min-top3 0.91 \
        --min-negative 0.60 "$1/tests/eval/bounce3-errors.jsonl" "$1/tests/eval/bounce3-negatives.jsonl"
fi
if [ "$set_name" = bounce4 ]; then
    # A third set of real bounces (issue 16): 61 failures from about 24 mail systems and 15
    # messages that are no failure (auto-replies, ARF reports, a relay notice, a read receipt),
    # collected blind from sources no other set uses by someone who had not read the KB. First
    # scored on 4f75fde: top-1 0.869, top-3 0.869, non-failures rejected 1.000; once the
    # articles learnt the wordings its misses showed (then no longer blind: an MX the relay
    # could not use, Exim's own "Unrouteable address", Yahoo's unresolvable sender domain, a
    # gateway's give-up line, a local-only Exim, repeated headers), 1.000 / 1.000 / 1.000: a
    # guard under that.
    exec python3 "$eval_dir/score" --lookup "$2" --min-top1 0.97 --min-top3 0.97 \
        --min-negative 0.95 "$1/tests/eval/bounce4-errors.jsonl" "$1/tests/eval/bounce4-negatives.jsonl"
fi
guard=
bars=
case $set_name in
bounce-diagnostic)
    # The same bounces when the customer pastes only the remote server's reply: for each one
    # the bounce reader finds a diagnostic line in, the first such line alone is looked up.
    # First 167 of 246 had one, top-1 0.874 / top-3 0.898; once a lone line's form said its
    # leg and the reader stopped taking fields and headings for failures, 165 lines, 0.939 /
    # 0.945; once a transcript's remote reply beat the reporting MTA's own summary, 166
    # lines, 0.946 / 0.946: a guard just under that.
    diagnostic_lines "$2" "$1/tests/eval/bounce-errors.jsonl"
    guard=0.94
    ;;
bounce3-diagnostic)
    # The second set's failure lines as the collector copied them, each looked up alone.
    # First scored on b394593: top-1 0.822 / top-3 0.822; after the same three wordings,
    # 0.889 / 0.889, and 0.911 once Outlook.com's block text was known from its start too
    # (the misses: lines cut where the bounce wrapped them, doubtful labels).
    diagnostic_lines "" "$1/tests/eval/bounce3-errors.jsonl"
    guard=0.86
    ;;
bounce4-diagnostic)
    # The third set's failure lines as the collector copied them, each looked up alone. First
    # scored on 4f75fde: top-1 0.738 / top-3 0.738; after the wordings above and a spam
    # filter's "score exceeded", 0.869 / 0.869. The misses: lines cut where the bounce wrapped
    # them ("<x@example.com>: host"), and bare words that name no cause without the bounce
    # around them ("account disabled", "500 Internal Server Error").
    diagnostic_lines "" "$1/tests/eval/bounce4-errors.jsonl"
    guard=0.84
    ;;
esac
if [ -n "$guard" ]; then
    python3 "$eval_dir/score" --lookup "$2" --min-top1 "$guard" --min-top3 "$guard" "$work"
    exit $?
fi
if [ "$set_name" = blind9 ]; then
    # Texts whose shape carries the answer: whole SMTP transcripts and debug sessions (PHPMailer,
    # Nodemailer, msmtp, curl, webmail and MTA logs, sessions typed by hand), pasted bounces,
    # mail servers' logs; 75 + 27, collected blind from threads no other set uses. First
    # scored on cdf90a5: top-1 0.800, top-3 0.813, negatives 0.889; after the reading it
    # showed missing was fixed in general form (markers after a logger's tag or a blank,
    # PHPMailer's failure summary, a mail library's link to its FAQ) and the wordings it
    # showed were learnt, 0.920 / 0.933 / 0.889: a guard just under that (0.907 / 0.920 once
    # sessions pasted bare were read: b9-020's label is the reverse of the live captures').
    bars="0.89 0.90 0.85"
fi
if [ "$set_name" = blind8 ]; then
    # Cloud sending services, hosting providers' SMTP and mail servers' own logs (SES,
    # SendGrid, Mailgun, Zoho, IONOS, Strato, OVH, cPanel/Exim, Postfix, Haraka, ZoneMTA,
    # Exchange), 81 + 28, collected blind from threads no other set uses. First scored on
    # be5da39: top-1 0.753, top-3 0.778, negatives 0.821 (the false matches: HTTP API errors of
    # mail services, answered with the same cause their SMTP replies have); after the wordings
    # it showed were learnt in general form, 0.926 / 0.951 / 0.821 (0.938 / 0.963 once
    # logger-decorated transcripts were read and a refused EHLO told): a guard just under that.
    bars="0.90 0.93 0.80"
fi
if [ "$set_name" = blind7 ]; then
    # Localized pastes (Chinese, Russian, Portuguese, French...) and devices that send mail
    # (cameras, NAS, routers, printers, ESP32 boards), 86 + 27, collected blind from threads no
    # other set uses by someone who had not read the KB. First scored on 9763899: top-1
    # 0.547, top-3 0.605, negatives 0.926 (0.570 top-1 once a Gmail condition that set
    # contradicted was reverted); after the providers' wordings it showed were learnt in
    # general form, 0.767 / 0.802 / 0.926, and 0.791 / 0.826 with Windows' and .NET's messages
    # in twelve languages: a guard just under that.
    bars="0.76 0.80 0.90"
fi
if [ "$set_name" = blind6 ]; then
    # Real pastes of applications that cannot send (90 from 32 causes, 34 negatives), collected
    # blind from threads no other set uses by someone who had not read the KB. First scored on
    # 34fd673: top-1 0.800, top-3 0.856, negatives 0.912; once the articles learnt five
    # wordings its misses showed (then no longer blind), 0.856 / 0.889 / 0.912, and 0.878 /
    # 0.911 with smtplib's split disconnect and ZoneMTA's MX wording: a guard under that. Its labels come from each thread's resolution, so some name a cause the
    # text alone does not show (a Gmail 5.7.8 fixed by allowing the app, not the password).
    bars="0.83 0.86 0.88"
fi
if [ "$set_name" = blind5 ]; then
    # Real client outputs and transcripts (issue 13), collected blind: Go, Java, .NET, Ruby,
    # Rust, Elixir, PHP frameworks, MTA logs. First scored on ad22522 at top-1 0.911, top-3
    # 0.938, negatives 0.886 (146 + 35 after dropping 35 texts already in other sets); with
    # the dialogue reader and HTTP clients told apart, 0.952 / 0.966 / 1.000: a guard just
    # under that.
    bars="0.93 0.95 0.97"
fi
if [ "$set_name" != dev ]; then
    # top-1, top-3 and negatives bars: a set's own guard above, else the KB issue's for the
    # holdout and first blind sets
    set -- "$1" "$2" ${bars:-0.93 0.95 0.92}
    exec python3 "$eval_dir/score" --lookup "$2" --min-top1 "$3" --min-top3 "$4" \
        --min-negative "$5" "$1/tests/eval/$set_name-errors.jsonl" \
        "$1/tests/eval/$set_name-negatives.jsonl"
fi
exec python3 "$eval_dir/score" --lookup "$2" --min-top1 0.90 --min-top3 0.97 --min-negative 0.95 \
    "$eval_dir/dev-errors.jsonl" "$eval_dir/dev-negatives.jsonl"
