#!/bin/bash
# clients.sh KB_COMPILE TESTDIR KB_LOOKUP SHIPPED_KB - which programs the engine recognises is
# the KB's to say (kb-client blocks; the shipped ones in kb/clients.md), not the engine's: a
# team declares the mail library its application uses and kb-lookup reports it, reads its
# SMTP-only wording as mail, and lets the team's conditions test it; a layer compiled over
# the shipped KB that declares none reads texts with the shipped clients; a KB without
# kb/clients.md recognises no client.
. "$(dirname "$0")/lib.sh"
lookup=$3 shipped=$4
command -v python3 >/dev/null || { echo "python3 not installed: skipped"; exit 77; }

# an entry whose condition names a client: it scores 3 + 4 when the client is seen, else 3
quota_article() { # FILE CLIENT
    cat >"$1" <<MD
# Acme relay quota

## The Acme relay refuses the message: hourly quota used up

\`\`\`kb-entry
id: acme-quota
\`\`\`

\`\`\`kb-signatures weight=3
acme relay allotment spent
\`\`\`

\`\`\`kb-conditions weight=4
client="$2"
\`\`\`

\`\`\`kb-example
451 4.7.0 acme relay allotment spent for sender@example.com
\`\`\`

### Fix

Wait for the next hour, or ask for a larger quota.
MD
}

kb=$WORK/kb
cp -r "$shipped" "$kb"
mkdir -p "$kb/acme"
cat >"$kb/acme/clients.md" <<'MD'
# Acme's mailer

```kb-client
id: acme-mailer
name: Acme Mailer
words: AcmeMailer
smtp-words: ACME-SMTP:
```
MD
quota_article "$kb/acme/quota.md" "Acme Mailer"
"$KBC" --quiet "$kb" -o "$WORK/team.db" 2>"$WORK/err"
expect_rc 0 $? "the shipped KB with a team's client"
[ -s "$WORK/err" ] && fail "diagnostics compiling with a team's client: $(head -3 "$WORK/err")"

"$lookup" --db "$WORK/team.db" --json 'ACME-SMTP: acme relay allotment spent' >"$WORK/out"
[ "$(json_get "$WORK/out" facts.client)" = "Acme Mailer" ] || fail "team's client: $(head -c 300 "$WORK/out")"
[ "$(json_get "$WORK/out" facts.context)" = mail ] || fail "an SMTP word is not mail: $(head -c 300 "$WORK/out")"
[ "$(json_get "$WORK/out" matches.0.score)" = 7 ] || fail "the client condition did not hold: $(head -c 400 "$WORK/out")"
"$lookup" --db "$WORK/team.db" --json 'acme-smtp: timeout' >"$WORK/out"
[ "$(json_get "$WORK/out" facts.client)" = None ] || fail "a client word counts as written: $(head -c 300 "$WORK/out")"
"$lookup" --db "$WORK/team.db" --json "Error: Invalid login: 535 5.7.8 Username and Password not accepted" >"$WORK/out"
[ "$(json_get "$WORK/out" facts.client)" = Nodemailer ] || fail "shipped client lost: $(head -c 300 "$WORK/out")"

# a layer over the shipped KB without clients of its own reads texts with the shipped ones
over=$WORK/over
mkdir -p "$over"
quota_article "$over/quota.md" Nodemailer
"$KBC" --quiet --base "$WORK/team.db" "$over" -o "$WORK/over.db" 2>"$WORK/err"
expect_rc 0 $? "a layer without clients"
"$lookup" --no-builtin --no-site --db "$WORK/team.db" --db "$WORK/over.db" --json \
    'Error: Invalid login: acme relay allotment spent' >"$WORK/out"
[ "$(json_get "$WORK/out" matches.0.id)" = acme-quota ] || fail "layer's entry not first: $(head -c 300 "$WORK/out")"
[ "$(json_get "$WORK/out" matches.0.score)" = 7 ] || fail "the layer did not read the shipped clients: $(head -c 400 "$WORK/out")"

# the declarations are the only source: a KB without them recognises no client
rm "$kb/clients.md" "$kb/acme/clients.md"
"$KBC" --quiet --no-self-test "$kb" -o "$WORK/none.db" 2>"$WORK/err"
expect_rc 0 $? "the shipped KB without clients"
"$lookup" --db "$WORK/none.db" --json "Error: Invalid login: 535 5.7.8 Username and Password not accepted" >"$WORK/out"
[ "$(json_get "$WORK/out" facts.client)" = None ] || fail "a client without declarations: $(head -c 300 "$WORK/out")"
finish
