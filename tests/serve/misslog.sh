#!/bin/sh
# The miss log (kb-lookup --log-misses FILE, KB_LOG_MISSES) and kb-compile --gaps:
#   - secrets of real transcripts and settings dumps (secrets/*.txt, the live bench's swaks
#     and curl captures) never reach the log, nor the customer's addresses, hosts and users
#     (secrets/secrets.txt lists every string that must be absent);
#   - only misses are logged: an exact match and a message that reports no failure are not;
#   - a line is at most 4096 bytes even for a 1 MB paste, and is one valid record;
#   - 8 processes appending at once (kb-lookup --serve, 250 requests each) leave 2000 whole
#     lines;
#   - a log that cannot be written is reported once on stderr and changes no answer;
#   - kb-compile --gaps groups a log into the expected shapes (gaps/expected.txt).
# Usage: misslog.sh KB_LOOKUP KB_COMPILE FIXTURE_DB BOUNCE_DB SOURCE_DIR
set -u
lookup=$1 compile=$2 fixture_db=$3 bounce_db=$4 src=$5
here=$src/tests/serve
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }

# A KB that answers nothing about mail: every paste below is a miss.
"$compile" --quiet "$here/miss-kb" -o "$tmp/miss.db" || { echo "FAIL: cannot compile miss-kb"; exit 1; }

# --- secrets and customer values ---------------------------------------------------------
log=$tmp/secrets.log
n=0
for f in "$here"/secrets/*-*.txt "$src"/tests/live/captured/wrong-password--swaks.txt \
    "$src"/tests/live/captured/wrong-password--curl.txt \
    "$src"/tests/live/captured/sender-mismatch--swaks.txt; do
    "$lookup" --db "$tmp/miss.db" --log-misses "$log" <"$f" >/dev/null
    n=$((n + 1))
    # the same through the environment variable and the persistent mode
    KB_LOG_MISSES=$log "$lookup" --db "$tmp/miss.db" --serve >/dev/null <<EOF
{"id": 1, "text": $(awk 'BEGIN { printf "\"" } { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); gsub(/\r/, ""); printf "%s\\n", $0 } END { printf "\"" }' "$f")}
EOF
    n=$((n + 1))
done
[ "$(wc -l <"$log")" -eq "$n" ] && ok || fail "expected $n lines in the secrets log, got $(wc -l <"$log")"
leaked=$(grep -o -F -f "$here/secrets/secrets.txt" "$log" | sort | uniq -c)
[ -z "$leaked" ] && ok || fail "secrets or customer values in the miss log: $leaked"
# what must stay: the error itself
grep -q '535 5.7.8 Error: authentication failed' "$log" && ok || fail "the error line is not in the log"
grep -q '"result":"no_match"' "$log" && ok || fail "no result field"

# --- only misses ---------------------------------------------------------------------------
log=$tmp/only.log
"$lookup" --db "$fixture_db" --log-misses "$log" \
    '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.' >/dev/null
"$lookup" --db "$bounce_db" --log-misses "$log" <"$src/tests/lookup/bounces/autoreply.eml" >/dev/null
[ ! -s "$log" ] && ok || fail "an answered text or a message that is no failure was logged: $(cat "$log")"

# --- bounded lines -------------------------------------------------------------------------
log=$tmp/big.log
awk 'BEGIN { for (i = 0; i < 20000; i++) printf "2024-05-01 10:00:%02d worker %d sent mail to user%d@example.com via smtp%d.example.net\n", i % 60, i, i, i % 7;
             print "550 5.7.1 Service unavailable; client host [192.0.2.7] blocked" }' >"$tmp/big.txt"
[ "$(wc -c <"$tmp/big.txt")" -gt 1000000 ] || fail "the big paste is not 1 MB"
"$lookup" --db "$tmp/miss.db" --log-misses "$log" <"$tmp/big.txt" >/dev/null
[ "$(wc -l <"$log")" -eq 1 ] && ok || fail "a 1 MB miss gave $(wc -l <"$log") lines"
[ "$(wc -c <"$log")" -le 4096 ] && ok || fail "a 1 MB miss gave a line of $(wc -c <"$log") bytes"
grep -q '550 5.7.1 Service unavailable; client host \[<ip>\] blocked' "$log" && ok ||
    fail "the error line of a 1 MB paste is not in its log line: $(cut -c1-300 "$log")"
out=$("$compile" --gaps "$log")
case $out in "1 miss in 1 file, 1 shape, most frequent first:"*) ok ;; *) fail "gaps of the big line: $out" ;; esac

# --- 8 processes at once ------------------------------------------------------------------
log=$tmp/shared.log
i=0
while [ $i -lt 8 ]; do
    # 250 requests of growing size, so that lines of every length up to the cap interleave
    awk -v p=$i 'BEGIN { for (k = 0; k < 250; k++) { printf "{\"id\": \"%d-%d\", \"text\": \"process %d request %d:", p, k, p, k;
        for (w = 0; w < (k * 7) % 400; w++) printf " word%d", w; printf " 421 4.4.2 timeout\"}\n" } }' >"$tmp/req$i"
    "$lookup" --db "$tmp/miss.db" --serve --log-misses "$log" <"$tmp/req$i" >"$tmp/ans$i" &
    eval "pid$i=\$!"
    i=$((i + 1))
done
i=0
while [ $i -lt 8 ]; do
    eval "wait \$pid$i" || fail "process $i failed"
    i=$((i + 1))
done
[ "$(wc -l <"$log")" -eq 2000 ] && ok || fail "8 x 250 misses gave $(wc -l <"$log") lines"
bad=$(grep -c -v '^{"time":"[^"]*","kb":"[0-9a-f]*",.*"text":".*"}$' "$log")
[ "$bad" -eq 0 ] && ok || fail "$bad lines of the shared log are not whole records"
long=$(awk 'length($0) + 1 > 4096' "$log" | wc -l)
[ "$long" -eq 0 ] && ok || fail "$long lines over 4096 bytes"
out=$("$compile" --gaps "$log")
case $out in "2000 misses in 1 file, "*) ;; *) fail "gaps of the shared log: $(echo "$out" | head -1)" ;; esac
case $out in *"not a miss record"*) fail "gaps found lines that are not records: $(echo "$out" | head -1)" ;; *) ok ;; esac
for p in 0 1 2 3 4 5 6 7; do
    [ "$(grep -c "\"text\":\"process $p request " "$log")" -eq 250 ] || fail "process $p has not 250 lines"
done

# --- a binary paste: logged as binary, grouped by --gaps as such, not as an empty line --------
log=$tmp/binary.log
printf '\000\001\002PK\003\004\377\376 535 data\000' >"$tmp/bin"
"$lookup" --db "$tmp/miss.db" --log-misses "$log" <"$tmp/bin" >/dev/null 2>&1
"$lookup" --db "$tmp/miss.db" --log-misses "$log" <"$tmp/bin" >/dev/null 2>&1
grep -q '"input_binary":true' "$log" && ok || fail "binary paste not marked: $(cat "$log")"
out=$("$compile" --gaps "$log")
case $out in *"(binary input)"*) ok ;; *) fail "gaps of binary pastes: $out" ;; esac
"$lookup" --db "$tmp/miss.db" --log-misses "$tmp/text.log" 'hello' >/dev/null 2>&1
grep -q '"input_binary":false' "$tmp/text.log" && ok || fail "a text paste marked binary"

# --- a log that cannot be written -----------------------------------------------------------
"$lookup" --db "$tmp/miss.db" --log-misses "$tmp/no/such/dir/log" 'hello' >"$tmp/out" 2>"$tmp/err"
code=$?
[ "$code" -eq 1 ] && ok || fail "unwritable log: exit $code, not 1 (no match)"
grep -q "cannot write to the miss log '$tmp/no/such/dir/log'" "$tmp/err" && ok || fail "no warning: $(cat "$tmp/err")"
printf '{"id":1,"text":"a"}\n{"id":2,"text":"b"}\n' |
    "$lookup" --db "$tmp/miss.db" --serve --log-misses "$tmp/no/such/dir/log" >"$tmp/out" 2>"$tmp/err"
[ "$(wc -l <"$tmp/out")" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && ok ||
    fail "unwritable log in --serve: $(wc -l <"$tmp/out") answers, stderr: $(cat "$tmp/err")"

# --- kb-compile --gaps on a committed log ---------------------------------------------------
"$compile" --gaps "$here/gaps/miss.log" >"$tmp/gaps.out" 2>&1
if cmp -s "$tmp/gaps.out" "$here/gaps/expected.txt"; then ok; else
    fail "kb-compile --gaps differs from gaps/expected.txt:"
    diff "$here/gaps/expected.txt" "$tmp/gaps.out" | head -20 >&2
fi
"$compile" --gaps - <"$here/gaps/miss.log" | cmp -s - "$here/gaps/expected.txt" && ok ||
    fail "kb-compile --gaps - (stdin) differs"
"$compile" --gaps "$tmp/missing.log" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "cannot read" "$tmp/err" && ok || fail "a missing log: $(cat "$tmp/err")"
"$compile" --gaps 2>/dev/null
[ $? -eq 2 ] && ok || fail "--gaps without a file is a usage error"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
