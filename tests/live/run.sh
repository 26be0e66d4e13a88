#!/usr/bin/env bash
# Live test bench (issue 13): stages real misconfigurations on a private Postfix + Dovecot
# instance inside a network namespace made here (only a loopback inside, the standard ports
# 25/587/465 on 127.0.0.1 and on further loopback addresses 127.0.0.2...), runs real mail
# clients in that namespace against it, and looks every captured client output up with
# kb-lookup.
#
#   tests/live/run.sh KB_LOOKUP [--save DIR] [--only SCENARIO] [--keep] [--clients LIST]
#
# --save DIR   also write the captured outputs and expected.tsv to DIR (tests/live/captured)
# --only NAME  run one scenario (a shell pattern)
# --keep       leave the temporary directory (logs, configs) for a look afterwards
# --clients L  the clients to run (default "swaks msmtp curl python"; also "msmtp-debug" and
#              "python-debug", which print the whole SMTP dialogue)
#
# Needs root and the Debian packages listed in README.md; otherwise it says why and exits 77
# (ctest's skip). Servers are started in the background and stopped by their saved PIDs.
set -uo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH LC_ALL=C.UTF-8

here=$(cd "$(dirname "$0")" && pwd)
kb=${1:-}
shift || true
save="" only="*" keep=0 CLIENTS="swaks msmtp curl python"
while [ $# -gt 0 ]; do
    case $1 in
    --save) save=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --clients) CLIENTS=$2; shift 2 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -n "$kb" ] && [ -x "$kb" ] || { echo "usage: run.sh KB_LOOKUP [--save DIR] [--only NAME] [--keep] [--clients LIST]" >&2; exit 2; }
kb=$(cd "$(dirname "$kb")" && pwd)/$(basename "$kb")
[ -z "$save" ] || save=$(mkdir -p "$save" && cd "$save" && pwd)

skip() { echo "live bench skipped: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, iptables, a private Postfix)"
PY=/usr/bin/python3
for tool in postfix postconf dovecot swaks msmtp curl openssl ip iptables dnsmasq timeout $PY; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool not installed (apt-get install postfix dovecot-core swaks msmtp curl openssl iproute2 iptables dnsmasq-base python3)"
done
PFDAEMON=$(postconf -h -d daemon_directory 2>/dev/null || true)
[ -x "${PFDAEMON:-/usr/lib/postfix/sbin}/master" ] || PFDAEMON=/usr/lib/postfix/sbin
[ -x "$PFDAEMON/master" ] || skip "Postfix master daemon not found"
ip netns add kblive-probe-$$ 2>/dev/null || skip "cannot create network namespaces here"
ip netns del kblive-probe-$$

T=$(mktemp -d /tmp/kb-live.XXXXXX)
chmod 755 "$T"
PIDS=()
NETNS=()
made_etc_netns=0
[ -d /etc/netns ] || made_etc_netns=1
teardown() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.3; done
        kill -KILL "$pid" 2>/dev/null
    done
    local ns
    for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; rm -rf "/etc/netns/$ns"; done
    [ "$made_etc_netns" = 0 ] || rmdir /etc/netns 2>/dev/null
    if [ "$keep" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap teardown EXIT
trap 'exit 130' INT TERM

die() { echo "live bench: setup failed: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# Certificates, made now with openssl: a test CA, a good server certificate (localhost,
# and every listening address), a self-signed one, an expired one and one for another name.
C=$T/certs
mkdir -p "$C/db"
# every address a server of the bench listens on (127.0.0.1 and the variants 127.0.0.2...)
SAN="DNS:localhost$(for i in 1 2 3 4 5 6 7 11 12 13 14 15; do printf ',IP:127.0.0.%s' "$i"; done)"
(
    cd "$C" || exit 1
    sub() { openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null; }
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
        -subj "/CN=kb live bench test CA" 2>/dev/null || exit 1
    sub good localhost && openssl x509 -req -in good.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 30 \
        -extfile <(printf 'subjectAltName=%s\n' "$SAN") -out good.pem 2>/dev/null || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -keyout self.key -out self.pem -days 30 -subj "/CN=localhost" \
        -addext "subjectAltName=$SAN" 2>/dev/null || exit 1
    sub wrong mail.wrong-name.example && openssl x509 -req -in wrong.csr -CA ca.pem -CAkey ca.key -set_serial 3 \
        -days 30 -extfile <(printf 'subjectAltName=DNS:mail.wrong-name.example\n') -out wrong.pem 2>/dev/null || exit 1
    # Expired: openssl ca with a back-dated validity window that ended last year.
    : >db/index.txt && echo 04 >db/serial
    cat >ca.cnf <<EOF
[ca]
default_ca = bench
[bench]
dir = $C
database = $C/db/index.txt
serial = $C/db/serial
new_certs_dir = $C/db
certificate = $C/ca.pem
private_key = $C/ca.key
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = leaf
[any]
commonName = supplied
[leaf]
subjectAltName = $SAN
EOF
    sub expired localhost && openssl ca -batch -config ca.cnf -in expired.csr -out expired.pem -notext \
        -startdate 20240101000000Z -enddate 20250101000000Z 2>/dev/null || exit 1
    chmod 644 ./*.pem ./*.key
) || die "certificates"
CA=$C/ca.pem

# ---------------------------------------------------------------------------------------
# The mail namespace: only a loopback, on which the whole 127.0.0.0/8 is local, so the servers
# listen on the real ports (25, 587, 465) of 127.0.0.1 and of 127.0.0.2... for the variants,
# and nothing they do can reach any other network. The clients run in it too.
NS_MAIL=kblive-mail-$$
ip netns add "$NS_MAIL" || die "ip netns add"
NETNS+=("$NS_MAIL")
ip -n "$NS_MAIL" link set lo up || die "loopback in $NS_MAIL"
# Postfix binds only to addresses an interface holds (inet_interfaces), not to all of 127/8
for i in 2 3 4 5 6 7 11 12 13 14 15; do
    ip -n "$NS_MAIL" addr add "127.0.0.$i/8" dev lo || die "address 127.0.0.$i in $NS_MAIL"
done
in_mail() { ip netns exec "$NS_MAIL" "$@"; }

# ---------------------------------------------------------------------------------------
# Dovecot: authentication only (no IMAP/POP listeners), passwd-file with one test user,
# its socket used by Postfix's smtpd_sasl_type = dovecot.
BENCH_USER=bench@bench.test
BENCH_PASS=fake-password-for-tests
WRONG_PASS=wrong-fake-password
D=$T/dovecot
mkdir -p "$D/run" "$D/state"
echo "$BENCH_USER:{PLAIN}$BENCH_PASS" >"$D/users"
chmod 644 "$D/users"
cat >"$D/dovecot.conf" <<EOF
base_dir = $D/run
state_dir = $D/state
instance_name = kb-live-bench
log_path = $D/dovecot.log
protocols =
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener $D/auth-postfix {
    mode = 0666
  }
}
EOF
in_mail dovecot -c "$D/dovecot.conf" -F >"$D/stdout.log" 2>&1 &
PIDS+=($!)

# ---------------------------------------------------------------------------------------
# Postfix: its own config, queue and data directories; every transport discards, nothing
# resolves or relays anywhere; one smtpd per staged server behaviour, each on its loopback
# address and standard port in the mail namespace.
P=$T/postfix
mkdir -p "$P/etc" "$P/queue" "$P/data"
chown postfix "$P/data"
printf '%s\n' "bench@bench.test OK" "someone@bench.test OK" "greylist@bench.test OK" \
    "a@bench.test OK" "b@bench.test OK" >"$P/etc/mailboxes"
echo "greylist@bench.test 450 4.7.1 Greylisted, please try again in 300 seconds" >"$P/etc/greylist"
echo "bench@bench.test bench@bench.test" >"$P/etc/sender_login"
cat >"$P/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $P/queue
data_directory = $P/data
maillog_file = $P/postfix.log
maillog_file_prefixes = $T
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.bench.test
mydomain = bench.test
myorigin = \$mydomain
mydestination =
inet_interfaces = 127.0.0.1, 127.0.0.2, 127.0.0.3, 127.0.0.4, 127.0.0.5, 127.0.0.6, 127.0.0.7,
    127.0.0.11, 127.0.0.12, 127.0.0.13, 127.0.0.14, 127.0.0.15
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
relayhost =
relay_domains =
default_transport = discard
local_transport = discard
virtual_transport = discard
relay_transport = discard
fallback_transport =
mailbox_transport =
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = bench.test
virtual_mailbox_maps = texthash:$P/etc/mailboxes
smtp_dns_support_level = disabled
smtpd_banner = \$myhostname ESMTP
biff = no
smtpd_tls_cert_file = $C/good.pem
smtpd_tls_key_file = $C/good.key
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_sasl_type = dovecot
smtpd_sasl_path = $D/auth-postfix
smtpd_sasl_auth_enable = no
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_client_event_limit_exceptions =
anvil_rate_time_unit = 120s
bench_greylist = check_recipient_access texthash:$P/etc/greylist
bench_helo = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname
bench_sender = reject_sender_login_mismatch
bench_sender_maps = texthash:$P/etc/sender_login
bench_tls13 = >=TLSv1.3
bench_tls12 = <=TLSv1.2
EOF
cat >"$P/etc/master.cf" <<EOF
# port 25-like: STARTTLS offered, no AUTH
127.0.0.1:25 inet n - n - - smtpd -o syslog_name=bench/mx -o smtpd_recipient_restrictions=\$bench_greylist
# HELO checks
127.0.0.2:25 inet n - n - - smtpd -o syslog_name=bench/helo -o smtpd_helo_required=yes -o smtpd_helo_restrictions=\$bench_helo
# message size limit
127.0.0.3:25 inet n - n - - smtpd -o syslog_name=bench/size -o message_size_limit=10000
# recipients per message
127.0.0.4:25 inet n - n - - smtpd -o syslog_name=bench/rcpt -o smtpd_recipient_limit=1
# connection rate (anvil)
127.0.0.5:25 inet n - n - - smtpd -o syslog_name=bench/connrate -o smtpd_client_connection_rate_limit=1
# submission that requires STARTTLS before MAIL
127.0.0.6:587 inet n - n - - smtpd -o syslog_name=bench/encrypt -o smtpd_tls_security_level=encrypt
# submission: STARTTLS, AUTH only after STARTTLS, sender must belong to the login
127.0.0.1:587 inet n - n - - smtpd -o syslog_name=bench/submission -o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=yes -o smtpd_sender_login_maps=\$bench_sender_maps -o smtpd_sender_restrictions=\$bench_sender
# submission with an AUTH rate limit (anvil)
127.0.0.7:587 inet n - n - - smtpd -o syslog_name=bench/authrate -o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=yes -o smtpd_client_auth_rate_limit=1
# implicit TLS (submissions)
127.0.0.1:465 inet n - n - - smtpd -o syslog_name=bench/smtps -o smtpd_tls_wrappermode=yes -o smtpd_sasl_auth_enable=yes -o smtpd_starttls_timeout=5s
# implicit TLS with bad certificates, TLS 1.3 only, TLS 1.2 at most
127.0.0.11:465 inet n - n - - smtpd -o syslog_name=bench/selfsigned -o smtpd_tls_wrappermode=yes -o smtpd_tls_cert_file=$C/self.pem -o smtpd_tls_key_file=$C/self.key
127.0.0.12:465 inet n - n - - smtpd -o syslog_name=bench/expired -o smtpd_tls_wrappermode=yes -o smtpd_tls_cert_file=$C/expired.pem -o smtpd_tls_key_file=$C/expired.key
127.0.0.13:465 inet n - n - - smtpd -o syslog_name=bench/wrongname -o smtpd_tls_wrappermode=yes -o smtpd_tls_cert_file=$C/wrong.pem -o smtpd_tls_key_file=$C/wrong.key
127.0.0.14:465 inet n - n - - smtpd -o syslog_name=bench/tls13 -o smtpd_tls_wrappermode=yes -o smtpd_tls_protocols=\$bench_tls13 -o smtpd_tls_mandatory_protocols=\$bench_tls13
127.0.0.15:465 inet n - n - - smtpd -o syslog_name=bench/tls12 -o smtpd_tls_wrappermode=yes -o smtpd_tls_protocols=\$bench_tls12 -o smtpd_tls_mandatory_protocols=\$bench_tls12
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
showq     unix n - n - - showq
discard   unix - - n - - discard
error     unix - - n - - error
retry     unix - - n - - error
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
in_mail postfix -c "$P/etc" check >"$P/check.log" 2>&1 || { cat "$P/check.log" >&2; die "postfix check"; }
in_mail env MAIL_CONFIG="$P/etc" "$PFDAEMON/master" -c "$P/etc" -s >"$P/master.log" 2>&1 &
PIDS+=($!)

# ---------------------------------------------------------------------------------------
# Network namespaces: one whose loopback drops every packet (connection timeout), one whose
# only resolver is a dnsmasq that answers NXDOMAIN for every name and has no upstream.
NS_DROP=kblive-drop-$$
NS_DNS=kblive-dns-$$
ip netns add "$NS_DROP" || die "ip netns add"
NETNS+=("$NS_DROP")
ip -n "$NS_DROP" link set lo up
ip netns exec "$NS_DROP" iptables -A INPUT -i lo -j DROP || die "iptables in $NS_DROP"
ip netns add "$NS_DNS" || die "ip netns add"
NETNS+=("$NS_DNS")
ip -n "$NS_DNS" link set lo up
mkdir -p "/etc/netns/$NS_DNS"
echo "nameserver 127.0.0.1" >"/etc/netns/$NS_DNS/resolv.conf"
ip netns exec "$NS_DNS" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
    --no-poll --listen-address=127.0.0.1 --bind-interfaces --address=/#/ --user=root \
    --pid-file="$T/dnsmasq.pid" --log-facility="$T/dnsmasq.log" --log-queries &
PIDS+=($!)

# Wait for the listeners (ADDRESS PORT, in the mail namespace).
ready() { in_mail timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
for _ in $(seq 1 50); do
    [ -S "$D/auth-postfix" ] && ready 127.0.0.1 25 && ready 127.0.0.1 587 && ready 127.0.0.15 465 && break
    sleep 0.2
done
[ -S "$D/auth-postfix" ] || { cat "$D/dovecot.log" "$D/stdout.log" >&2; die "dovecot did not start"; }
ready 127.0.0.1 25 || { cat "$P/master.log" "$P/postfix.log" >&2; die "postfix did not start"; }
if ready 127.0.0.9 587; then die "127.0.0.9:587 answers: the refused-port scenario needs it closed"; fi

# ---------------------------------------------------------------------------------------
# Clients. Each scenario sets these, then every client sends one message.
msg() {
    printf 'From: Bench <%s>\r\nTo: %s\r\nSubject: kb live bench\r\nDate: %s\r\nMessage-ID: <%s@bench.test>\r\n\r\n' \
        "$FROM" "${TO// /, }" "$(date -R)" "$RANDOM$RANDOM"
    printf 'A test message of the kb-lookup live bench.\r\n'
}
: >"$T/msmtprc"
chmod 600 "$T/msmtprc"
CLIENT_TIMEOUT=8

reset_vars() {
    HOST=127.0.0.1 PORT=25 TLS=none USER="" PASS="" FROM=bench@bench.test TO=someone@bench.test
    HELO="" TLSMAX="" TLSMIN="" SIZE=small NS=$NS_MAIL PRE=""
}

in_ns() { ip netns exec "$NS" "$@"; }

client_swaks() {
    local a=(--server "$HOST" --port "$PORT" --from "$FROM" --to "${TO// /,}" --timeout "$CLIENT_TIMEOUT"
        --data "@$1")
    [ -z "$HELO" ] || a+=(--helo "$HELO")
    case $TLS in
    starttls) a+=(--tls --tls-verify --tls-ca-path "$CA") ;;
    implicit) a+=(--tlsc --tls-verify --tls-ca-path "$CA") ;;
    esac
    [ -z "$TLSMAX" ] || a+=(--tls-protocol no_tlsv1_3)
    [ -z "$TLSMIN" ] || a+=(--tls-protocol tlsv1_3)
    [ -z "$USER" ] || a+=(--auth --auth-user "$USER" --auth-password "$PASS")
    in_ns timeout 20 swaks "${a[@]}"
}
client_msmtp() {
    local a=(-C "$T/msmtprc" --host="$HOST" --port="$PORT" --from="$FROM" --timeout="$CLIENT_TIMEOUT"
        --tls-trust-file="$CA")
    case $TLS in
    none) a+=(--tls=off) ;;
    starttls) a+=(--tls=on --tls-starttls=on) ;;
    implicit) a+=(--tls=on --tls-starttls=off) ;;
    esac
    [ -z "$HELO" ] || a+=(--domain="$HELO")
    [ -z "$TLSMAX" ] || a+=(--tls-priorities=NORMAL:-VERS-TLS1.3)
    [ -z "$TLSMIN" ] || a+=(--tls-priorities=NORMAL:-VERS-ALL:+VERS-TLS1.3)
    if [ -n "$USER" ]; then a+=(--auth=on --user="$USER" --passwordeval="echo $PASS"); else a+=(--auth=off); fi
    [ -z "${DEBUG:-}" ] || a+=(--debug)
    # shellcheck disable=SC2086
    in_ns timeout 20 msmtp "${a[@]}" -- $TO <"$1"
}
# The same clients asked for the whole SMTP dialogue, as a support agent asks a customer to.
client_msmtp-debug() { DEBUG=1 client_msmtp "$@"; }
client_python-debug() { DEBUG=1 client_python "$@"; }
client_curl() {
    local url=smtp://$HOST:$PORT a=()
    [ "$TLS" = implicit ] && url=smtps://$HOST:$PORT
    # curl sends the URL's path as the EHLO name; without one it would send the upload's file name.
    url=$url/${HELO:-localhost}
    a=(-sSv --connect-timeout "$CLIENT_TIMEOUT" --max-time 15 --url "$url" --mail-from "$FROM"
        --upload-file "$1" --cacert "$CA")
    [ "$TLS" = starttls ] && a+=(--ssl-reqd)
    local r
    for r in $TO; do a+=(--mail-rcpt "$r"); done
    [ -z "$TLSMAX" ] || a+=(--tls-max 1.2)
    [ -z "$TLSMIN" ] || a+=(--tlsv1.3)
    [ -z "$USER" ] || a+=(--user "$USER:$PASS")
    in_ns timeout 20 curl "${a[@]}"
}
client_python() {
    in_ns env HOST="$HOST" PORT="$PORT" TLS="$TLS" USER="$USER" PASS="$PASS" FROM="$FROM" TO="$TO" \
        HELO="$HELO" CAFILE="$CA" TLSMAX="$TLSMAX" TLSMIN="$TLSMIN" MSG="$1" TIMEOUT="$CLIENT_TIMEOUT" \
        DEBUGLEVEL="${DEBUG:-0}" \
        timeout 20 "$PY" "$here/send.py"
}

# Anvil rate limits count per client and per smtpd service: one priming connection before
# each client run makes that client's own connection the one over the limit.
prime_connect() {
    in_mail timeout 5 "$PY" -c 'import socket,sys
s=socket.create_connection((sys.argv[1],int(sys.argv[2])),3); s.recv(512); s.sendall(b"QUIT\r\n"); s.recv(512)' "$HOST" "$PORT" >/dev/null 2>&1
}
prime_auth() {
    in_mail env HOST="$HOST" PORT="$PORT" TLS=starttls USER="$BENCH_USER" PASS="$BENCH_PASS" FROM="$FROM" TO="$TO" \
        CAFILE="$CA" MSG="$1" TIMEOUT=5 timeout 10 "$PY" "$here/send.py" >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------
# Scenarios: name, expected entry id, settings.
OUT=$T/out
mkdir -p "$OUT"
printf 'file\texpected\n' >"$OUT/expected.tsv"

scenario() {
    local name=$1 expected=$2 client
    shift 2
    # shellcheck disable=SC2254
    case $name in $only) ;; *) return ;; esac
    # NOT=client: a client that cannot stage this scenario (said why where it is used).
    # AS=client:id: a client whose output shows less than the others and so names another
    # cause (said why where it is used).
    local not="" as="" kv
    for kv in "$@"; do
        case $kv in NOT=*) not=${kv#NOT=} ;; AS=*) as="$as ${kv#AS=}" ;; esac
    done
    for client in $CLIENTS; do
        case " $not " in *" $client "*) continue ;; esac
        reset_vars
        for kv in "$@"; do case $kv in NOT=* | AS=*) ;; *) eval "$kv" ;; esac; done
        local m=$T/message.txt
        if [ "$SIZE" = big ]; then
            { msg; for _ in $(seq 1 400); do printf 'Line of filler text to make this message larger than the limit.\r\n'; done; } >"$m"
        else
            msg >"$m"
        fi
        [ -z "$PRE" ] || $PRE "$m"
        local f=$name--$client.txt
        "client_$client" "$m" >"$OUT/$f" 2>&1
        echo "exit status $?" >>"$T/status-$f"
        local want=$expected pair
        for pair in $as; do [ "${pair%%:*}" = "$client" ] && want=${pair#*:}; done
        printf '%s\t%s\n' "$f" "$want" >>"$OUT/expected.tsv"
    done
}

U="USER=$BENCH_USER"
TO_FAR="TO=friend@elsewhere.test"
scenario wrong-password wrong-credentials PORT=587 TLS=starttls "$U" "PASS=$WRONG_PASS" "$TO_FAR"
scenario auth-not-offered auth-not-offered PORT=25 TLS=starttls "$U" "PASS=$BENCH_PASS" "$TO_FAR"
# msmtp and smtplib print no transcript by default, only "the server does not support
# authentication" / "SMTP AUTH extension not supported by server": from that text alone the
# cause is the server not offering AUTH at this stage (the taxonomy's auth-not-offered, whose
# "Tell it apart" sends the agent to STARTTLS); the transcripts of swaks and curl show STARTTLS
# offered and unused, which is starttls-required.
scenario auth-before-starttls starttls-required PORT=587 TLS=none "$U" "PASS=$BENCH_PASS" "$TO_FAR" AS=msmtp:auth-not-offered AS=python:auth-not-offered
scenario mail-before-starttls starttls-required HOST=127.0.0.6 PORT=587 TLS=none
scenario plaintext-to-465 tls-mode-mismatch PORT=465 TLS=none "$U" "PASS=$BENCH_PASS" "$TO_FAR"
scenario starttls-to-465 tls-mode-mismatch PORT=465 TLS=starttls "$U" "PASS=$BENCH_PASS" "$TO_FAR"
scenario implicit-tls-to-587 tls-mode-mismatch PORT=587 TLS=implicit "$U" "PASS=$BENCH_PASS" "$TO_FAR"
scenario cert-self-signed tls-certificate-invalid HOST=127.0.0.11 PORT=465 TLS=implicit
scenario cert-expired tls-certificate-invalid HOST=127.0.0.12 PORT=465 TLS=implicit
# swaks (20201014) --tls-verify checks the chain but not the host name: it sends the message.
scenario cert-wrong-name tls-certificate-invalid HOST=127.0.0.13 PORT=465 TLS=implicit NOT=swaks
scenario tls13-server-tls12-client tls-version-unsupported HOST=127.0.0.14 PORT=465 TLS=implicit TLSMAX=1.2
scenario tls12-server-tls13-client tls-version-unsupported HOST=127.0.0.15 PORT=465 TLS=implicit TLSMIN=1.3
scenario port-refused connection-refused HOST=127.0.0.9 PORT=587
scenario packets-dropped connection-timeout PORT=25 "NS=$NS_DROP"
scenario host-nxdomain dns-lookup-failed HOST=smtp.nxdomain.test PORT=25 "NS=$NS_DNS"
scenario relay-denied relay-denied PORT=25 "$TO_FAR"
scenario sender-mismatch send-as-denied PORT=587 TLS=starttls "$U" "PASS=$BENCH_PASS" FROM=boss@bench.test "$TO_FAR"
scenario size-limit message-too-large HOST=127.0.0.3 PORT=25 SIZE=big
scenario recipient-limit sending-limit-exceeded HOST=127.0.0.4 PORT=25 "TO='a@bench.test b@bench.test'"
scenario connection-rate sending-limit-exceeded HOST=127.0.0.5 PORT=25 PRE=prime_connect
scenario auth-rate login-rate-limited HOST=127.0.0.7 PORT=587 TLS=starttls "$U" "PASS=$BENCH_PASS" "$TO_FAR" PRE=prime_auth
scenario greylisted greylisted PORT=25 TO=greylist@bench.test
scenario helo-not-fqdn helo-rejected HOST=127.0.0.2 PORT=25 HELO=localhost
scenario unknown-recipient recipient-unknown PORT=25 TO=nobody@bench.test

if [ -n "$save" ]; then
    rm -f "$save"/*--*.txt
    cp "$OUT"/*.txt "$OUT/expected.tsv" "$save/"
fi
echo "== live bench: $(($(wc -l <"$OUT/expected.tsv") - 1)) client runs; looking them up"
bash "$here/check-captured.sh" "$kb" "$OUT" "$here/known-gaps.txt"
