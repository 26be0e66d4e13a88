/*
 * kb.h - the lookup library: from pasted error text to ranked knowledge-base entries.
 *
 * This is the whole public API of libkb. kb-lookup (the CLI) and kb-compile (its self-test)
 * both link it, so the compiler checks examples with exactly the code users run. The library
 * never prints and never exits: every function returns an enum kb_status and, on failure, fills
 * the caller-owned struct kb_error with a one-line message. Printing is the programs' job.
 *
 * Pipeline of one query (kb_query_run), one stage a file, data flowing one way:
 *   raw bytes
 *   -> bounce          kb_bounce.c      a pasted message's structure read (kb_mime.c: MIME parts
 *                                       decoded, each line mapped back to the input); when it
 *                                       is a delivery report, its regions marked (diagnostic,
 *                                       explanation, the report's own headers, the returned
 *                                       original) and its facts read per recipient; messages
 *                                       that report no failure (auto-replies, ARF, delivery
 *                                       notices, read receipts) told
 *   -> normalise       kb_norm.c        wrappers, escapes, ANSI, log prefixes, reply folding
 *   -> mask            kb_mask.c        secrets out, before anything can echo them
 *   -> dialogue        kb_dialogue.c    an SMTP transcript or MTA log read into one dialogue:
 *                                       greeting, EHLO offers, TLS, the failing reply, the end
 *   -> facts           kb_facts.c       codes, stage, host/port/user, client, context, and the
 *                                       provider (kb_providers.c: the KB's declared ones)
 *   -> signatures      kb_signatures.c  literal prefilter + PCRE2 near each anchor
 *   -> conditions      kb_conditions.c  the articles' conditions over facts, dialogue and report
 *   -> full text       kb_fulltext.c    FTS5 over the rarest known terms: the share of the
 *                                       text each section explains (BM25F, word pairs)
 *   -> rank            kb_rank.c        merged, ordered, confidence-classed matches
 *   -> struct kb_result
 * The evidence stages read the regions that are evidence (kb_query_view); a bounce that reports
 * different failures for several recipients is read once per recipient, its diagnostic before
 * its explanation.
 * kb_query.c drives the stages (kb_query.h holds the state they share); kb_db.c opens and
 * checks a database whose format kb_schema.c defines once, reading it through kb_vfs.c, which
 * checks every page's checksum (kb_integrity.c) as SQLite first reads it.
 *
 * Installed, libkb is libkb.so.N (N changes when a change to this header breaks programs
 * built against an older one) and libkb.a; a program builds with
 *   cc prog.c $(pkg-config --cflags --libs kb)
 * (examples/demo.c is one). A struct kb_db serves one query at a time: a program that
 * queries from several threads opens one handle per thread. Nothing of one query is kept
 * for the next (a handle keeps only the KB's own patterns, compiled on their first use).
 */
#ifndef KB_H
#define KB_H

#include <stddef.h>

enum kb_status {
    KB_OK = 0,
    KB_ERR_NOMEM,
    KB_ERR_IO,         /* cannot open or read a file */
    KB_ERR_DB,         /* SQLite failed, or the database is corrupt/not a KB database */
    KB_ERR_DB_VERSION, /* a KB database of another schema version */
    KB_ERR_TOO_LARGE,  /* input over the caller's cap */
    KB_ERR_NOT_FOUND,  /* no such entry id */
    KB_ERR_INVALID,    /* invalid argument */
};

/* Caller-owned error detail. message is always NUL-terminated (may be truncated). */
struct kb_error {
    enum kb_status status;
    char message[512];
};

/* Returns a static, lowercase description of a status ("out of memory", ...). */
const char *kb_status_str(enum kb_status status);

/* ---- the database ------------------------------------------------------------------------ */

struct kb_db; /* opaque */

/* Opens a compiled KB database read-only (immutable). On success *out must be released with
 * kb_db_close. Checks the application id and schema version; a file that is missing, not
 * SQLite, corrupt or of another version fails with a message naming the path. */
enum kb_status kb_db_open_file(const char *path, struct kb_db **out, struct kb_error *err);

/* Opens a database image held in memory (e.g. embedded in the executable). data must stay
 * valid and unchanged until kb_db_close; it is never written. label names it in messages. */
enum kb_status kb_db_open_memory(const unsigned char *data, size_t len, const char *label,
                                 struct kb_db **out, struct kb_error *err);

/* Releases everything the handle holds. Accepts NULL. */
void kb_db_close(struct kb_db *db);

/* Checks the whole database, for an install-time check (kb-lookup --check-db, kb-compile
 * --verify): every page's checksum, SQLite's own integrity check of every table and index, and
 * the blobs (already checked and decoded by the open). A lookup checks only the pages it reads,
 * as it reads them. KB_OK when intact, else KB_ERR_DB with a message naming the damage. */
enum kb_status kb_db_check(struct kb_db *db, struct kb_error *err);

/* Metadata of the open KB; strings owned by db, valid until kb_db_close. */
const char *kb_db_build_hash(const struct kb_db *db); /* hex SHA-256 of the KB sources */
const char *kb_db_label(const struct kb_db *db);      /* path or label given at open */
int kb_db_schema_version(const struct kb_db *db);
long kb_db_entry_count(const struct kb_db *db);

/* ---- entries ----------------------------------------------------------------------------- */

/* The renderings the KB stores of an entry's parts: plain text, text with ANSI emphasis, and
 * Markdown. */
enum kb_form { KB_FORM_TEXT = 0, KB_FORM_ANSI = 1, KB_FORM_MARKDOWN = 2 };

/* A part of an entry's solution that applies to some providers only: a step or a sub-section
 * the article marks in a kb-provider-steps block. Strings are heap copies owned by the entry. */
struct kb_step {
    char *labels;    /* the words the article marks it by, ", "-joined ("Microsoft 365") */
    char *providers; /* comma-separated provider facet values ("m365,exchange") */
    /* where it is: [start[f], end[f]) of the solution in form f (solution_text, solution_ansi,
     * solution_md); whole lines, checked against their lengths when loaded */
    size_t start[3], end[3];
    int part; /* 0: a step of the Fix itself; 1, 2...: in a section after it (Verify...) */
};

/* One entry as stored. All strings are heap copies owned by the struct; never NULL ("" when
 * absent). Free with kb_entry_free. */
struct kb_entry {
    char *id;
    char *title;
    char *article; /* article path relative to the KB folder, '/'-separated */
    char *article_title;
    char *provider; /* comma-separated facet values, "" if none */
    char *audience;
    char *related;  /* comma-separated ids */
    char *why_text; /* "Why it happens" (without its heading): plain text, with ANSI
                     * emphasis, and Markdown */
    char *why_ansi;
    char *why_md;
    char *tell_text; /* "Tell it apart": the one check that tells this cause from others that
                      * fit the same text ("" when the entry has none); text, ANSI, Markdown */
    char *tell_ansi;
    char *tell_md;
    char *solution_text; /* the Fix section (without its heading) and the sections after it
                          * (Verify, When to hand over); may hold {{name|default}} */
    char *solution_ansi;
    char *solution_md;
    char *body_md;         /* the whole entry as Markdown (kb- blocks left out), for --show */
    struct kb_step *steps; /* its provider-specific steps, in document order (nested ones after
                            * the step that holds them) */
    size_t step_count;
    int signature_count;
    int fulltext_only; /* 1 for foreign Markdown with no kb-entry block */
};

void kb_entry_free(struct kb_entry *entry); /* accepts NULL */

/* A place where kb_solution_select left steps out. */
struct kb_gap {
    size_t offset;   /* in the selected text: where the steps were (the start of a line) */
    size_t indent;   /* the indentation (columns) of the first of them */
    char *labels;    /* their labels, ", "-joined */
    char *providers; /* the providers they are for, comma-separated */
    size_t kept;     /* inside kept step kept - 1 (struct kb_selection), 0 when in none */
};

/* A step kept because it is marked for the provider of the text. */
struct kb_kept {
    size_t start, end; /* where it is in the selected text: [start, end), whole lines */
    size_t step;       /* which of the entry's steps (its labels, providers) */
};

/* The solution as the reader of one text needs it. Owned by the caller, released with
 * kb_selection_release. */
struct kb_selection {
    char *text; /* the solution in the requested form, steps for other providers left out */
    struct kb_gap *gaps;
    size_t gap_count;
    struct kb_kept *kept; /* the steps for the provider, outermost only, in order */
    size_t kept_count;
};

/* The solution of entry e in form f for a text from provider (a facet value, "gmail"): its
 * general parts and the steps marked for that provider (listed in kept); each run of steps
 * marked only for other providers is left out and becomes a gap. provider NULL (none seen) keeps
 * everything, with no gaps. Placeholders are left as written (kb_template_expand them afterwards).
 * Fails only with KB_ERR_NOMEM (out released). */
enum kb_status kb_solution_select(const struct kb_entry *e, enum kb_form f, const char *provider,
                                  struct kb_selection *out);
void kb_selection_release(struct kb_selection *s); /* accepts an empty or released one */

/* Loads the entry with this id into *out (caller frees). KB_ERR_NOT_FOUND if absent. */
enum kb_status kb_entry_get(struct kb_db *db, const char *id, struct kb_entry **out,
                            struct kb_error *err);

/* Calls visit for every entry in id order; stops early when visit returns non-zero. The entry
 * passed is valid only during the call. */
enum kb_status kb_entry_each(struct kb_db *db,
                             int (*visit)(const struct kb_entry *entry, void *arg), void *arg,
                             struct kb_error *err);

/* ---- queries ----------------------------------------------------------------------------- */

enum kb_confidence { KB_CONF_WEAK = 0, KB_CONF_LIKELY, KB_CONF_EXACT };
enum kb_via { KB_VIA_SIGNATURE = 0, KB_VIA_FULLTEXT };

const char *kb_confidence_str(enum kb_confidence c); /* "weak" | "likely" | "exact" */
const char *kb_via_str(enum kb_via v);               /* "signature" | "fulltext" */

struct kb_query_options {
    size_t top;       /* how many matches at most (0 means 3) */
    size_t max_input; /* refuse input longer than this many bytes (0 means 16 MiB) */
};

/* A line of the user's input that supports a match. line is 1-based in the original input;
 * text is that original line with secrets masked and control bytes removed. */
struct kb_evidence {
    size_t line;
    char *text;
};

/* A named value: a regex capture or an extracted fact. Secrets already masked. */
struct kb_pair {
    char *name;
    char *value;
};

struct kb_match {
    struct kb_entry *entry; /* full entry (solution, why, ...) */
    double score;
    enum kb_confidence confidence;
    enum kb_via via;
    struct kb_evidence *evidence;
    size_t evidence_count;
    struct kb_pair *captures; /* named captures of the signatures that matched */
    size_t capture_count;
    char **explain; /* human-readable lines: what matched and how the score was made */
    size_t explain_count;
    char **matched_signatures; /* source text of each signature that matched (for self-test) */
    size_t matched_signature_count;
    /* The section of the entry the evidence points at, for an entry of several sections (a
     * foreign article with one problem per heading); NULL when the entry is one section.
     * heading is plain text, anchor the heading as a URL fragment (GitHub style), line where
     * the heading is in the article. */
    char *section_heading;
    char *section_anchor;
    size_t section_line;
    /* When a bounce reports different failures for several recipients, each gets its own
     * answer: the recipient(s) this match answers for (addresses, ", "-separated); NULL when
     * the answer is for the whole text. */
    char *recipient;
};

/* Facts extracted from the whole input. Strings are NULL when not found; port/code 0. */
struct kb_facts {
    int reply_code; /* RFC 5321 three-digit reply code, e.g. 535 */
    char *enhanced; /* RFC 3463 class.subject.detail, e.g. "5.7.139" */
    char *stage;    /* connect, ehlo, starttls, auth, mail, rcpt, data */
    char *host;
    int port;
    char *user;
    char *client;        /* recognised client library, e.g. "PHPMailer" */
    char *provider;      /* the first provider the KB declares (kb-provider blocks) that the
                          * text names, by its id, e.g. "m365" */
    int mail_context;    /* KB_CONTEXT_IS_MAIL, _UNKNOWN or _OTHER (see below) */
    char *other_program; /* with KB_CONTEXT_IS_OTHER: the words that told ("npm ERR"), else NULL */
};

/* What the text is about, for signatures marked context=mail: visibly about sending mail
 * (they count fully), no sign either way (they count half), or visibly another program's
 * error - a database, package manager, git, IMAP... (they do not count). */
enum { KB_CONTEXT_IS_OTHER = -1, KB_CONTEXT_IS_UNKNOWN = 0, KB_CONTEXT_IS_MAIL = 1 };
const char *kb_context_str(int mail_context); /* "mail" | "unknown" | "other" */

/* One recipient of a delivery report. Strings are heap copies (secrets masked), NULL when the
 * report does not give them. */
struct kb_recipient {
    char *address;    /* Final-Recipient (or Original-Recipient, or as the explanation names it) */
    char *action;     /* failed, delayed, delivered, relayed or expanded (lowercase) */
    char *status;     /* RFC 3463 status code, e.g. "5.1.1" */
    char *remote_mta; /* the server that refused, e.g. "mx.example.com" */
    char *diagnostic; /* the failure as that server or the reporting MTA worded it */
    size_t line;      /* 1-based input line of the diagnostic, 0 when none */
    /* What status means by RFC 3463 and the IANA registry: its class ("permanent failure",
     * "persistent transient failure", "success") and its subject and detail ("bad destination
     * mailbox address"); static, NULL when there is no status or it is not a valid code. */
    const char *status_class;
    const char *status_meaning;
};

/* What a delivery report (a bounce) says, when the text is one. */
struct kb_report {
    /* The report's format: the mail system whose wording it has ("postfix", "exim", "qmail",
     * "sendmail", "courier", "exchange", "gmail", "yahoo", "domino", "mdaemon"), "rfc3464" for a
     * standard report in no known wording, "generic" for one recognised by its subject or
     * its fields alone, "postfix-log" / "exim-log" for an MTA's delivery log, "session" for
     * the application's own SMTP session failing (no report: see leg); NULL when the text is
     * none of these. Static. */
    const char *format;
    /* Which leg failed: "delivery" (a server that had accepted the message could not deliver
     * it: a bounce, a delivery log), "submission" (the application's own SMTP server refused
     * it: its client's session or a log of it, or an MTA relaying through a submission port);
     * NULL when format is NULL. Static. */
    const char *leg;
    char *reporting_mta;
    struct kb_recipient *recipients;
    size_t recipient_count;
    /* When the message reports no failure at all (an automatic reply, a delivery notification,
     * an abuse report, a read receipt): why, in a few words; else NULL. Static. Such a text
     * gets no match. */
    const char *not_failure;
};

/* An SMTP dialogue read from the text: a client's transcript (swaks, curl -v, PHPMailer
 * SMTPDebug, smtplib debuglevel, msmtp --debug, Nodemailer or MailKit protocol logs, Ruby
 * Net::SMTP debug_output, JavaMail debug, plain S:/C: or <<< / >>> lines) or an MTA's log
 * lines about one session. Tri-state fields: 1 yes, 0 no, -1 the text does not tell. It states
 * what happened, never why. Strings are heap copies owned by the result (the static ones are
 * not), NULL when the text does not tell. */
struct kb_dialogue {
    const char *format;          /* "swaks", "curl", "phpmailer", "smtplib", "msmtp",
                                  * "nodemailer", "mailkit", "ruby", "javamail", "generic",
                                  * "postfix-log", "exim-log"...; an MTA's log has a name
                                  * ending in "-log", a client's transcript not; NULL when the
                                  * text holds no dialogue. Static. */
    int connected;               /* the TCP connection was made */
    int greeting;                /* a 220 greeting was received */
    int ehlo;                    /* an EHLO/HELO was answered with 250 */
    int starttls_offered;        /* the EHLO reply before TLS listed STARTTLS */
    int tls;                     /* TLS was up: STARTTLS completed, or implicit TLS */
    int auth_offered;            /* the last EHLO reply (after TLS when TLS started) listed AUTH */
    int auth_offered_before_tls; /* the EHLO reply before STARTTLS listed AUTH */
    char *auth_mechanisms;       /* as the server listed them ("PLAIN LOGIN"), NULL when none */
    long size_limit;             /* SIZE the server announced, 0 when none */
    char *last_command;          /* verb of the last command the client sent ("AUTH", "MAIL",
                                  * "RCPT", "DATA", "STARTTLS", "EHLO", "QUIT"), NULL if none */
    int failing_reply;           /* the first 4xx/5xx reply code of the dialogue, 0 when none */
    char *failing_command;       /* the verb that reply answered ("CONNECT" for the greeting),
                                  * or that an MTA log says failed without its code; NULL when
                                  * unknown */
    size_t failing_line;         /* 1-based input line of that reply, 0 when none */
    const char *ended;           /* how the session ended: "quit", "timeout", "reset",
                                  * "closed" (the peer closed it), NULL when not told. Static. */
    int port;                    /* the port a connection line names, 0 when none */
    int tls_failed;              /* a TLS handshake or the client's check of the server's
                                  * certificate visibly failed (0: TLS came up and held) */
};

/* What the KB declares of the provider seen in the text (a kb-provider block): its name and
 * the server its users submit mail to. Strings are heap copies owned by the result; all NULL
 * (port 0) when no provider was seen or the KB declares nothing of it. */
struct kb_provider {
    char *id;   /* the facet value, as facts.provider */
    char *name; /* "Gmail"; NULL when the declaration gives none */
    char *host; /* its well-known submission server ("smtp.gmail.com"), NULL when none */
    int port;   /* that server's port (587), 0 when none */
};

struct kb_result {
    struct kb_facts facts;
    struct kb_provider provider;
    struct kb_report report;
    struct kb_dialogue dialogue;
    struct kb_match *matches; /* best first */
    size_t match_count;
    size_t input_lines;
    /* Where the customer's values in facts came from, so that a printer can show each with
     * its origin: the 1-based line of the input that facts.host, facts.port and facts.user
     * were read from; 0 when the value is not set. (Last in the struct: programs built
     * against an older kb.h keep working.) */
    struct kb_value_lines {
        size_t host, port, user;
    } value_lines;
    /* 1 when the input looks binary (a tenth of its bytes or more are NUL, control bytes or
     * invalid UTF-8): only the lines that read as text, and runs of words inside the others,
     * were matched. With no match, "input looks binary" is the reason to give. */
    int input_binary;
};

/* Runs one query over text (len bytes, any bytes: NUL, invalid UTF-8, CRLF, ANSI colour).
 * On success *out holds the result (match_count may be 0) and must be freed with
 * kb_result_free. Input over options->max_input fails with KB_ERR_TOO_LARGE. */
enum kb_status kb_query_run(struct kb_db *db, const char *text, size_t len,
                            const struct kb_query_options *options, struct kb_result **out,
                            struct kb_error *err);

void kb_result_free(struct kb_result *result); /* accepts NULL */

/* Expands {{name|default}} placeholders of template using the match's captures, then the
 * result's facts, then what the KB declares of the provider seen in the text (host and port
 * of its submission server, when the text names no host, or names that server, and is not
 * about a delivery between two mail servers), then the default; a placeholder with none of
 * these stays as written. Each substituted
 * value (not defaults) is wrapped in open/close (e.g. ANSI codes; may be ""). Returns a heap string
 * the caller frees, or NULL when out of memory. match and result may be NULL (then defaults are
 * used). */
char *kb_template_expand(const char *template_text, const struct kb_match *match,
                         const struct kb_result *result, const char *open, const char *close);

/* The value of a placeholder name for this match, or NULL: captures first, then facts, then
 * the provider's submission server (as kb_template_expand).
 * The returned string is owned by match/result, or by buf when the value is a number. */
const char *kb_placeholder_value(const char *name, const struct kb_match *match,
                                 const struct kb_result *result, char *buf, size_t buf_len);

/* ---- logs of unanswered questions -------------------------------------------------------- */

/* The text as a log of questions the KB could not answer may keep it (kb-lookup
 * --log-misses): read as a lookup reads it (MIME parts decoded, log wrapping stripped, one
 * line per normalised line), credentials masked as in every answer, and customer values
 * replaced by placeholders: e-mail addresses "<address>", host and domain names "<host>", IP
 * addresses "<ip>", user names (the result's user fact, "user=..."-style settings, a URL's
 * user part) "<user>", opaque tokens (queue and message ids, encoded blobs) "<id>", numbers of
 * six digits or more "<n>". The error's wording, codes and ports, and the names of programs,
 * files and exceptions stay. Lines are cut at 300 bytes; when the whole does not fit in max
 * bytes (0 means 4096), the lines that carry the error (a 4xx/5xx code, an error word) are
 * kept first, and "[...]" stands where lines were left out. result (may be NULL) is the
 * lookup's result for the same text: the values it found are replaced wherever they appear.
 * On success *out is a NUL-terminated heap string of at most max bytes the caller frees.
 * Single-label host names that the result does not name ("mailhost") are not recognised. */
enum kb_status kb_text_redact(const char *text, size_t len, const struct kb_result *result,
                              size_t max, char **out, struct kb_error *err);

#endif
