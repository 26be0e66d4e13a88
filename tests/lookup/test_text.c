/*
 * test_text.c - unit tests of the text module: prefilter anchors and tokens, literal and
 * regex translation, normalisation, secret masking and fact extraction.
 */
#include <ctype.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"
#include "kb_internal.h"
#include "kb_text.h"

/* The anchor chosen for a signature, lowercased, or "" when it has none. */
static char *anchor_of(enum kb_sig_kind kind, const char *source)
{
    struct kb_buf tok;
    kb_buf_init(&tok, 0);
    uint64_t hash = 0;
    int rc = kb_signature_anchor(kind, source, strlen(source), &hash, &tok);
    char *out = NULL;
    if (rc == 1) {
        kb_buf_detach(&tok, &out);
        for (char *p = out; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
        CHECK(hash == kb_token_hash(out, strlen(out)));
    } else {
        out = strdup("");
    }
    kb_buf_release(&tok);
    return out;
}

#define CHECK_ANCHOR(kind, source, want)                                                           \
    do {                                                                                           \
        char *a_ = anchor_of(kind, source);                                                        \
        CHECK_STR(a_, want);                                                                       \
        free(a_);                                                                                  \
    } while (0)

static void test_anchors(void)
{
    CHECK_ANCHOR(KB_SIG_LITERAL, "SmtpClientAuthentication is disabled",
                 "smtpclientauthentication");
    CHECK_ANCHOR(KB_SIG_LITERAL, "535 5.7.139", "5.7.139");
    CHECK_ANCHOR(KB_SIG_LITERAL, "aka.ms/smtp_auth_disabled", "smtp_auth_disabled");
    CHECK_ANCHOR(KB_SIG_LITERAL, "请使用授权码登录", "");
    CHECK_ANCHOR(KB_SIG_REGEX, "535[ -]5\\.7\\.139", "5.7.139");
    CHECK_ANCHOR(KB_SIG_REGEX, "AuthenticationFailedException:?\\s+535",
                 "authenticationfailedexception");
    CHECK_ANCHOR(KB_SIG_REGEX, "getaddrinfo (?:ENOTFOUND|EAI_AGAIN) \"?(?<host>[\\w.-]+)",
                 "getaddrinfo");
    CHECK_ANCHOR(KB_SIG_REGEX, "\\bIP(?: address)? (?:\\S+ )?(?:is )?not (?:allowed|permitted)",
                 "ip");
    /* a regex that starts or ends inside a word cannot anchor on that word */
    CHECK_ANCHOR(KB_SIG_REGEX, "\\w+Exception", "");
    CHECK_ANCHOR(KB_SIG_REGEX, "Relay|relaying", "");
    CHECK_ANCHOR(KB_SIG_REGEX, "(?i)relay access denied", "access");
    CHECK_ANCHOR(KB_SIG_REGEX, "[a-z]+\\.outlook\\.com", "outlook.com");
    CHECK_ANCHOR(KB_SIG_REGEX, "x?", "");
}

static int find_hash(uint64_t hash, size_t offset, void *arg)
{
    (void)offset;
    return hash == *(uint64_t *)arg;
}

static void test_tokens(void)
{
    const char *text = "rejected by EUR05.prod.OUTLOOK.com; code 5.7.139.";
    uint64_t want = kb_token_hash("outlook.com", 11);
    CHECK(kb_text_tokens(text, strlen(text), find_hash, &want) == 1);
    want = kb_token_hash("5.7.139", 7);
    CHECK(kb_text_tokens(text, strlen(text), find_hash, &want) == 1);
    want = kb_token_hash("139.", 4);
    CHECK(kb_text_tokens(text, strlen(text), find_hash, &want) == 0);
    /* hostile: a very long dotted token is still bounded work and finds its parts */
    char *many = malloc(200001);
    for (int i = 0; i < 100000; i++) {
        many[2 * i] = 'a';
        many[2 * i + 1] = '.';
    }
    many[200000] = '\0';
    want = kb_token_hash("a.a.a", 5);
    CHECK(kb_text_tokens(many, 200000, find_hash, &want) == 1);
    free(many);
}

static int pattern_matches(const char *pattern, const char *text)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   kb_signature_compile_options(), &err, &off, NULL);
    if (!re)
        return -1;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc >= 0;
}

static void test_patterns(void)
{
    struct kb_buf b;
    kb_buf_init(&b, 0);
    kb_literal_to_pattern("Relay  access denied", 20, &b);
    CHECK_STR(b.data, "\\bRelay\\s+access\\s+denied\\b");
    CHECK(pattern_matches(b.data, "554 5.7.1 <x@y>: RELAY\naccess denied") == 1);
    CHECK(pattern_matches(b.data, "Relay access deniedx") == 0);
    kb_buf_reset(&b);
    kb_literal_to_pattern("(535, b'", 8, &b);
    CHECK(pattern_matches(b.data, "SMTPAuthenticationError: (535, b'5.7.8") == 1);
    kb_buf_reset(&b);
    kb_literal_to_pattern("535", 3, &b);
    CHECK(pattern_matches(b.data, "id 15350") == 0);
    CHECK(pattern_matches(b.data, "got 535.") == 1);
    kb_buf_reset(&b);
    size_t prefix = 9;
    kb_regex_to_pattern("5\\.7\\.8 Username", 16, &b, &prefix);
    CHECK_STR(b.data, "\\b5\\.7\\.8\\s+Username\\b");
    CHECK(prefix == 2);
    kb_buf_reset(&b);
    kb_regex_to_pattern("(?<host>\\S+) refused", 20, &b, &prefix);
    CHECK_STR(b.data, "(?<host>\\S+)\\s+refused\\b");
    CHECK(prefix == 0);
    /* a space in a regex matches white space across a line break, as in a literal; not in a
     * class, not escaped, not in a lookbehind (fixed length); quantified, it stays one */
    kb_buf_reset(&b);
    kb_regex_to_pattern("a[ b] c\\ d(?<!x y)e ?f", 22, &b, &prefix);
    CHECK_STR(b.data, "\\ba[ b]\\s+c\\ d(?<!x y)e\\s?f\\b");
    CHECK(pattern_matches(b.data, "a  c de f") == 1);
    kb_buf_reset(&b);
    kb_regex_to_pattern("Must issue (?:a )?STARTTLS (?:command )?first", 46, &b, &prefix);
    CHECK(pattern_matches(b.data, "5.7.0 Must issue a STARTTLS\ncommand first.") == 1);
    CHECK(pattern_matches(b.data, "Must issue STARTTLS first") == 1);
    kb_buf_reset(&b);
    kb_regex_to_pattern("[] ]x", 5, &b, &prefix);
    CHECK_STR(b.data, "[] ]x\\b");
    kb_buf_reset(&b);
    kb_regex_to_pattern("a|b", 3, &b, &prefix);
    CHECK_STR(b.data, "a|b");
    kb_buf_reset(&b);
    kb_regex_to_pattern("x\\d", 3, &b, &prefix);
    CHECK_STR(b.data, "\\bx\\d");
    kb_buf_release(&b);
}

/* The random tests' generator (an LCG, so every run draws the same cases): the next state. */
static unsigned next_state(unsigned *seed)
{
    return *seed = *seed * 1103515245 + 12345;
}

/* n characters of alphabet (size chars) into out, drawn from *seed. */
static void random_chars(char *out, size_t n, const char *alphabet, size_t size, unsigned *seed)
{
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[(next_state(seed) >> 16) % size];
}

/* kb_literal_find must agree with PCRE2 running kb_literal_to_pattern's translation, on every
 * input: random literals and texts over an alphabet of the tricky cases (case, white space of
 * several kinds, word and non-word characters, a byte over 0x7f), and random windows. */
static void test_literal_find_matches_pcre2(void)
{
    static const char alphabet[] = {'a', 'A', 'b', ' ', '\n', '\t', '.', '5', '_', '-', (char)0xe9};
    unsigned seed = 12345;
    int disagreements = 0, matches = 0;
    for (int iter = 0; iter < 30000; iter++) {
        char lit[8], text[40];
        size_t ll = 1 + (next_state(&seed) >> 16) % 6;
        random_chars(lit, ll, alphabet, sizeof alphabet, &seed);
        size_t tl = (next_state(&seed) >> 16) % 32;
        random_chars(text, tl, alphabet, sizeof alphabet, &seed);
        unsigned r = next_state(&seed) >> 16;
        size_t start = tl ? r % (tl + 1) : 0;
        r = next_state(&seed) >> 16;
        size_t end = start + (tl - start ? r % (tl - start + 1) : 0);

        struct kb_buf pat;
        kb_buf_init(&pat, 0);
        kb_literal_to_pattern(lit, ll, &pat);
        size_t at = 0;
        int native = kb_literal_find(lit, ll, text, start, end, &at, NULL);
        int pcre = -1;
        PCRE2_SIZE pcre_at = 0;
        if (pat.len) {
            int err;
            PCRE2_SIZE off;
            pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.data, pat.len,
                                           kb_signature_compile_options(), &err, &off, NULL);
            pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
            int rc = pcre2_match(re, (PCRE2_SPTR)text, end, start, 0, md, NULL);
            pcre = rc >= 0;
            if (pcre)
                pcre_at = pcre2_get_ovector_pointer(md)[0];
            pcre2_match_data_free(md);
            pcre2_code_free(re);
        } else {
            pcre = 0; /* an all-space literal is empty: the compiler rejects it */
        }
        matches += native;
        if (native != pcre || (native && at != pcre_at)) {
            if (disagreements++ < 5)
                fprintf(stderr, "literal_find disagrees with PCRE2 on pattern '%s' (%d vs %d)\n",
                        pat.data ? pat.data : "", native, pcre);
        }
        kb_buf_release(&pat);
    }
    CHECK(disagreements == 0);
    CHECK(matches > 1000); /* the random cases do exercise matching */
}

/* kb_literal_find_at with the memo of its last miss (struct kb_literal_miss) must answer as
 * without it at every occurrence: on texts that repeat a short unit (so that the same bytes
 * recur around many positions and the memo answers) and up to both ends of the text (where a
 * comparison stops at the end, and the memo must not be trusted). The instructions it saves
 * are bench/per-byte's to show: it reads the same bytes, with one memcmp. */
static void test_literal_find_at_miss(void)
{
    static const char alphabet[] = {'a', 'A', 'b', ' ', '\n', '.', '5'};
    unsigned seed = 777;
    int matches = 0;
    for (int iter = 0; iter < 3000; iter++) {
        char lit[8], text[96];
        size_t ll = 1 + (next_state(&seed) >> 16) % 6;
        random_chars(lit, ll, alphabet, sizeof alphabet, &seed);
        next_state(&seed);
        size_t unit = 1 + (seed >> 16) % 7, tl = 20 + (seed >> 8) % 70;
        for (size_t i = 0; i < tl; i++) {
            if (i < unit) {
                random_chars(text + i, 1, alphabet, sizeof alphabet, &seed);
            } else {
                text[i] = text[i - unit];
            }
        }
        size_t anchor_in = (next_state(&seed) >> 16) % ll;
        struct kb_literal_miss miss = {0};
        for (size_t at = 0; at <= tl; at++) {
            size_t a1 = 0, a2 = 0;
            int plain = kb_literal_find_at(lit, ll, anchor_in, text, tl, at, &a1, NULL, NULL);
            int memo = kb_literal_find_at(lit, ll, anchor_in, text, tl, at, &a2, NULL, &miss);
            CHECK(plain == memo);
            CHECK(!plain || a1 == a2);
            matches += plain;
        }
    }
    CHECK(matches > 1000); /* the random cases do exercise matching */
}

/* input normalised; checked to be what the same input gives when its lines were indexed by
 * the MIME reader and handed down (kb_norm_run_lines, as a query runs it) */
static char *normalised(const char *input, size_t len, size_t *lines)
{
    struct kb_norm n, shared;
    struct kb_mime mime;
    CHECK(kb_norm_run(input, len, &n) == KB_OK);
    CHECK(kb_mime_read(input, len, &mime) == KB_OK);
    CHECK(mime.text == input); /* (these inputs are not MIME: the text is the input) */
    CHECK(kb_norm_run_lines(mime.text, mime.len, mime.line_start, mime.line_count, &shared)
          == KB_OK);
    CHECK(shared.orig_line_count == n.orig_line_count && shared.line_count == n.line_count);
    CHECK(shared.len == n.len && memcmp(shared.text, n.text, n.len) == 0);
    for (size_t i = 0; i <= n.orig_line_count; i++)
        CHECK(shared.orig_start[i] == n.orig_start[i]);
    for (size_t i = 0; i < n.line_count; i++)
        CHECK(shared.line_start[i] == n.line_start[i] && shared.orig_line[i] == n.orig_line[i]);
    char *out = strdup(n.text);
    if (lines)
        *lines = n.line_count;
    kb_norm_release(&shared);
    kb_mime_release(&mime);
    kb_norm_release(&n);
    return out;
}

#define CHECK_NORM(input, want)                                                                    \
    do {                                                                                           \
        char *n_ = normalised(input, strlen(input), NULL);                                         \
        CHECK_STR(n_, want);                                                                       \
        free(n_);                                                                                  \
    } while (0)

static void test_normalise(void)
{
    /* repeated lines (one line's work is remembered and replayed, kb_norm.c add_plain_line) in
     * every state: a reply continued by its copy, the same closing line twice, runs of empty
     * lines, a line after them */
    CHECK_NORM("535-5.7.8 a\n535-5.7.8 a\n535 5.7.8 a\n535 5.7.8 a\n\n\nx\nx\n",
               "535-5.7.8 a a\n535 5.7.8 a\n535 5.7.8 a\n\n\nx\nx");
    CHECK_NORM("\n\n\nanonymous\nanonymous\n\nanonymous",
               "\n\n\nanonymous\nanonymous\n\nanonymous");
    CHECK_NORM("535-5.7.8 Username and Password not accepted. Learn more at\n"
               "535 5.7.8  https://support.google.com/mail/?p=BadCredentials x - gsmtp",
               "535-5.7.8 Username and Password not accepted. Learn more at "
               "https://support.google.com/mail/?p=BadCredentials x - gsmtp");
    CHECK_NORM("[Error: 535-5.7.8 Username and Password not accepted. Learn more at\n"
               "535 5.7.8  https://support.google.com/mail/?p=BadCredentials]",
               "[Error: 535-5.7.8 Username and Password not accepted. Learn more at "
               "https://support.google.com/mail/?p=BadCredentials]");
    CHECK_NORM("(534, b'5.7.9 Application-specific password required. For more information, go "
               "to\\n5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor')",
               "(534, b'5.7.9 Application-specific password required. For more information, go "
               "to https://support.google.com/mail/?p=InvalidSecondFactor')");
    CHECK_NORM("\x1b[31mERROR\x1b[0m 550 5.1.1 User unknown", "550 5.1.1 User unknown");
    CHECK_NORM("[2022-11-16 11:57:21] DEBUG [lHr1v5x3A] S: 535 5.7.139 Denied",
               "535 5.7.139 Denied");
    CHECK_NORM("2021-07-13T10:41:36.005Z [error][Notifications]: x", ": x");
    CHECK_NORM("Nov 23 17:12:53 mx postfix/smtp[6569]: status=deferred",
               "mx postfix/smtp[6569]: status=deferred");
    CHECK_NORM("0|uptime-k |   reason: 'wrong version number',", "reason: 'wrong version number',");
    CHECK_NORM("{\"message\":\"Invalid login: 535 Incorrect authentication data\\\\n\"}",
               "{\"message\":\"Invalid login: 535 Incorrect authentication data\n\"}");
    CHECK_NORM("a\r\nb\r\n", "a\nb");
    /* hard-wrapped at 80 columns inside a word, then a short last line */
    CHECK_NORM("535 5.7.139 Authentication unsuccessful, the request did not meet the criteria t\n"
               "o be authenticated successfully.\nnext",
               "535 5.7.139 Authentication unsuccessful, the request did not meet the criteria t"
               "o be authenticated successfully.\nnext");
    CHECK_NORM("C:\\Users\\x", "C:\\Users\\x");
    /* \r and \t are escapes only where JSON puts them, not inside Windows paths */
    CHECK_NORM("C:\\Python37\\lib\\urllib\\request.py C:\\temp",
               "C:\\Python37\\lib\\urllib\\request.py C:\\temp");
    CHECK_NORM("{\"trace\": \"Error: x\\r\\n\\tat Foo.bar(Foo.java:1)\"}",
               "{\"trace\": \"Error: x\nat Foo.bar(Foo.java:1)\"}");
    CHECK_NORM("", "");
    size_t lines = 0;
    char *n = normalised("abc\0def", 7, &lines);
    CHECK_STR(n, "abc def");
    CHECK(lines == 1);
    free(n);

    /* the line map points back at the user's own lines */
    const char *log = "first\nsecond 550-5.1.1 a\n550 5.1.1 b\nthird";
    struct kb_norm norm;
    CHECK(kb_norm_run(log, strlen(log), &norm) == KB_OK);
    CHECK(norm.line_count == 3);
    CHECK(norm.orig_line_count == 4);
    CHECK(norm.orig_line[1] == 2 && norm.orig_line[2] == 4);
    CHECK(kb_norm_line_of(&norm, norm.line_start[2] + 1) == 2);
    kb_norm_release(&norm);
}

#define CHECK_MASK(input, want)                                                                    \
    do {                                                                                           \
        struct kb_buf m_;                                                                          \
        kb_buf_init(&m_, 0);                                                                       \
        CHECK(kb_mask_secrets(input, strlen(input), &m_) == KB_OK);                                \
        CHECK_STR(m_.data ? m_.data : "", want);                                                   \
        kb_buf_release(&m_);                                                                       \
    } while (0)

static void test_lists(void)
{
    CHECK(kb_list_contains("m365, exchange", "exchange"));
    CHECK(kb_list_contains("a,b ,  c", "b"));
    CHECK(!kb_list_contains("gmail", "gmai"));
    CHECK(!kb_list_contains("", "x"));
    CHECK(!kb_list_contains(NULL, "x"));
    CHECK(!kb_list_contains("a,,b", ""));
}

static void test_mask(void)
{
    /* an XML setting, and the source line of a login() call that a traceback shows */
    CHECK_MASK("<password>hunter2</password>", "<password>***</password>");
    CHECK_MASK("server.login('john@example.com', 'hunter2')",
               "server.login('john@example.com', '***')");
    CHECK_MASK("server.login(user, password)", "server.login(user, password)");
    CHECK_MASK("{\\\"smtp_pass\\\":\\\"hunter2\\\"}", "{\\\"smtp_pass\\\":\\\"***\\\"}");
    CHECK_MASK("C: AUTH PLAIN AHVzZXIAcGFzcw==", "C: AUTH PLAIN ***");
    CHECK_MASK("auth login dXNlcg==", "auth login ***");
    CHECK_MASK("smtp://user:s3cret@mail.example.com:587", "smtp://user:***@mail.example.com:587");
    CHECK_MASK("MAIL_PASSWORD=hunter2 MAIL_PORT=587", "MAIL_PASSWORD=*** MAIL_PORT=587");
    CHECK_MASK("auth: { user: 'a@b.c', pass: 'hunter2' }", "auth: { user: 'a@b.c', pass: '***' }");
    CHECK_MASK("[2022] DEBUG [x] C: Lyogc2VjcmV0ICov", "[2022] DEBUG [x] C: ***");
    CHECK_MASK("password authentication failed for user",
               "password authentication failed for user");
    CHECK_MASK("https://support.google.com/mail/?p=BadCredentials",
               "https://support.google.com/mail/?p=BadCredentials");
    CHECK_MASK("\x1b[1mbold\x1b[0m\x07", "bold");
    CHECK_MASK("client_secret=abc&api_key: xyz token=t0k",
               "client_secret=***&api_key: *** token=***");
    CHECK_MASK("SMTP_PASSWORD='hunter2'", "SMTP_PASSWORD='***'");
    /* a quoted value is masked up to its closing quote: app passwords are shown with spaces */
    CHECK_MASK("\"smtp_password\": \"abcd efgh ijkl mnop\", \"port\": 587",
               "\"smtp_password\": \"***\", \"port\": 587");
    CHECK_MASK("MAIL_PASSWORD='two words", "MAIL_PASSWORD='***");
    /* client answers to AUTH challenges in swaks (-> and ~> after TLS), curl -v (> ) and
     * PHPMailer (CLIENT -> SERVER: ) transcripts, short ones too; commands stay */
    CHECK_MASK(" ~> YmVuY2hAYmVuY2gudGVzdA==", " ~> ***");
    CHECK_MASK(" -> cHcx", " -> ***");
    CHECK_MASK("> AGJlbmNoQGJlbmNoLnRlc3QAd3JvbmctZmFrZS1wYXNzd29yZA==", "> ***");
    CHECK_MASK("2024-01-01 10:00:00 CLIENT -> SERVER: cHcx",
               "2024-01-01 10:00:00 CLIENT -> SERVER: ***");
    CHECK_MASK(" ~> QUIT", " ~> QUIT");
    CHECK_MASK("> EHLO localhost", "> EHLO localhost");
    CHECK_MASK("C: DATA", "C: DATA");
    /* keys in camel case, as .NET's appsettings.json has them */
    CHECK_MASK("\"SmtpPassword\": \"dotnet pw\",", "\"SmtpPassword\": \"***\",");
    CHECK_MASK("mailApiKey=abc123", "mailApiKey=***");
}

/* Providers and clients as a KB declares them (kb-provider, kb-client blocks), in
 * declaration order. */
static struct kb_providers test_providers;
static struct kb_clients test_clients;

static struct kb_facts facts_of(const char *text)
{
    struct kb_norm n;
    struct kb_facts f;
    CHECK(kb_norm_run(text, strlen(text), &n) == KB_OK);
    CHECK(kb_facts_extract(&n, &test_providers, &test_clients, NULL, &f) == KB_OK);
    kb_norm_release(&n);
    return f;
}

/* The provider fact comes from the KB's declarations: the first provider, in declaration
 * order, that the text names; a host caselessly and as a host or a parent domain of one, a
 * word as written. Without declarations there is no provider. */
static void test_providers_detect(void)
{
    struct kb_facts f = facts_of("535 5.7.3 Authentication unsuccessful [X.prod.OUTLOOK.COM]");
    CHECK_STR(f.provider, "m365");
    kb_facts_release(&f);
    f = facts_of("connect to myoutlook.com:587 failed"); /* not a host below outlook.com */
    CHECK(f.provider == NULL);
    kb_facts_release(&f);
    f = facts_of("550 relay denied by relay.acme.example via outlook.com");
    CHECK_STR(f.provider, "m365"); /* m365 is declared first */
    kb_facts_release(&f);
    f = facts_of("451 4.3.0 Acme Relay: try again later");
    CHECK_STR(f.provider, "acme-relay");
    kb_facts_release(&f);
    f = facts_of("451 4.3.0 ACME RELAY: try again later"); /* a word counts as written */
    CHECK(f.provider == NULL);
    kb_facts_release(&f);

    struct kb_norm n;
    const char *text = "535 5.7.3 Authentication unsuccessful [X.prod.outlook.com]";
    CHECK(kb_norm_run(text, strlen(text), &n) == KB_OK);
    CHECK(kb_facts_extract(&n, NULL, NULL, NULL, &f) == KB_OK);
    CHECK(f.provider == NULL);
    kb_facts_release(&f);
    kb_norm_release(&n);

    /* a long text is searched for every name in one pass: the same answers, the name before
     * or after 64 KiB of words that start as the names do */
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"[X.prod.OUTLOOK.COM]", "m365"},
        {"myoutlook.com:587", NULL},
        {"outlook.community", NULL},
        {"relay.acme.example via outlook.com", "m365"},
        {"Acme Relay: try again", "acme-relay"},
        {"ACME RELAY: try again", NULL},
        {"aka.ms/smtp", "m365"},
    };
    const char filler[] = " a mail from outlook or office at relay Acme aka ";
    size_t flen = sizeof filler - 1, reps = 70000 / flen;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t tlen = strlen(cases[c].text), len = reps * flen + tlen;
        char *before = malloc(len), *after = malloc(len);
        CHECK(before && after);
        memcpy(before, cases[c].text, tlen);
        for (size_t r = 0; r < reps; r++) {
            memcpy(before + tlen + r * flen, filler, flen);
            memcpy(after + r * flen, filler, flen);
        }
        memcpy(after + reps * flen, cases[c].text, tlen);
        const struct kb_provider_decl *shorter =
            kb_providers_detect(&test_providers, cases[c].text, tlen);
        CHECK_STR(shorter ? shorter->id : "(none)", cases[c].want ? cases[c].want : "(none)");
        for (int k = 0; k < 2; k++) {
            const struct kb_provider_decl *p =
                kb_providers_detect(&test_providers, k ? after : before, len);
            CHECK(p == shorter);
        }
        free(before);
        free(after);
    }
}

/* The client fact comes from the KB's declarations: the first client, in declaration order,
 * with a word in the text as written; its SMTP words make the text about mail, a tool's name
 * alone does not, and without declarations there is no client. */
static void test_clients_detect(void)
{
    struct kb_facts f =
        facts_of("Swift_TransportException: Expected response code 250 but got 535");
    CHECK_STR(f.client, "SwiftMailer");
    kb_facts_release(&f);
    f = facts_of("NODEMAILER failed"); /* a word counts as written */
    CHECK(f.client == NULL);
    kb_facts_release(&f);
    f = facts_of("Error: Greeting never received");
    CHECK_STR(f.client, "Nodemailer");
    CHECK(f.mail_context == KB_CONTEXT_IS_MAIL); /* an SMTP word says mail */
    kb_facts_release(&f);
    f = facts_of("at com.sun.mail.util.SocketFetcher.createSocket: connection failed");
    CHECK_STR(f.client, "JavaMail");
    CHECK(f.mail_context == KB_CONTEXT_IS_MAIL); /* a mailer's name does too */
    kb_facts_release(&f);
    f = facts_of("curl: (35) error:0A000086:SSL routines::certificate verify failed");
    CHECK_STR(f.client, "curl");
    CHECK(f.mail_context == KB_CONTEXT_IS_UNKNOWN); /* a tool's name alone does not */
    kb_facts_release(&f);
    CHECK(kb_clients_role(&test_clients, "Postfix") == KB_CLIENT_MAIL_SERVER);
    CHECK(kb_clients_role(&test_clients, "curl") == KB_CLIENT_TOOL);
    CHECK(kb_clients_role(&test_clients, "Nodemailer") == KB_CLIENT_MAILER);

    struct kb_norm n;
    const char *text = "Error: Invalid login: 535 5.7.8 Username and Password not accepted";
    CHECK(kb_norm_run(text, strlen(text), &n) == KB_OK);
    CHECK(kb_facts_extract(&n, NULL, NULL, NULL, &f) == KB_OK);
    CHECK(f.client == NULL);
    kb_facts_release(&f);
    kb_norm_release(&n);
}

/* A declared submission server is kept with its provider; a port without a host, or a port no
 * server can have, is none (a damaged database must not fill a command with port 0 or 70000). */
static void test_providers_submission(void)
{
    CHECK_STR(test_providers.items[0].submission_host, "smtp.office365.com");
    CHECK(test_providers.items[0].submission_port == 587);
    CHECK(test_providers.items[1].submission_host == NULL);
    CHECK(test_providers.items[1].submission_port == 0);
    struct kb_providers set = {0};
    CHECK(kb_providers_add(&set, "a", "A", NULL, NULL, "", 587) == KB_OK);
    CHECK(kb_providers_add(&set, "b", "B", NULL, NULL, "smtp.b.example", 70000) == KB_OK);
    CHECK(kb_providers_add(&set, "c", "C", NULL, NULL, "smtp.c.example", 0) == KB_OK);
    CHECK(set.count == 3);
    for (size_t i = 0; i < set.count; i++)
        CHECK(set.items[i].submission_host == NULL && set.items[i].submission_port == 0);
    kb_providers_release(&set);
}

static void test_facts(void)
{
    struct kb_facts f = facts_of("Error: connect ECONNREFUSED 10.0.0.1:587\n  code: 'ESOCKET'");
    CHECK_STR(f.host, "10.0.0.1");
    CHECK(f.port == 587);
    CHECK_STR(f.stage, "connect");
    CHECK(f.mail_context == 1);
    kb_facts_release(&f);

    f = facts_of("ERR! Redis Client Error! Error: connect ECONNREFUSED 127.0.0.1:6379");
    CHECK(f.mail_context == KB_CONTEXT_IS_OTHER);
    CHECK(f.port == 6379);
    kb_facts_release(&f);

    f = facts_of("Invalid login: 535 5.7.139 Authentication unsuccessful [X.prod.outlook.com]");
    CHECK(f.reply_code == 535);
    CHECK_STR(f.enhanced, "5.7.139");
    CHECK_STR(f.stage, "auth");
    CHECK_STR(f.client, "Nodemailer");
    CHECK_STR(f.provider, "m365");
    CHECK(f.mail_context == 1);
    kb_facts_release(&f);

    f = facts_of("Connection could not be established with host \"ssl://smtp.gmail.com:465\"");
    CHECK_STR(f.host, "smtp.gmail.com");
    CHECK(f.port == 465);
    kb_facts_release(&f);

    f = facts_of("javax.mail.MessagingException: Could not connect to SMTP host: smtp.gmail.com, "
                 "port: 465;");
    CHECK_STR(f.host, "smtp.gmail.com");
    CHECK(f.port == 465);
    CHECK_STR(f.client, "JavaMail");
    kb_facts_release(&f);

    f = facts_of("Expected response code \"235\" but got code \"535\", with message \"535 5.7.8\"");
    CHECK(f.reply_code == 535);
    CHECK_STR(f.client, "Symfony Mailer");
    kb_facts_release(&f);

    f = facts_of("IMAP command 'LOGIN' returned an error: NO [ALERT] Application-specific password "
                 "required: https://support.google.com/accounts/answer/185833");
    CHECK(f.mail_context == KB_CONTEXT_IS_OTHER);
    kb_facts_release(&f);

    f = facts_of("error:0A00010B:SSL routines:ssl3_get_record:wrong version number");
    CHECK(f.mail_context == KB_CONTEXT_IS_UNKNOWN);
    kb_facts_release(&f);

    f = facts_of("stream_socket_enable_crypto(): SSL operation failed with code 1.");
    CHECK(f.mail_context == KB_CONTEXT_IS_MAIL);
    kb_facts_release(&f);

    f = facts_of("Endpoint: admin/send-email\nInfo: self-signed certificate");
    CHECK(f.mail_context == KB_CONTEXT_IS_MAIL);
    kb_facts_release(&f);

    const char *other[] = {
        "Could not fetch URL https://pypi.python.org/simple/x/: certificate verify failed",
        "io.grpc.netty.shaded.io.netty.channel.AbstractChannel$AnnotatedConnectException: "
        "Connection refused",
        "Request returned status Code 401 Body: {\"errors\": []}",
        "curl https://example.org/x > x\ncurl: (60) SSL certificate problem",
        /* a mailer library's name does not make an HTTP API's refusal an SMTP problem */
        "[yii\\mail\\BaseMailer::send] Unable to send an email: Forbidden (code 401).",
        "Error: getaddrinfo ENOTFOUND api.nodemailer.com api.nodemailer.com:443 (nodemailer)",
        "S: -ERR Logon failure: unknown user name or bad password.",
        "WARNING: RPC failed: Status{code=UNAVAILABLE, cause=java.net.ConnectException}",
        "FetchError: request to https://example.org/api failed, reason: self signed certificate",
        "error: self signed certificate in webhook notification",
        /* .NET and Java HTTP stacks, SQL Server's TLS: the same TLS words as a mail client's */
        "System.Net.Http.HttpRequestException: The SSL connection could not be established ---> "
        "The client and server cannot communicate, because they do not possess a common algorithm",
        "The underlying connection was closed: Could not establish trust relationship for the "
        "SSL/TLS secure channel.",
        "A connection was successfully established with the server, but then an error occurred "
        "during the pre-login handshake. (provider: SSL Provider, error: 0 - The certificate chain "
        "was issued by an authority that is not trusted.)",
        "javax.net.ssl.SSLHandshakeException: PKIX path building failed\n\tat "
        "org.apache.http.impl.conn.DefaultHttpClientConnectionOperator.connect"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        f = facts_of(other[i]);
        CHECK(f.mail_context == KB_CONTEXT_IS_OTHER);
        kb_facts_release(&f);
    }

    f = facts_of("psql: error: connection to server at \"localhost\", port 5432 failed");
    CHECK(f.mail_context == KB_CONTEXT_IS_OTHER);
    kb_facts_release(&f);

    /* class names are not hosts; a recipient is not the login */
    f = facts_of("System.Net.Mail.SmtpException: 5.7.0 Must issue a STARTTLS command first\n"
                 "msmtp: server message: 554 5.7.1 <info@customer.de>: Relay access denied");
    CHECK(f.host == NULL);
    CHECK(f.user == NULL);
    kb_facts_release(&f);

    f = facts_of("INFO User \"myuser@mydomain.com\" failed to authenticate");
    CHECK_STR(f.user, "myuser@mydomain.com");
    kb_facts_release(&f);
}

/* A literal set built once answers every search like a search with its own tables (issue 9),
 * and a search leaves it as it was: the same set over many texts, in any order, found[] equal
 * to a naive strstr-like check each time. */
static int naive_present(const char *lit, const char *text, size_t len, int caseless)
{
    size_t m = strlen(lit);
    for (size_t i = 0; m && i + m <= len; i++) {
        size_t j = 0;
        while (j < m
               && (caseless ? tolower((unsigned char)text[i + j]) == tolower((unsigned char)lit[j])
                            : text[i + j] == lit[j]))
            j++;
        if (j == m)
            return 1;
    }
    return 0;
}

/* kb_literal_set_present remembers a pair's last fruitless walk and skips the same bytes later
 * (set_scan): random literals over a small alphabet, on texts repeating a short unit with a
 * change here and there, must still be found exactly where they are. */
static void test_literal_set_repeats(void)
{
    static const char alphabet[] = {'a', 'B', 'b', ' ', '\n', '5'};
    unsigned seed = 4242;
    int present = 0;
    for (int iter = 0; iter < 400; iter++) {
        char store[12][6];
        const char *lits[12];
        for (size_t k = 0; k < 12; k++) {
            size_t n = 1 + (next_state(&seed) >> 16) % 5;
            random_chars(store[k], n, alphabet, sizeof alphabet, &seed);
            store[k][n] = '\0';
            lits[k] = store[k];
        }
        char text[400];
        next_state(&seed);
        size_t unit = 2 + (seed >> 16) % 9, len = 50 + (seed >> 8) % 340;
        for (size_t i = 0; i < len; i++) {
            next_state(&seed);
            text[i] = i < unit || (seed >> 16) % 50 == 0 ? alphabet[(seed >> 20) % sizeof alphabet]
                                                         : text[i - unit];
        }
        for (int caseless = 0; caseless < 2; caseless++) {
            struct kb_literal_set *set = kb_literal_set_new(lits, 12, caseless);
            unsigned char found[12];
            CHECK(set && kb_literal_set_present(set, text, len, found) == 0);
            for (size_t k = 0; set && k < 12; k++) {
                CHECK(found[k] == naive_present(lits[k], text, len, caseless));
                present += found[k];
            }
            kb_literal_set_free(set);
        }
    }
    CHECK(present > 1000);
}

static void test_literal_set(void)
{
    static const char *const lits[] = {
        "535", "5.7.139",      "Auth", "authentication unsuccessful", "a", "ab", "xyz",
        "",    "unsuccessful", "5"};
    enum { N = sizeof lits / sizeof *lits };
    static const char *const texts[] = {"535 5.7.139 Authentication unsuccessful",
                                        "nothing here",
                                        "AB",
                                        "xyzxyz 5",
                                        "",
                                        "a",
                                        "auth AUTH Auth 535535"};
    for (int caseless = 0; caseless < 2; caseless++) {
        struct kb_literal_set *set = kb_literal_set_new(lits, N, caseless);
        CHECK(set != NULL);
        for (int round = 0; round < 3 && set; round++)
            for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
                size_t t2 = (t * (round + 1)) % (sizeof texts / sizeof *texts);
                unsigned char found[N], alone[N];
                size_t len = strlen(texts[t2]);
                CHECK(kb_literal_set_present(set, texts[t2], len, found) == 0);
                CHECK(kb_literals_present(lits, N, caseless, texts[t2], len, alone) == 0);
                for (size_t k = 0; k < N; k++) {
                    CHECK(found[k] == alone[k]);
                    CHECK(found[k] == naive_present(lits[k], texts[t2], len, caseless));
                }
            }
        kb_literal_set_free(set);
    }
}

/* Needs of a pattern as one string, texts joined by '/', "" when none. */
static char *needs_of(const char *pattern, int *rc)
{
    struct kb_buf b;
    kb_buf_init(&b, 0);
    *rc = kb_regex_required_literals(pattern, strlen(pattern), &b);
    char *out = malloc(b.len + 1);
    if (out) {
        for (size_t i = 0; i < b.len; i++)
            out[i] = b.data[i] ? b.data[i] : '/';
        out[b.len] = '\0';
    }
    kb_buf_release(&b);
    return out;
}

/* Issue 11: an unanchored alternation is skipped when no branch's text is in the input. Every
 * text a match needs is checked against PCRE2 itself: where the pattern matches, one of the
 * texts is in the input. */
static void test_required_literals(void)
{
    static const struct {
        const char *pattern, *needs;
    } cases[] = {
        {"nythxufla\\s+failed|flirkkyn\\s+invalid", "nythxufla/flirkkyn"},
        {"Quota exceeded|mailbox (?:is )?full", "exceeded/mailbox"},
        {"abc|x\\d+", ""},               /* a branch without text: nothing */
        {"abc|", ""},                    /* an empty branch matches anything */
        {"(?x)abc def|ghi", ""},         /* extended mode: not read */
        {"\\Qa|b\\E|cde", ""},           /* \Q...\E: not read */
        {"(?:ab|cd)efg", "efg"},         /* no top-level alternation: one text */
        {"[|]abc|de[f|]ghi", "abc/ghi"}, /* '|' in a class is no branch */
        {"\\|abcd|\\(efgh", "|abcd/(efgh"},
    };
    static const char *const texts[] = {
        "x NYTHXUFLA   failed y",
        "flirkkyn invalid",
        "quota exceeded",
        "Mailbox full",
        "mailbox is full",
        "abcdefg",
        "|abcd",
        "(efgh",
        "de|ghi",
        "nothing",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc;
        char *got = needs_of(cases[i].pattern, &rc);
        CHECK_STR(got, cases[i].needs);
        CHECK(rc == (cases[i].needs[0] ? 1 : 0));
        int errcode;
        PCRE2_SIZE erroff;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)cases[i].pattern, PCRE2_ZERO_TERMINATED,
                                       kb_signature_compile_options(), &errcode, &erroff, NULL);
        CHECK(re != NULL);
        pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;
        for (size_t t = 0; re && md && got && got[0] && t < sizeof texts / sizeof *texts; t++) {
            if (pcre2_match(re, (PCRE2_SPTR)texts[t], strlen(texts[t]), 0, 0, md, NULL) < 0)
                continue;
            int found = 0;
            for (char *n = got; *n && !found;) {
                size_t len = strcspn(n, "/");
                for (const char *h = texts[t]; *h && !found; h++)
                    found = strncasecmp(h, n, len) == 0;
                n += len + (n[len] == '/');
            }
            CHECK(found);
        }
        pcre2_match_data_free(md);
        pcre2_code_free(re);
        free(got);
    }
}

int main(void)
{
    test_anchors();
    test_tokens();
    test_patterns();
    test_literal_find_matches_pcre2();
    test_literal_find_at_miss();
    test_normalise();
    test_mask();
    test_lists();
    test_literal_set();
    test_literal_set_repeats();
    test_required_literals();
    CHECK(kb_providers_add(&test_providers, "m365", "Microsoft 365", "outlook.com, office365.com",
                           "aka.ms/smtp", "smtp.office365.com", 587)
          == KB_OK);
    CHECK(kb_providers_add(&test_providers, "acme-relay", "Acme Relay", "relay.acme.example",
                           "Acme Relay", NULL, 0)
          == KB_OK);
    /* SwiftMailer before Symfony Mailer: Swift's texts hold Symfony's SMTP words too */
    CHECK(kb_clients_add(&test_clients, "swiftmailer", "SwiftMailer", NULL, "Swift_", NULL)
          == KB_OK);
    CHECK(kb_clients_add(&test_clients, "symfony-mailer", "Symfony Mailer", "mailer",
                         "Symfony\\Component\\Mailer", "Expected response code")
          == KB_OK);
    CHECK(kb_clients_add(&test_clients, "nodemailer", "Nodemailer", NULL, "nodemailer, Nodemailer",
                         "Invalid login:, Greeting never received")
          == KB_OK);
    CHECK(kb_clients_add(&test_clients, "javamail", "JavaMail", NULL, "javax.mail, com.sun.mail",
                         NULL)
          == KB_OK);
    CHECK(kb_clients_add(&test_clients, "curl", "curl", "tool", "curl: (", NULL) == KB_OK);
    CHECK(kb_clients_add(&test_clients, "postfix", "Postfix", "mail-server", NULL, "postfix/")
          == KB_OK);
    test_facts();
    test_clients_detect();
    test_providers_detect();
    test_providers_submission();
    kb_providers_release(&test_providers);
    kb_clients_release(&test_clients);
    return check_report("test_text");
}
