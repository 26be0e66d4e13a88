#!/bin/bash
# providers.sh KB_COMPILE TESTDIR KB_LOOKUP SHIPPED_KB - the provider list is open (issue 18):
# a team compiles its articles on top of the shipped KB, declares its own relay in a
# kb-provider block and names it in provider:. kb-lookup then reports the team's provider for
# a text that names its host, the shipped ones as before, and breaks a tie with it. The
# shipped providers come from kb/providers.md, not from C: without them nothing is detected.
. "$(dirname "$0")/lib.sh"
lookup=$3 shipped=$4
command -v python3 >/dev/null || { echo "python3 not installed: skipped"; exit 77; }

kb=$WORK/kb
cp -r "$shipped" "$kb"
mkdir -p "$kb/acme"
cat >"$kb/acme/providers.md" <<'MD'
# Acme's providers

```kb-provider
id: acme-relay
name: Acme Relay
hosts: relay.acme.example
words: Acme Relay
```
MD
cat >"$kb/acme/quota.md" <<'MD'
# Acme Relay: sending limits

## The Acme relay refuses the message: daily quota used up

```kb-entry
id: acme-relay-quota
provider: acme-relay
```

```kb-signatures weight=5
daily relay quota exceeded
```

```kb-example
550 5.7.0 relay.acme.example: daily relay quota exceeded for sender@example.com
```

### Fix

Wait until midnight UTC, or ask Acme support for a higher quota.
MD
"$KBC" --quiet "$kb" -o "$WORK/team.db" 2>"$WORK/err"
expect_rc 0 $? "the shipped KB with a team's provider"
[ -s "$WORK/err" ] && fail "diagnostics compiling the shipped KB with a team's folder: $(head -3 "$WORK/err")"

"$lookup" --db "$WORK/team.db" --json \
    '550 5.7.0 RELAY.ACME.EXAMPLE: daily relay quota exceeded' >"$WORK/out"
[ "$(json_get "$WORK/out" facts.provider)" = acme-relay ] || fail "team's host: $(head -c 300 "$WORK/out")"
[ "$(json_get "$WORK/out" matches.0.id)" = acme-relay-quota ] || fail "team's entry not first"
"$lookup" --db "$WORK/team.db" --json \
    '535 5.7.3 Authentication unsuccessful [AM0PR04CA0003.eurprd04.prod.outlook.com]' >"$WORK/out"
[ "$(json_get "$WORK/out" facts.provider)" = m365 ] || fail "shipped provider lost: $(head -c 300 "$WORK/out")"

# the declarations are the only source: a KB without kb/providers.md detects nothing
rm "$kb/providers.md" "$kb/acme/providers.md"
sed -i 's/^provider: .*/provider: any/' $(grep -rl '^provider:' "$kb")
# and steps marked for a provider name undeclared providers too: the marks go
for f in $(grep -rl '^```kb-provider-steps' "$kb"); do
    awk '/^```kb-provider-steps/ { skip = 1; next } skip && /^```/ { skip = 0; next } !skip' \
        "$f" >"$f.new" && mv "$f.new" "$f"
done
"$KBC" --quiet --no-self-test "$kb" -o "$WORK/none.db" 2>"$WORK/err"
expect_rc 0 $? "the shipped KB without providers"
"$lookup" --db "$WORK/none.db" --json \
    '535 5.7.3 Authentication unsuccessful [AM0PR04CA0003.eurprd04.prod.outlook.com]' >"$WORK/out"
[ "$(json_get "$WORK/out" facts.provider)" = None ] || fail "a provider without declarations: $(head -c 300 "$WORK/out")"
finish
