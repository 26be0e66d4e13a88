/*
 * kb_facts.c - the facts every answer can use, pulled from the normalised text: SMTP reply
 * code, enhanced status code, the stage of the SMTP dialogue, host, port, user, the client
 * program and the provider (ones the KB declares: kb_clients.c, kb_providers.c), and whether
 * the text is about sending mail at all.
 *
 * Facts feed ranking (signatures marked context=mail count only in mail context) and are shown
 * to the support agent, who then does not have to dig the customer's values out of a log.
 */
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kb_internal.h"

/* A pattern with what every match of it contains: needs lists, '|'-separated, text of which
 * at least one occurs (compared caselessly) in any text the pattern matches; NULL when nothing
 * can be said. All the needs of all the patterns are looked for in one pass over the text and
 * a pattern none of whose needs occurs is not run: on a text that holds none of the facts,
 * each pattern was a scan of the whole text. A unit test compares the facts with and without
 * this on every paste of the accuracy sets. */
struct fact_pattern {
    const char *regex;
    const char *needs;
    /* Where a match can start, stated with the pattern and checked by tests/lookup/test_facts.c:
     * every match holds one of the starts ('|'-separated, compared caselessly) beginning at most
     * reach bytes after the match's own start. On a text of FACTS_WINDOW_THRESHOLD bytes or
     * more the pattern is then tried only where a match can start, reach bytes before each
     * occurrence up to it (PCRE2's offset limit), instead of at every byte of the text; on a
     * 1 MiB line holding the needs every few kilobytes that was a dozen scans of the whole
     * line. NULL: anywhere (the pattern runs over the whole text): a pattern whose reach has
     * no bound ("\\s*" or a repeated label before the start), whose needs are not in every
     * match, or whose scan costs less than finding its starts would (common words: "at ",
     * "53"); the few that state starts are those whose scans cost most. */
    const char *starts;
    int reach;
};

/* In the patterns below group 1 is the value (and group 2 the port, where there is one). */
static const struct fact_pattern reply_patterns[] = {
    /* "535 5.7.8 ...", "550-5.1.1 ..." : reply code with enhanced code */
    {"(?<![\\w.])([45]\\d\\d)[ -]+([45]\\.\\d{1,3}\\.\\d{1,3})(?![\\w.])", "4.|5.", NULL, 0},
    /* a reply line of its own: "554 Relay access denied" */
    {"^([45]\\d\\d)[ -](?=[A-Za-z<\\[])", NULL, NULL, 0},
    /* wrapped by clients: 'got code "535"', "(535, b'...", "responseCode: 535", "code: 530" */
    {"(?i)(?:code|response|reply|status)\\W{0,5}([45]\\d\\d)\\b", "code|response|reply|status",
     "code|response|reply|status", 0},
    {"\\(([45]\\d\\d), b?['\"]", "(4|(5", NULL, 0},
};

/* Indexes of reply_patterns above. */
enum { REPLY_WITH_ENHANCED = 0, REPLY_LINE = 1, REPLY_WRAPPED = 2, SMTPLIB_TUPLE = 3 };

static int is_smtp_only_code(int code)
{
    static const int codes[] = {421, 450, 451, 452, 454, 530, 534,
                                535, 538, 550, 551, 552, 553, 554};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i] == code)
            return 1;
    return 0;
}

static const struct fact_pattern enhanced_pattern = {
    "(?<![\\w.])([45]\\.\\d{1,3}\\.\\d{1,3})(?![\\w.])", "4.|5.", NULL, 0};

/* A host name as users' configurations hold it: dot-separated labels ending in a lowercase
 * top-level domain, not part of a longer dotted word, so that identifiers such as
 * System.Net.Mail.SmtpException or javax.mail.MessagingException are not taken for hosts.
 * What else reads as a name but is none (Mailer.cs, smtplib.py, com.example.Mailer) is told
 * by host_plausible below, which sees the match in its surroundings. */
#define HOST_NAME                                                                                  \
    "(?<![\\w.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+(?-i:[a-z]{2,24})(?![\\w-]|\\.\\w)"
#define IP_ADDRESS "(?<![\\w.])(?:\\d{1,3}\\.){3}\\d{1,3}(?![\\w.])"
#define HOST "(" IP_ADDRESS "|" HOST_NAME ")"
#define IPV6 "(?<![\\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?=:\\d)"
#define IP_ADDRESS_PORT_MAIL "(" IP_ADDRESS "):(25|465|587|2525|2587)\\b"
/* Where the syntax itself says "this is the server" (a quoted endpoint, a tuple, JavaMail's
 * "host, port:"), a name of one label is a host too: "localhost", "mailpit", "mailhog". */
#define LABEL_HOST "(" IP_ADDRESS "|" HOST_NAME "|(?<![\\w.-])[a-z][a-z0-9-]{0,62}(?![\\w.-]))"

/* A host pattern: needs as in struct fact_pattern; group 1 the host, group 2 the port. */
struct host_pattern {
    struct fact_pattern p;
    int endpoint; /* the syntax names the server: a one-label name counts */
};

/* In order: where a client names the server it failed to reach, then where a text names a
 * host in words, then any name that looks like a mail server's. Each pattern's matches are
 * tried in turn until one reads as a host (host_plausible). */
static const struct host_pattern host_patterns[] = {
    /* Symfony "ssl://smtp.example.com:465", "tcp://..." */
    {{"(?i)(?:tcp|ssl|tls|smtps?)://" HOST ":(\\d{1,5})", "://", NULL, 0}, 0},
    /* Symfony, SwiftMailer: 'Connection could not be established with host "mailpit:1025"',
     * '... with host smtp.example.com :stream_socket_client()' */
    {{"(?i)established with host\\s+[\"']?" LABEL_HOST "(?::(\\d{1,5}))?", "established",
      "established", 0},
     1},
    /* JavaMail: "Couldn't connect to host, port: smtp.example.com, 587; timeout -1", older
     * "Could not connect to SMTP host: smtp.example.com, port: 465" */
    {{"(?i)connect to host, port:\\s*[\"']?" LABEL_HOST "[\"']?,\\s*(\\d{1,5})", "connect to host",
      NULL, 0},
     1},
    {{"(?i)connect to SMTP host:\\s*" LABEL_HOST ",\\s*port:\\s*(\\d{1,5})", "connect to smtp",
      NULL, 0},
     1},
    /* Go: "dial tcp 10.0.0.1:587: connect: ...", "dial tcp: lookup smtp.example.com on
     * 127.0.0.53:53: no such host" (the resolver behind "on" is not the server) */
    {{"(?i)\\bdial tcp:? (?:lookup )?" LABEL_HOST "(?::(\\d{1,5}))?", "dial tcp", NULL, 0}, 1},
    /* Python: smtplib's debug "connect: ('smtp.example.com', 587)", socket errors' tuples */
    {{"\\(['\"]" LABEL_HOST "['\"],\\s*(\\d{1,5})\\)", "('|(\"", NULL, 0}, 1},
    /* Ruby: 'connect(2) for "smtp.example.com" port 587', "Failed to open TCP connection to
     * smtp.example.com:587" */
    /* PHP's mail(): 'Failed to connect to mailserver at "localhost" port 25'; quotes may come
     * as HTML entities from an error tracker */
    {{"(?i)\\b(?:for|at) (?:\"|&quot;)" LABEL_HOST "(?:\"|&quot;),? port (\\d{1,5})", "port", NULL,
      0},
     1},
    {{"(?i)TCP connection to " LABEL_HOST ":(\\d{1,5})", "tcp connection to", NULL, 0}, 1},
    /* swaks "=== Trying smtp.example.com:25...", "*** Error connecting to H:P", a client's
     * "Connecting to smtp.example.com at 587", curl -v "Connected to H (IP) port 587" */
    {{"(?i)\\b(?:trying|connecting to|connected to) " HOST
      "(?::| (?:\\([^)\\s]{1,64}\\) )?(?:at |on )?(?:port )?)(\\d{1,5})\\b",
      "trying|connecting to|connected to", NULL, 0},
     0},
    /* Postfix: "connect to mx.example.com[192.0.2.1]:25", "relay=smtp.example.com[...]:587" */
    {{"(?i)" HOST "\\[[^\\]\\s]{1,64}\\]:(\\d{1,5})\\b", "]:", NULL, 0}, 0},
    /* PHPMailer's debug "Connection: opening to smtp.example.com:587, timeout=300" */
    {{"(?i)\\bopening to " LABEL_HOST ":(\\d{1,5})", "opening to", NULL, 0}, 1},
    /* Node "connect ECONNREFUSED 10.0.0.1:587", "Failed to connect to host:port" */
    {{"(?i)\\bconnect(?:ion)?\\s+(?:to\\s+)?(?:ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH)?\\s*" HOST
      ":(\\d{1,5})\\b",
      "connect", NULL, 0},
     0},
    /* the same with an IPv6 address: "connect ECONNREFUSED ::1:587" (the port after the last
     * colon) */
    {{"(?i)\\b(?:ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH) (" IPV6 "):(\\d{1,5})\\b",
      "econnrefused|etimedout|ehostunreach", "econnrefused|etimedout|ehostunreach", 0},
     1},
    /* Node's error objects: "address: '10.0.0.1', port: 587" */
    {{"(?i)\\baddress:\\s*['\"]" HOST "['\"],\\s*port:\\s*(\\d{1,5})", "address", "address", 0}, 0},
    /* .NET's SocketException ends in the endpoint it could not reach: "...failed to respond
     * 40.99.150.34:25"; an address with a mail port, anywhere, is the server */
    {{IP_ADDRESS_PORT_MAIL, ":25|:465|:587|:2525|:2587", NULL, 0}, 0},
    /* "SMTP host: smtp.gmail.com, port: 465", "host smtp.x.com", "server=mail.x.com" */
    {{"(?i)\\b(?:smtp\\s+)?(?:host|server|hostname|relay)\\s*[:=]?\\s*[\"']?" HOST
      "[\"']?(?:\\s*[:,]\\s*(?:port:?\\s*)?(\\d{1,5})\\b)?",
      "host|server|relay", "smtp|host|server|relay", 0},
     0},
    /* any host that looks like a mail server: smtp.*, mail.*, email-smtp.*, mx.* */
    {{"(?i)(?<![\\w.-])((?:smtp|mail|smtps|mx|relay|outbound|email-smtp|smtp-relay)[a-z0-9-]*\\."
      "(?:[a-z0-9-]+\\.)*(?-i:[a-z]{2,24}))(?![\\w-]|\\.\\w)(?::(\\d{1,5})\\b)?",
      "smtp|mail|mx|relay|outbound", "smtp|mail|mx|relay|outbound", 1},
     0},
};

/* Where the text gives a port without a host that reads as one: "port 587", Go's "dial tcp :25"
 * (the host setting left blank), a URL whose host was redacted ("smtp://<IP>:25/"). */
static const struct fact_pattern port_patterns[] = {
    {"(?i)\\bport\\b[\"']?\\s*[:=]?\\s*(\\d{1,5})\\b", "port", NULL, 0},
    {"(?i)\\bdial tcp :(\\d{1,5})\\b", "dial tcp", NULL, 0},
    {"(?i)\\b(?:smtps?|tcp|ssl|tls)://[^\\s/@]{1,255}:(\\d{1,5})(?![\\w.])", "://", NULL, 0},
};

/* The login: a quoted value after "user" (not "to user", a recipient), a setting (user=,
 * "SMTP Username:", MAIL_USERNAME=), the first argument of a login call echoed by a traceback,
 * a server's "authentication failed for <address>", and an address after a login word. The
 * envelope sender (from=, MAIL FROM) is not the login. */
static const struct fact_pattern user_patterns[] = {
    {"(?i)(?<!to )\\buser(?:name)?\\s*[\"']([^\"'\\s:]{1,100})[\"':]", "user", NULL, 0},
    {"(?i)(?:\\b|_)(?:smtp|mail|email|auth)?[ _.-]?user(?:[ _-]?name)?[\"']?\\s*[:=]\\s*[\"']?"
     "(?!<|\\*\\*\\*)([^\\s\"',;:<>]{1,100})",
     "user", "user", 7},
    {"\\.login\\(\\s*['\"]([^'\"\\s]{1,100})['\"]", ".login(", NULL, 0},
    {"\\bSMTP(?:_SSL)?\\(\\s*['\"]([\\w.+-]+@[\\w-]+(?:\\.[\\w-]+)+)['\"]", "smtp(", NULL, 0},
    {"(?i)\\bauthenticat\\w* (?:failed|unsuccessful) for (?:user )?[\"'<]?"
     "([\\w.+-]+@[a-z0-9-]+(?:\\.[a-z0-9-]+)+)",
     "authenticat", NULL, 0},
    {"(?i)(?<!to )\\b(?:user(?:name)?|login|auth-user)\\b\\s*[:=]?\\s*[\"'<]?"
     "([\\w.+-]+@[a-z0-9-]+(?:\\.[a-z0-9-]+)+)",
     "@", NULL, 0},
};

/* Text that shows the input is about sending mail (SMTP), beyond the reply/port/client facts. */
static const struct fact_pattern smtp_word_pattern = {
    "(?i)(?<![a-z])smtp|\\b(?:EHLO|HELO|STARTTLS|RCPT TO|MAIL FROM|gsmtp|sendmail|postfix|exim|"
    "MAIL_HOST|MAIL_PORT)\\b",
    "smtp|ehlo|helo|starttls|rcpt to|mail from|sendmail|postfix|exim|mail_host|mail_port", NULL, 0};

/* Another program's error: databases, caches, package managers, version control, IMAP/POP3
 * mail reading (not sending), directory services, HTTP clients and APIs. Checked only when
 * nothing says SMTP (and, line by line, for generic signatures in mail text).
 * A link to a page of a repository on github.com (a blob, the wiki, an issue) is no git error:
 * mail libraries link their FAQ from their messages (MailKit's SslHandshakeException); git
 * names the host alone or the repository itself ("connect to host github.com port 22",
 * "https://github.com/owner/repo.git/info/refs").
 *
 * Each alternative is its own regex, searched for on its own over a whole text: joined into
 * one alternation, no byte of the text could be skipped and every alternative was tried at
 * every byte (50 ms for 1 MiB of line breaks); alone, each gets PCRE2's start optimisations
 * (a first character, a required one). The first match of the text is the earliest start
 * among them, ties to the earlier alternative, as the alternation would have it. Alternatives
 * start at a character of their own, white space in front of one is a lookbehind. All are
 * compiled caseless. */
static const struct fact_pattern other_program_patterns[] = {
    {"\\b(?:psql|postgres(?:ql)?|pg_hba|pgsql|mysql|mariadb|sqlstate|sql server|redis|"
     "mongo(?:db)?|memcached|npm (?:ERR|http|WARN)|pip install|Collecting [\\w.-]+|"
     "Retrying \\(Retry|docker|kubectl|gitlab|fatal: Authentication failed|"
     "github\\.com(?!/[\\w.-]+/[\\w.-]+/(?:blob|tree|wiki|issues|pull|discussions)/)|"
     "Cloning into|git (?:clone|pull|push|fetch)|"
     "ldap|kafka|amqp|rabbitmq|elasticsearch|fatal: unable to access|"
     "HTTP/[12](?:\\.[01])?|HTTPS? ERROR|Proxy-Authenticate|WEBALERT|urlopen|urllib3?|"
     "requests\\.exceptions|HttpClient|HttpURLConnection|status ?code|grpc|netty|pypi|"
     "HttpRequestException|WebRequest|org\\.apache\\.http|okhttp|SqlException|SqlClient|"
     "pre-login handshake|SSL Provider|trust relationship for the SSL/TLS secure channel|"
     "Could not fetch URL|Cannot fetch index|curl https?://\\S+|"
     /* REST APIs of mail services are HTTP, not SMTP: api.sendgrid.com, api.mailgun.net */
     "api\\.[a-z0-9-]+\\.(?:com|net|io))\\b",
     "psql|postgres|pg_hba|pgsql|mysql|mariadb|sqlstate|sql server|redis|mongo|memcached|npm |"
     "pip install|collecting |retrying (retry|docker|kubectl|github.com|gitlab|fatal: |ldap|"
     "cloning into|git |"
     "kafka|amqp|rabbitmq|elasticsearch|http/|http error|https error|"
     "proxy-authenticate|webalert|urlopen|urllib|requests.exceptions|httpclient|"
     "httpurlconnection|status|grpc|netty|pypi|httprequestexception|webrequest|"
     "org.apache.http|okhttp|sqlexception|sqlclient|pre-login handshake|ssl provider|"
     "trust relationship for the ssl/tls secure channel|could not fetch url|cannot fetch index|"
     "curl http|api.",
     NULL, 0},
    /* curl's progress table */
    {"% Received % Xferd", "% received % xferd", NULL, 0},
    /* HTTP-only status codes of refused API calls (SMTP has no 401, 403, 407, 429; a 404 is
     * more often an application's own wrapper around an SMTP error) and HTTP ports */
    {"(?:code|status)\\W{0,4}(?:401|403|407|429)\\b", "401|403|407|429", NULL, 0},
    {"\\b(?:401|403|404|407|429) (?:Unauthorized|Forbidden|Not Found|Too Many Requests)\\b",
     "unauthorized|forbidden|not found|too many requests", NULL, 0},
    {"(?:\\bport\\W{0,3}|(?<=[a-z0-9]):)(?:443|8443|80|8080)\\b", "443|80", NULL, 0},
    /* POP3 replies, gRPC, Python package builds */
    {"(?<!\\S)-ERR\\b", "-err", NULL, 0},
    {"RPC failed|code=UNAVAILABLE|tcp_client_posix|setup\\.py",
     "rpc failed|code=unavailable|tcp_client_posix|setup.py", NULL, 0},
    /* HTTP clients on libcurl: Guzzle ("cURL error 35: ... for https://..."), curl -v through
     * an HTTP proxy, curl given an https:// URL (its own documentation links are no target) */
    {"GuzzleHttp|cURL error \\d+:[^\\n]*\\bfor https?://|CONNECT phase completed|"
     "\\bcurl\\b[^\\n]*\\s['\"]?https://(?!curl\\.(?:se|haxx\\.se)/)",
     "guzzlehttp|curl error|connect phase completed|curl", NULL, 0},
    /* node-fetch and webhooks: HTTPS calls */
    {"FetchError|request to https?://|webhook", "fetcherror|request to http|webhook", NULL, 0},
    /* mail reading, not sending, in any library's spelling: imaplib, imap_tools, node-imap,
     * ImapResponseParser, poplib, POP3Client */
    {"imap|pop3|poplib", "imap|pop3|poplib", NULL, 0},
    /* IMAP tagged and untagged responses ("* NO [ALERT] ...", "a0 NO [AUTHENTICATIONFAILED]") */
    {"(?<!\\S)(?:\\*|[a-z]?\\d+) (?:NO|BAD) \\[", " no [| bad [", NULL, 0},
    /* Go's HTTP client: Get "https://registry.example/v2/": ... */
    {"\\b(?:Get|Post|Put|Head|Delete) \"?https?://", "http", NULL, 0},
    {"(?:port\\s*:?\\s*|:)(?:5432|3306|6379|27017|1433|9200|5672|11211)\\b",
     "5432|3306|6379|27017|1433|9200|5672|11211", NULL, 0},
};

#define OTHER_PROGRAM_COUNT (sizeof other_program_patterns / sizeof other_program_patterns[0])
#define OTHER_PROGRAM_OPTIONS (PCRE2_CASELESS | PCRE2_MULTILINE)

/* A weak cue that still says "mail": email, e-mail, mailer, send_mail, gmail... */
/* stream_socket_enable_crypto is PHP's STARTTLS, which PHP mailers call */
static const struct fact_pattern mail_cue_pattern = {"(?i)mail|stream_socket_enable_crypto",
                                                     "mail|stream_socket_enable_crypto", NULL, 0};

struct stage_rule {
    const char *stage;
    struct fact_pattern pattern;
};

/* First rule that matches wins: the most specific SMTP command named in the text. */
static const struct stage_rule stages[] = {
    {"rcpt",
     {"(?i)RCPT TO|Recipient address rejected|\\b5\\.1\\.[0-9]+\\b|recipient",
      "rcpt to|recipient|5.1.", NULL, 0}},
    {"mail",
     {"(?i)MAIL FROM|Sender address rejected|send as|SendAsDenied",
      "mail from|sender address rejected|send as|sendasdenied", NULL, 0}},
    {"data",
     {"(?i)\\bDATA\\b|message size|\\b5\\.3\\.4\\b|\\b5\\.2\\.3\\b",
      "data|message size|5.3.4|5.2.3", NULL, 0}},
    {"auth",
     {"(?i)\\bAUTH\\b|authenticat|\\b53[45]\\b|Invalid login|password|credentials",
      "auth|53|invalid login|password|credentials", NULL, 0}},
    {"starttls",
     {"(?i)STARTTLS|\\bTLS\\b|\\bSSL\\b|certificate|handshake|wrong version number",
      "tls|ssl|certificate|handshake|wrong version number", NULL, 0}},
    {"ehlo", {"(?i)\\bE?HLO\\b", "hlo", NULL, 0}},
    {"connect",
     {"(?i)ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|connection refused|timed out|"
      "could not connect|couldn't connect|getaddrinfo|name or service not known|"
      "no such host|unreachable|failed to connect",
      "econnrefused|etimedout|enotfound|ehostunreach|connection refused|timed out|"
      "could not connect|couldn't connect|getaddrinfo|name or service not known|"
      "no such host|unreachable|failed to connect",
      NULL, 0}},
};

#define FACTS_JIT_THRESHOLD (64 * 1024)
/* Texts this long and longer have the patterns with starts tried in windows (struct
 * fact_pattern): on a short text a pass over it costs less than finding the starts. */
#define FACTS_WINDOW_THRESHOLD (64 * 1024)

/* How facts_extract searches: every pattern over the whole text (the reference the unit tests
 * compare with), with the prefilter, or with the prefilter and windows on any text however short
 * (for those tests too). */
enum facts_mode { FACTS_UNFILTERED, FACTS_PREFILTER, FACTS_WINDOWS_ALWAYS };

/* ---- the needs of the patterns, looked for in one pass ---------------------------------- */

#define MAX_NEEDS 256
/* Patterns with starts (struct fact_pattern), at most */
#define MAX_WINDOWED 64
/* Occurrences of a pattern's starts closer than this are tried in one pcre2_match call of the
 * pattern: PCRE2 reads the bytes between them faster than a call costs, and a text of len
 * bytes has at most len / WINDOW_GAP + 1 windows per pattern (the cap on their arrays). */
#define WINDOW_GAP 256
/* The starts are looked for in chunks of the text as the patterns need them, the first this
 * long, each next one twice as long up to WINDOW_CHUNK_MAX: a pattern that matches near the
 * top of a long log does not pay for a pass over all of it. */
#define WINDOW_CHUNK_MIN 4096
#define WINDOW_CHUNK_MAX (256 * 1024)

/* Every need of every pattern, each once: the engine's own tables, so the list and the search
 * tables are built once per process (needs_once) and only read after: a lookup pays one pass
 * over its text, not the list's construction. A KB's client words join them in a set of its
 * own (scan_set), built once per handle. */
struct needs_list {
    const char *text[MAX_NEEDS];
    size_t count;
    /* while building: the needs by hash (index + 1, 0 empty), so that a need already listed
     * is found without comparing it with every other (that was 0.9M instructions a process) */
    uint16_t slot[2 * MAX_NEEDS];
    struct kb_buf buf; /* the needs, each NUL-terminated */
    struct kb_literal_set *set;
    /* per need, the other_program_patterns it is a need of (bit i: pattern i), so that a range
     * is told which of them may match without a needs_met per pattern */
    uint32_t other_of[MAX_NEEDS];
    /* in starts_list: per start, the patterns it is a start of (bit k: needs_list.windowed[k]) */
    uint64_t start_of[MAX_NEEDS];
    const struct fact_pattern *windowed[MAX_WINDOWED]; /* in needs_list: the patterns with starts */
    size_t windowed_count;
    size_t longest;        /* bytes of the longest text */
    enum kb_status status; /* of the construction: KB_OK or why it failed */
};

/* The offsets from which a pattern with starts is tried: [first, last] pairs in text order,
 * each from reach bytes before an occurrence of a start up to the occurrence (close ones
 * merged). whole: the pattern is tried everywhere (memory ran out: slower, still exact). */
struct fact_windows {
    size_t *at;
    size_t count, alloc;
    int whole;
};

struct needs {
    int all; /* no prefilter: every pattern runs (the reference the unit test compares with) */
    const char *const *text;
    unsigned char *found; /* the needs', then the KB's client words' (any case) */
    unsigned char own[MAX_NEEDS];
    size_t count;
    struct fact_windows win[MAX_WINDOWED]; /* by index in needs_list.windowed */
    uint64_t wanted; /* the patterns with starts whose needs are in the text (bits as win) */
    /* the starts are known in norm->text[0, scanned); the next chunk is chunk bytes long */
    const struct kb_norm *norm;
    size_t scanned, chunk, base;
    size_t window_from; /* texts this long and longer are searched in windows */
};

/* Appends the items of a needs list not seen yet, marking each with the bits of other (the
 * other program patterns they are needs of); offsets into n->buf go to text[] as integers
 * until the buffer stops moving (needs_scan). */
static enum kb_status needs_add(struct needs_list *n, const char *list, uint32_t other,
                                uint64_t start)
{
    const size_t mask = sizeof n->slot / sizeof *n->slot - 1;
    for (const char *p = list; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        size_t s = (size_t)kb_token_hash(p, len) & mask;
        int seen = 0;
        /* at most half the slots are used, so an empty one ends the probe */
        for (; n->slot[s]; s = (s + 1) & mask) {
            const char *t = n->buf.data + (uintptr_t)n->text[n->slot[s] - 1];
            if ((seen = strncmp(t, p, len) == 0 && !t[len])) {
                n->other_of[n->slot[s] - 1] |= other;
                n->start_of[n->slot[s] - 1] |= start;
                break;
            }
        }
        if (!seen) {
            if (n->count == MAX_NEEDS)
                return KB_ERR_INVALID; /* a programming error: raise MAX_NEEDS */
            n->slot[s] = (uint16_t)(n->count + 1);
            n->other_of[n->count] = other;
            n->start_of[n->count] = start;
            n->text[n->count++] = (const char *)(uintptr_t)n->buf.len;
            enum kb_status st = kb_buf_append(&n->buf, p, len);
            if (st == KB_OK)
                st = kb_buf_append_char(&n->buf, '\0');
            if (st != KB_OK)
                return st;
        }
        p = bar ? bar + 1 : p + len;
    }
    return KB_OK;
}

/* needs_list: the needs, and the patterns with starts; starts_list: their starts, looked for
 * in a pass of their own (a need is looked for until first found, a start at every
 * occurrence). */
static struct needs_list needs_list, starts_list;
static pthread_once_t needs_once = PTHREAD_ONCE_INIT, starts_once = PTHREAD_ONCE_INIT;

/* Lists a pattern's needs and, when it has starts, the pattern among the windowed ones. */
static enum kb_status pattern_add(struct needs_list *n, const struct fact_pattern *p)
{
    enum kb_status st = needs_add(n, p->needs, 0, 0);
    if (st != KB_OK || !p->starts)
        return st;
    if (n->windowed_count == MAX_WINDOWED)
        return KB_ERR_INVALID; /* a programming error: raise MAX_WINDOWED */
    n->windowed[n->windowed_count++] = p;
    return KB_OK;
}

/* The texts of a list in place of their offsets into its buffer, and its search set. */
static enum kb_status needs_list_finish(struct needs_list *n)
{
    for (size_t k = 0; k < n->count; k++) {
        n->text[k] = n->buf.data + (uintptr_t)n->text[k];
        size_t len = strlen(n->text[k]);
        n->longest = len > n->longest ? len : n->longest;
    }
    return (n->set = kb_literal_set_new(n->text, n->count, 1)) ? KB_OK : KB_ERR_NOMEM;
}

static void needs_list_build(void)
{
    struct needs_list *n = &needs_list;
    enum kb_status st = KB_OK;
    kb_buf_init(&n->buf, 0);
    for (size_t i = 0; i < sizeof reply_patterns / sizeof *reply_patterns && st == KB_OK; i++)
        st = pattern_add(n, &reply_patterns[i]);
    for (size_t i = 0; i < sizeof host_patterns / sizeof *host_patterns && st == KB_OK; i++)
        st = pattern_add(n, &host_patterns[i].p);
    for (size_t i = 0; i < sizeof user_patterns / sizeof *user_patterns && st == KB_OK; i++)
        st = pattern_add(n, &user_patterns[i]);
    for (size_t i = 0; i < sizeof stages / sizeof *stages && st == KB_OK; i++)
        st = pattern_add(n, &stages[i].pattern);
    for (size_t i = 0; i < OTHER_PROGRAM_COUNT && st == KB_OK; i++)
        st = needs_add(n, other_program_patterns[i].needs, (uint32_t)1 << i, 0);
    for (size_t i = 0; i < sizeof port_patterns / sizeof *port_patterns && st == KB_OK; i++)
        st = pattern_add(n, &port_patterns[i]);
    const struct fact_pattern *single[] = {&enhanced_pattern, &smtp_word_pattern,
                                           &mail_cue_pattern};
    for (size_t i = 0; i < sizeof single / sizeof *single && st == KB_OK; i++)
        st = pattern_add(n, single[i]);
    if (st == KB_OK)
        st = needs_list_finish(n);
    n->status = st;
}

/* The starts' list and set, built the first time a long text needs them (after needs_list):
 * a set's tables cost more to make than a short text's patterns cost to run. */
static void starts_list_build(void)
{
    struct needs_list *n = &starts_list;
    enum kb_status st = KB_OK;
    kb_buf_init(&n->buf, 0);
    for (size_t k = 0; k < needs_list.windowed_count && st == KB_OK; k++)
        st = needs_add(n, needs_list.windowed[k]->starts, 0, (uint64_t)1 << k);
    if (st == KB_OK)
        st = needs_list_finish(n);
    n->status = st;
}

/* The set that finds the needs and the KB's client words in one pass, built on the handle's
 * first lookup and kept with its clients. */
static enum kb_status scan_set(struct kb_clients *clients, const struct kb_literal_set **out)
{
    if (!clients || !clients->word_count) {
        *out = needs_list.set;
        return KB_OK;
    }
    if (!clients->scan) {
        size_t total = needs_list.count + clients->word_count;
        free(clients->texts);
        if (!(clients->texts = malloc(total * sizeof *clients->texts)))
            return KB_ERR_NOMEM;
        memcpy(clients->texts, needs_list.text, needs_list.count * sizeof *clients->texts);
        for (size_t i = 0; i < clients->word_count; i++)
            clients->texts[needs_list.count + i] = clients->words[i].text;
        if (!(clients->scan = kb_literal_set_new(clients->texts, total, 1)))
            return KB_ERR_NOMEM;
    }
    *out = clients->scan;
    return KB_OK;
}

/* kb_literal_set_scan's callback in needs_scan: a start at offset; for each pattern it is a
 * start of that is to run, the offsets from which it can match there. */
static int start_seen(size_t index, size_t offset, void *arg)
{
    struct needs *n = arg;
    if (offset >= n->chunk)
        return 0; /* it starts in the next chunk, which reports it */
    offset += n->base;
    for (uint64_t bits = starts_list.start_of[index] & n->wanted; bits; bits &= bits - 1) {
        struct fact_windows *w = &n->win[__builtin_ctzll(bits)];
        size_t reach = (size_t)needs_list.windowed[__builtin_ctzll(bits)]->reach;
        size_t first = offset > reach ? offset - reach : 0;
        if (w->whole)
            continue;
        /* occurrences come in text order: a close one joins the last window */
        if (w->count && first <= w->at[2 * w->count - 1] + WINDOW_GAP) {
            w->at[2 * w->count - 1] = offset;
            continue;
        }
        if (w->count == w->alloc) {
            size_t alloc = w->alloc ? 2 * w->alloc : 16;
            size_t *at = realloc(w->at, 2 * alloc * sizeof *at);
            if (!at) {
                w->whole = 1;
                continue;
            }
            w->at = at;
            w->alloc = alloc;
        }
        w->at[2 * w->count] = first;
        w->at[2 * w->count + 1] = offset;
        w->count++;
    }
    return 0;
}

static int needs_met(const struct needs *n, const struct fact_pattern *p);

/* The starts of the next chunk of the text, for all the patterns whose needs are there at
 * once (one pass over each byte whatever their number): -1 when out of memory. */
static int starts_scan_more(struct needs *n)
{
    size_t len = n->norm->len, at = n->scanned, chunk = n->chunk ? n->chunk : WINDOW_CHUNK_MIN;
    if (chunk > len - at)
        chunk = len - at;
    /* a start that begins in the chunk may end after it: read as far as the longest */
    size_t read =
        chunk + starts_list.longest - 1 < len - at ? chunk + starts_list.longest - 1 : len - at;
    n->chunk = chunk;
    n->base = at;
    if (kb_literal_set_scan(starts_list.set, n->norm->text + at, read, start_seen, n) < 0)
        return -1;
    n->scanned = at + chunk;
    n->chunk = chunk * 2 < WINDOW_CHUNK_MAX ? chunk * 2 : WINDOW_CHUNK_MAX;
    return 0;
}

/* Every need of every pattern, and every word of the KB's clients, looked for in the text in
 * one pass; the starts of the patterns with starts are found later, as they are run
 * (starts_scan_more). Released with needs_release. */
static enum kb_status needs_scan(struct needs *n, const struct kb_norm *norm,
                                 struct kb_clients *clients)
{
    pthread_once(&needs_once, needs_list_build);
    if (needs_list.status != KB_OK)
        return needs_list.status;
    n->text = needs_list.text;
    n->count = needs_list.count;
    n->found = n->own;
    const struct kb_literal_set *set;
    enum kb_status st = scan_set(clients, &set);
    if (st != KB_OK)
        return st;
    if (set != needs_list.set && !(n->found = malloc(n->count + clients->word_count)))
        return KB_ERR_NOMEM;
    if (kb_literal_set_present(set, norm->text, norm->len, n->found) < 0)
        return KB_ERR_NOMEM;
    n->norm = norm;
    if (norm->len < n->window_from)
        return KB_OK;
    for (size_t k = 0; k < needs_list.windowed_count; k++)
        if (needs_met(n, needs_list.windowed[k]))
            n->wanted |= (uint64_t)1 << k;
    if (n->wanted) {
        pthread_once(&starts_once, starts_list_build);
        if (starts_list.status != KB_OK)
            n->wanted = 0; /* every pattern over the whole text: slower, still exact */
    }
    return KB_OK;
}

static void needs_release(struct needs *n)
{
    if (n->found != n->own)
        free(n->found);
    for (size_t k = 0; k < MAX_WINDOWED; k++)
        free(n->win[k].at);
}

/* May the pattern match the text? No when none of its needs occurs in it. */
static int needs_met(const struct needs *n, const struct fact_pattern *p)
{
    if (n->all || !p->needs)
        return 1;
    for (const char *q = p->needs; *q;) {
        const char *bar = strchr(q, '|');
        size_t len = bar ? (size_t)(bar - q) : strlen(q);
        for (size_t k = 0; k < n->count; k++)
            if (n->found[k] && strncmp(n->text[k], q, len) == 0 && !n->text[k][len])
                return 1;
        q = bar ? bar + 1 : q + len;
    }
    return 0;
}

/* The compile options of a pattern: an offset limit where it is tried from its starts only. */
static uint32_t pattern_options(const struct fact_pattern *p)
{
    return PCRE2_MULTILINE | (p->starts ? PCRE2_USE_OFFSET_LIMIT : 0);
}

/* The windows of a pattern, or NULL when it is to be tried everywhere. */
static struct fact_windows *windows_of(struct needs *n, const struct fact_pattern *p)
{
    if (n->all || !p->starts || !n->wanted)
        return NULL;
    for (size_t k = 0; k < needs_list.windowed_count; k++)
        if (needs_list.windowed[k] == p)
            return n->wanted >> k & 1 ? &n->win[k] : NULL;
    return NULL;
}

/* Is the window i of w there and final: no start found later can join it? 0 when not yet,
 * after all the text there is to scan has been scanned (then there is none), or -1 when out of
 * memory. */
static int window_ready(struct needs *n, const struct fact_pattern *p, struct fact_windows *w,
                        size_t i)
{
    for (;;) {
        if (w->whole)
            return -1;
        if (i < w->count
            && (i + 1 < w->count || n->scanned > w->at[2 * i + 1] + WINDOW_GAP + (size_t)p->reach))
            return 1;
        if (n->scanned >= n->norm->len)
            return i < w->count;
        if (starts_scan_more(n) < 0)
            return -1;
    }
}

/* pcre2_match of re (the pattern p) over the text from offset from: the first match there is.
 * A pattern with starts is tried only where a match can start: its windows, under PCRE2's
 * offset limit. The subject is always the whole text, so lookarounds, \b and ^ see the real
 * neighbours and a match is the one a scan of the whole text finds; every match starts in a
 * window, so the first found is the first there is. When the windows cannot be had (memory),
 * the pattern runs from the first offset not yet tried. */
static int match_from(const struct fact_pattern *p, struct needs *needs, pcre2_code *re,
                      const struct kb_norm *norm, size_t from, pcre2_match_data *md,
                      pcre2_match_context *mc)
{
    struct fact_windows *w = windows_of(needs, p);
    if (!w)
        return pcre2_match(re, (PCRE2_SPTR)norm->text, norm->len, from, 0, md, mc);
    int rc = PCRE2_ERROR_NOMATCH, ready;
    size_t i = 0;
    for (; rc == PCRE2_ERROR_NOMATCH && (ready = window_ready(needs, p, w, i)) > 0; i++) {
        size_t first = w->at[2 * i], last = w->at[2 * i + 1];
        if (last < from)
            continue;
        pcre2_set_offset_limit(mc, last);
        rc = pcre2_match(re, (PCRE2_SPTR)norm->text, norm->len, first > from ? first : from, 0, md,
                         mc);
        pcre2_set_offset_limit(mc, PCRE2_UNSET);
        from = last + 1;
    }
    if (rc == PCRE2_ERROR_NOMATCH && ready < 0) /* no windows: the rest of the text */
        rc = pcre2_match(re, (PCRE2_SPTR)norm->text, norm->len, from, 0, md, mc);
    return rc;
}

/* Runs regex over text; on a match copies group 1 (and group 2) into heap strings. Returns 1 on
 * match, 0 on none, -1 when out of memory. */
static int copy_groups(const struct kb_norm *norm, pcre2_match_data *md, int rc, char **g1,
                       char **g2, size_t *at)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    for (int g = 1; g <= 2; g++) {
        char **dst = g == 1 ? g1 : g2;
        if (!dst || g >= rc || ov[2 * g] == PCRE2_UNSET)
            continue;
        size_t len = ov[2 * g + 1] - ov[2 * g];
        if (!(*dst = malloc(len + 1)))
            return -1;
        memcpy(*dst, norm->text + ov[2 * g], len);
        (*dst)[len] = '\0';
        if (at)
            at[g - 1] = ov[2 * g];
    }
    return 1;
}

/* Runs regex over text; on a match copies group 1 (and group 2) into heap strings, and where
 * each starts in the text into at[0] (at[1]) when at is not NULL. Returns 1 on match, 0 on
 * none, -1 when out of memory. */
static int first_match_at(const struct fact_pattern *p, struct needs *needs,
                          const struct kb_norm *norm, struct kb_regex_cache *cache,
                          pcre2_match_data *md, pcre2_match_context *mc, char **g1, char **g2,
                          size_t *at)
{
    if (!needs_met(needs, p))
        return 0;
    /* On a whole log the scan dominates; JIT-compiling costs less than it saves there. */
    int jit = norm->len > FACTS_JIT_THRESHOLD;
    pcre2_code *re = kb_regex_cache_get(cache, p->regex, pattern_options(p), jit);
    if (!re)
        return -1;
    int rc = match_from(p, needs, re, norm, 0, md, mc);
    return rc >= 1 ? copy_groups(norm, md, rc, g1, g2, at) : 0;
}

static int first_match(const struct fact_pattern *p, struct needs *needs,
                       const struct kb_norm *norm, struct kb_regex_cache *cache,
                       pcre2_match_data *md, pcre2_match_context *mc, char **g1, char **g2)
{
    return first_match_at(p, needs, norm, cache, md, mc, g1, g2, NULL);
}

/* ---- is it a host? ---------------------------------------------------------------------- */

static int ieq(const char *a, size_t n, const char *lit)
{
    if (strlen(lit) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != (unsigned char)lit[i])
            return 0;
    }
    return 1;
}

static int in_list(const char *s, size_t n, const char *const *list)
{
    for (; *list; list++)
        if (ieq(s, n, *list))
            return 1;
    return 0;
}

/* Endings of source, build and data files, none a top-level domain: "Mailer.cs" is a file. */
static const char *const file_endings[] = {
    "cs",   "js",     "mjs",   "cjs",    "jsx",    "ts",     "tsx",        "rb",    "go",
    "java", "class",  "jar",   "kt",     "kts",    "scala",  "groovy",     "php",   "phtml",
    "pm",   "c",      "h",     "cpp",    "hpp",    "hh",     "cxx",        "swift", "vb",
    "fs",   "vbs",    "lua",   "erl",    "ex",     "exs",    "dart",       "json",  "xml",
    "yml",  "yaml",   "ini",   "cfg",    "conf",   "config", "properties", "toml",  "txt",
    "log",  "html",   "htm",   "css",    "scss",   "vue",    "dll",        "exe",   "dylib",
    "lib",  "obj",    "pdb",   "war",    "ear",    "gz",     "zip",        "tar",   "xz",
    "bz2",  "sql",    "db",    "sqlite", "lock",   "env",    "tmp",        "bak",   "aspx",
    "ascx", "cshtml", "razor", "resx",   "csproj", "sln",    "gradle",     "pyc",   "whl",
    "egg",  "erb",    "haml",  "twig",   "tpl",    "inc",    "cls",        "mts",   "cts",
    NULL};
/* Endings of files that are also country domains: a name of two labels with one of these is
 * a file (smtplib.py, mailer.pl), of three or more a host (smtp.example.pl). */
static const char *const file_or_country[] = {"py", "pl", "sh", "rs", "md", "ps", "cc",
                                              "mm", "so", "ml", "ai", "r",  NULL};
/* First labels of package and namespace names (com.example.mail, javax.mail.internet): no
 * host name starts with them. */
static const char *const package_roots[] = {"com",   "org",     "net",     "io",       "java",
                                            "javax", "jakarta", "android", "androidx", "kotlin",
                                            "scala", "sun",     "system",  NULL};

static int octets_ok(const char *s, size_t n)
{
    int v = 0, digits = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!digits || v > 255)
                return 0;
            v = digits = 0;
        } else if (s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (s[i] - '0');
            digits++;
        } else {
            return -1; /* not an address */
        }
    }
    return 1;
}

/* Does text[s, e), found by a host pattern, read as a host: an IP address, or a domain name
 * that is not a file name (Mailer.cs, smtplib.py, /app/index.js), a path component, a call
 * (mail.send(...)), or a class or package name (com.example.Mailer)? With endpoint, the
 * pattern's syntax names the server, and a name of one label counts. */
static int host_plausible(const char *text, size_t len, size_t s, size_t e, int endpoint)
{
    const char *h = text + s;
    size_t n = e - s;
    int ip = octets_ok(h, n);
    if (ip >= 0)
        return ip;
    /* a path component: after a separator that is not a URL's "//" */
    if (s > 0 && (text[s - 1] == '\\' || (text[s - 1] == '/' && !(s > 1 && text[s - 2] == '/'))))
        return 0;
    /* a call, a file's line ("Mailer.cs:line 42", 'smtplib.py", line 7', "index.js:787:19") */
    const char *t = text + e;
    size_t rest = len - e;
    if (rest && (t[0] == '(' || t[0] == '/' || t[0] == '\\'))
        return 0;
    if ((rest >= 5 && ieq(t, 5, ":line")) || (rest >= 7 && memcmp(t, "\", line", 7) == 0)
        || (rest >= 4 && memcmp(t, ":in ", 4) == 0))
        return 0;
    if (rest >= 4 && t[0] == ':' && t[1] >= '0' && t[1] <= '9') {
        size_t i = 1;
        while (i < rest && t[i] >= '0' && t[i] <= '9')
            i++;
        if (i + 1 < rest && t[i] == ':' && t[i + 1] >= '0' && t[i + 1] <= '9')
            return 0; /* file:line:column */
    }
    size_t labels = 1, last = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i] == '.') {
            labels++;
            last = i + 1;
        } else if (i > 0 && h[i] >= 'A' && h[i] <= 'Z' && h[i - 1] >= 'a' && h[i - 1] <= 'z') {
            return 0; /* camel case: MailService.send, SmtpClient.Send */
        }
    }
    if (labels == 1)
        return endpoint;
    const char *tld = h + last;
    size_t tld_len = n - last;
    const char *dot = memchr(h, '.', n);
    if (in_list(tld, tld_len, file_endings)
        || (labels == 2 && in_list(tld, tld_len, file_or_country))
        || in_list(h, (size_t)(dot - h), package_roots))
        return 0;
    return 1;
}

/* The first match of a host pattern that reads as a host: its host in *host, its port (when
 * the pattern has one) in *port, where each starts in at[]. 1, 0 when none, -1 out of memory.
 * Each try starts where the last match ended: one pass over the text. */
static int host_match(const struct host_pattern *hp, struct needs *needs,
                      const struct kb_norm *norm, struct kb_regex_cache *cache,
                      pcre2_match_data *md, pcre2_match_context *mc, char **host, char **port,
                      size_t *at)
{
    if (!needs_met(needs, &hp->p))
        return 0;
    int jit = norm->len > FACTS_JIT_THRESHOLD;
    pcre2_code *re = kb_regex_cache_get(cache, hp->p.regex, pattern_options(&hp->p), jit);
    if (!re)
        return -1;
    for (size_t from = 0; from <= norm->len;) {
        int rc = match_from(&hp->p, needs, re, norm, from, md, mc);
        if (rc < 2)
            return 0;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[2] != PCRE2_UNSET
            && host_plausible(norm->text, norm->len, ov[2], ov[3], hp->endpoint))
            return copy_groups(norm, md, rc, host, port, at);
        from = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
    }
    return 0;
}

/* The patterns are compiled when first run, and only those whose needs are in the text they
 * are asked about (kb_other_program_select): compiling all of them was 0.5M instructions a
 * process, more than running them on a few lines. */
struct kb_other_program {
    struct kb_regex_cache *cache;
    int jit;
    unsigned char skip[OTHER_PROGRAM_COUNT]; /* none of its needs is in the text */
};

struct kb_other_program *kb_other_program_new(struct kb_regex_cache *cache, int jit)
{
    struct kb_other_program *op = calloc(1, sizeof *op);
    if (op) {
        op->cache = cache;
        op->jit = jit;
    }
    return op;
}

void kb_other_program_free(struct kb_other_program *op)
{
    free(op); /* the code belongs to the cache */
}

/* kb_literal_set_scan's callback: the patterns the need found is a need of. */
static int need_hit(size_t index, size_t offset, void *arg)
{
    (void)offset;
    *(uint32_t *)arg |= needs_list.other_of[index];
    return 0;
}

_Static_assert(sizeof other_program_patterns / sizeof *other_program_patterns <= 32,
               "other_of holds a bit per other program pattern");

int kb_other_program_select(struct kb_other_program *op, const char *text, size_t start, size_t end)
{
    pthread_once(&needs_once, needs_list_build);
    if (needs_list.status != KB_OK)
        return -1;
    uint32_t may = 0;
    if (kb_literal_set_scan(needs_list.set, text + start, end - start, need_hit, &may) < 0)
        return -1;
    for (size_t i = 0; i < OTHER_PROGRAM_COUNT; i++)
        op->skip[i] = !(may & ((uint32_t)1 << i));
    return 0;
}

int kb_other_program_first(struct kb_other_program *op, const char *text, size_t start, size_t end,
                           pcre2_match_data *md, pcre2_match_context *mc, size_t *match_start,
                           size_t *match_end)
{
    int found = 0;
    for (size_t i = 0; i < OTHER_PROGRAM_COUNT; i++) {
        if (op->skip[i])
            continue;
        pcre2_code *re = kb_regex_cache_get(op->cache, other_program_patterns[i].regex,
                                            OTHER_PROGRAM_OPTIONS, op->jit);
        if (!re)
            return -1;
        if (pcre2_match(re, (PCRE2_SPTR)text, end, start, 0, md, mc) < 0)
            continue;
        if (!match_start)
            return 1;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (!found || ov[0] < *match_start) {
            *match_start = ov[0];
            *match_end = ov[1];
        }
        found = 1;
    }
    return found;
}

/* The first match of another program's words in the text, copied to *out. Returns 1 when
 * there is one, 0 when not, -1 when out of memory. */
static int first_other_program(const struct kb_norm *norm, const struct needs *needs,
                               struct kb_regex_cache *cache, pcre2_match_data *md,
                               pcre2_match_context *mc, char **out)
{
    struct kb_other_program *op = kb_other_program_new(cache, norm->len > FACTS_JIT_THRESHOLD);
    if (!op)
        return -1;
    for (size_t i = 0; i < OTHER_PROGRAM_COUNT; i++)
        op->skip[i] = !needs_met(needs, &other_program_patterns[i]);
    size_t s = 0, e = 0;
    int found = kb_other_program_first(op, norm->text, 0, norm->len, md, mc, &s, &e);
    kb_other_program_free(op);
    if (found <= 0)
        return found;
    if (!(*out = malloc(e - s + 1)))
        return -1;
    memcpy(*out, norm->text + s, e - s);
    (*out)[e - s] = '\0';
    return 1;
}

static int is_mail_port(int port)
{
    return port == 25 || port == 465 || port == 587 || port == 2525 || port == 2587;
}

static enum kb_status masked_copy(char **value)
{
    if (!*value)
        return KB_OK;
    struct kb_buf out;
    kb_buf_init(&out, 0);
    enum kb_status st = kb_mask_secrets(*value, strlen(*value), &out);
    free(*value);
    *value = NULL;
    if (st == KB_OK)
        st = kb_buf_detach(&out, value);
    kb_buf_release(&out);
    return st;
}

static enum kb_status facts_extract(const struct kb_norm *norm, struct kb_providers *providers,
                                    struct kb_clients *clients, struct kb_regex_cache *cache,
                                    struct kb_facts *f, struct kb_fact_lines *lines,
                                    enum facts_mode mode)
{
    int prefilter = mode != FACTS_UNFILTERED;
    if (lines)
        *lines = (struct kb_fact_lines){0, 0, 0};
    memset(f, 0, sizeof *f);
    pcre2_match_data *md = pcre2_match_data_create(8, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    struct needs needs = {.all = !prefilter,
                          .window_from = mode == FACTS_WINDOWS_ALWAYS ? 0 : FACTS_WINDOW_THRESHOLD};
    enum kb_status status = KB_ERR_NOMEM;
    char *code = NULL, *port = NULL;
    if (!md || !mc)
        goto done;
    if (prefilter && (status = needs_scan(&needs, norm, clients)) != KB_OK)
        goto done;
    status = KB_ERR_NOMEM;
    /* Bounded work whatever the input: these patterns are simple, the limits are a guard. */
    pcre2_set_match_limit(mc, 1000000);
    pcre2_set_depth_limit(mc, 1000);

    size_t reply_shape = 0;
    for (size_t i = 0; i < sizeof reply_patterns / sizeof reply_patterns[0] && !code; i++) {
        if (first_match(&reply_patterns[i], &needs, norm, cache, md, mc, &code,
                        i == 0 ? &f->enhanced : NULL)
            < 0)
            goto done;
        reply_shape = i;
    }
    if (code)
        f->reply_code = atoi(code);
    /* A reply code says "SMTP" when it comes with an enhanced code, in smtplib's (535, b'...')
     * tuple, or on a reply line of its own with a code that SMTP uses and HTTP does not. */
    int smtp_reply = code
                     && (f->enhanced || reply_shape == SMTPLIB_TUPLE
                         || (reply_shape == REPLY_LINE && is_smtp_only_code(f->reply_code)));
    if (!f->enhanced
        && first_match(&enhanced_pattern, &needs, norm, cache, md, mc, &f->enhanced, NULL) < 0)
        goto done;

    size_t host_at[2] = {0, 0}, port_at[2] = {0, 0}, user_at[2] = {0, 0};
    for (size_t i = 0; i < sizeof host_patterns / sizeof host_patterns[0] && !f->host; i++)
        if (host_match(&host_patterns[i], &needs, norm, cache, md, mc, &f->host, &port, host_at)
            < 0)
            goto done;
    if (port)
        port_at[0] = host_at[1];
    else
        for (size_t i = 0; i < sizeof port_patterns / sizeof *port_patterns && !port; i++)
            if (first_match_at(&port_patterns[i], &needs, norm, cache, md, mc, &port, NULL, port_at)
                < 0)
                goto done;
    if (port) {
        int p = atoi(port);
        f->port = (p > 0 && p < 65536) ? p : 0;
    }
    for (size_t i = 0; i < sizeof user_patterns / sizeof user_patterns[0] && !f->user; i++)
        if (first_match_at(&user_patterns[i], &needs, norm, cache, md, mc, &f->user, NULL, user_at)
            < 0)
            goto done;
    if (lines) {
        /* 1-based normalised lines: 0 stays "none" */
        lines->host = f->host ? kb_norm_line_of(norm, host_at[0]) + 1 : 0;
        lines->port = f->port ? kb_norm_line_of(norm, port_at[0]) + 1 : 0;
        lines->user = f->user ? kb_norm_line_of(norm, user_at[0]) + 1 : 0;
    }

    for (size_t i = 0; i < sizeof stages / sizeof stages[0] && !f->stage; i++) {
        int rc = first_match(&stages[i].pattern, &needs, norm, cache, md, mc, NULL, NULL);
        if (rc < 0)
            goto done;
        if (rc && !(f->stage = strdup(stages[i].stage)))
            goto done;
    }
    /* the clients and the providers are the KB's: its kb-client and kb-provider blocks say
     * which words name each */
    int client_smtp = 0;
    const struct kb_client_decl *client = kb_clients_detect(
        clients, norm->text, norm->len, needs.all ? NULL : needs.found + needs.count, &client_smtp);
    const struct kb_provider_decl *provider = kb_providers_detect(providers, norm->text, norm->len);
    if ((client && !(f->client = strdup(client->name)))
        || (provider && !(f->provider = strdup(provider->id))))
        goto done;

    /* SMTP itself decides; then another program's marks; then the weak cues (a mailer library
     * name, the word "mail"): Nodemailer, Symfony Mailer or JavaMail also call HTTP APIs and
     * read IMAP, and their name next to "Forbidden (code 401)" is not an SMTP problem. */
    int smtp_words = first_match(&smtp_word_pattern, &needs, norm, cache, md, mc, NULL, NULL);
    if (smtp_words < 0)
        goto done;
    if (smtp_words || smtp_reply || is_mail_port(f->port) || client_smtp) {
        f->mail_context = KB_CONTEXT_IS_MAIL;
    } else {
        int other = first_other_program(norm, &needs, cache, md, mc, &f->other_program);
        int cue =
            other ? 0 : first_match(&mail_cue_pattern, &needs, norm, cache, md, mc, NULL, NULL);
        if (other < 0 || cue < 0)
            goto done;
        f->mail_context = other ? KB_CONTEXT_IS_OTHER
                          : (cue || (client && client->role != KB_CLIENT_TOOL))
                              ? KB_CONTEXT_IS_MAIL
                              : KB_CONTEXT_IS_UNKNOWN;
    }
    if (masked_copy(&f->host) != KB_OK || masked_copy(&f->user) != KB_OK)
        goto done;
    status = KB_OK;
done:
    free(code);
    free(port);
    needs_release(&needs);
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    if (status != KB_OK)
        kb_facts_release(f);
    return status;
}

enum kb_status kb_facts_extract_lines(const struct kb_norm *norm, struct kb_providers *providers,
                                      struct kb_clients *clients, struct kb_regex_cache *cache,
                                      struct kb_facts *f, struct kb_fact_lines *lines)
{
    if (cache)
        return facts_extract(norm, providers, clients, cache, f, lines, FACTS_PREFILTER);
    struct kb_regex_cache own = {0};
    enum kb_status st = facts_extract(norm, providers, clients, &own, f, lines, FACTS_PREFILTER);
    kb_regex_cache_release(&own);
    return st;
}

enum kb_status kb_facts_extract(const struct kb_norm *norm, struct kb_providers *providers,
                                struct kb_clients *clients, struct kb_regex_cache *cache,
                                struct kb_facts *f)
{
    return kb_facts_extract_lines(norm, providers, clients, cache, f, NULL);
}

enum kb_status kb_facts_extract_unfiltered(const struct kb_norm *norm,
                                           struct kb_providers *providers,
                                           struct kb_clients *clients, struct kb_facts *f)
{
    struct kb_regex_cache own = {0};
    enum kb_status st = facts_extract(norm, providers, clients, &own, f, NULL, FACTS_UNFILTERED);
    kb_regex_cache_release(&own);
    return st;
}

enum kb_status kb_facts_extract_windowed(const struct kb_norm *norm, struct kb_providers *providers,
                                         struct kb_clients *clients, struct kb_facts *f)
{
    struct kb_regex_cache own = {0};
    enum kb_status st =
        facts_extract(norm, providers, clients, &own, f, NULL, FACTS_WINDOWS_ALWAYS);
    kb_regex_cache_release(&own);
    return st;
}

const char *kb_context_str(int mail_context)
{
    return mail_context == KB_CONTEXT_IS_MAIL    ? "mail"
           : mail_context == KB_CONTEXT_IS_OTHER ? "other"
                                                 : "unknown";
}

void kb_facts_release(struct kb_facts *f)
{
    free(f->enhanced);
    free(f->stage);
    free(f->host);
    free(f->user);
    free(f->client);
    free(f->provider);
    free(f->other_program);
    memset(f, 0, sizeof *f);
}

pcre2_code *kb_regex_cache_get(struct kb_regex_cache *cache, const char *regex, uint32_t options,
                               int jit)
{
    jit |= cache->warm;
    /* a few dozen patterns: a linear search costs less than one pcre2_compile */
    for (size_t i = 0; i < cache->count; i++)
        if (cache->slot[i].regex == regex && cache->slot[i].options == options) {
            if (jit)
                pcre2_jit_compile(cache->slot[i].code, PCRE2_JIT_COMPLETE); /* once: PCRE2 */
            return cache->slot[i].code;
        }
    if (cache->count == cache->cap) {
        size_t cap = cache->cap ? cache->cap * 2 : 64;
        struct kb_cached_regex *grown = realloc(cache->slot, cap * sizeof *grown);
        if (!grown)
            return NULL;
        cache->slot = grown;
        cache->cap = cap;
    }
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, options, &errcode, &erroff, NULL);
    if (!code)
        return NULL;
    if (jit)
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    cache->slot[cache->count++] = (struct kb_cached_regex){regex, options, code};
    return code;
}

void kb_regex_cache_release(struct kb_regex_cache *cache)
{
    for (size_t i = 0; i < cache->count; i++)
        pcre2_code_free(cache->slot[i].code);
    free(cache->slot);
    *cache = (struct kb_regex_cache){0};
}
