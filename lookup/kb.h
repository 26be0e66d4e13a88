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
 *                                       original) and its facts read per recipient; a line of
 *                                       one pasted alone known by its form (the leg); messages
 *                                       that report no failure (auto-replies, ARF, delivery
 *                                       notices, read receipts) told
 *   -> normalise       kb_norm.c        wrappers, escapes, ANSI, log prefixes, reply folding
 *   -> mask            kb_mask.c        secrets out, before anything can echo them
 *   -> dialogue        kb_dialogue.c    an SMTP transcript or MTA log read into one dialogue:
 *                                       greeting, EHLO offers, TLS, the failing reply, the end
 *   -> facts           kb_facts.c       codes, stage, host/port/user (each with its input line),
 *                                       context, the client and the provider (kb_clients.c,
 *                                       kb_providers.c: the KB's declared ones);
 *                                       kb_language.c: the text's language
 *   -> signatures      kb_signatures.c  literal prefilter (kb_prefilter.c: the anchor index,
 *                                       read in place) + PCRE2 near each anchor
 *   -> conditions      kb_conditions.c  the articles' conditions over facts, dialogue and report
 *   -> full text       kb_fulltext.c    FTS5 over the rarest known terms: the share of the
 *                                       text each section explains (BM25F, word pairs)
 *   -> rank            kb_rank.c        merged, ordered, confidence-classed matches
 *   -> struct kb_result                 entries loaded with their solution's steps
 *                                       (kb_steps.c) in the language asked for
 * A KB of several layers (kb_layers.c: a team's KB over the shipped one) runs the stages once
 * a layer and merges the ranked lists; no stage knows about layers.
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
 * for the next (a handle keeps only what is the KB's own: its patterns, compiled on their
 * first use and JIT-compiled once it has answered a query, its signature rows and conditions
 * as read, so that a handle that answers many queries pays for them once).
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

/* ---- layers: a team's own KB on top of the shipped one ---------------------------------- */

/* A KB may be a stack of layers: the first database, then each one stacked on it with
 * kb_db_layer_add, in order. A later layer's entry replaces the entry of the same id below it;
 * its new ids add to the KB; and it may hide ids of the layers below (a kb-hide block in its
 * articles). Every function that takes the first layer's handle (kb_query_run, kb_entry_get,
 * kb_entry_each) then reads the stack as one KB: one ranked list, no duplicates, each entry
 * naming its layer (struct kb_entry's layer). Each layer is queried on its own and the lists
 * are merged by score: written signatures' weights are the same scale in every layer, and
 * full text scores the share of the text a section explains (0 to 1), so an entry scores the
 * same alone in its layer as in the stack. The metadata functions above (kb_db_build_hash...)
 * describe the one database they are given; kb_db_check checks every layer. */

/* Stacks layer (an open database with nothing stacked on it) on top of db's layers; db owns
 * it from then on, even when this fails (then it is closed). KB_ERR_INVALID when layer is
 * itself a stack or already stacked. */
enum kb_status kb_db_layer_add(struct kb_db *db, struct kb_db *layer, struct kb_error *err);

/* How many layers db has (1 for a database alone), and layer i of them (0 is db itself;
 * NULL past the last). Owned by db. */
size_t kb_db_layer_count(const struct kb_db *db);
const struct kb_db *kb_db_layer(const struct kb_db *db, size_t i);

/* The build hash of the KB this database was compiled against (kb-compile --base), or NULL
 * when it was compiled as a whole KB. Owned by db. */
const char *kb_db_base_build(const struct kb_db *db);

/* What layer i of db does to the layers below it, as ", "-joined ids in id order (heap
 * strings the caller frees, "" when none): the ids of its entries that replace one of theirs,
 * and the ids it hides that one of them holds. */
enum kb_status kb_db_layer_changes(const struct kb_db *db, size_t i, char **replaced, char **hidden,
                                   struct kb_error *err);

/* ---- languages --------------------------------------------------------------------------- */

/* An article may have translations (name.LANG.md beside name.md): the same entries in another
 * language, with signatures and examples of their own that every lookup matches. */

/* The languages db holds, comma-separated, its default (declared in the KB) first ("en,de,fr");
 * "" when the KB declares none. Owned by db. */
const char *kb_db_languages(const struct kb_db *db);

/* Entries loaded from now on (kb_entry_get, kb_entry_each, kb_query_run's matches) are in the
 * language locale names when the KB holds it: a locale name as LANG gives it
 * ("de_DE.UTF-8": de_DE if held, else de), NULL or any other for the default. Applies to
 * every layer of a stack. Fails only with KB_ERR_NOMEM. */
enum kb_status kb_db_language_set(struct kb_db *db, const char *locale, struct kb_error *err);

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

/* Which part of a solution a struct kb_fix_step is. */
enum kb_fix_part {
    KB_FIX_INTRO = 0,   /* the Fix's text before its first step */
    KB_FIX_STEP = 1,    /* a step of the Fix */
    KB_FIX_VERIFY = 2,  /* a step of Verify */
    KB_FIX_HANDOVER = 3 /* "When to hand over" */
};

/* One step of an entry's solution, for programs that show a fix step by step: the article's
 * list items of Fix and Verify (a section without a list is one step), compiled with the
 * database. Strings are heap copies owned by the entry, never NULL; placeholders as written
 * (kb_template_expand them, kb_placeholder_origin says where each value came from). */
struct kb_fix_step {
    int part;        /* enum kb_fix_part */
    long number;     /* as the article numbers the step (bullets counted); 0: intro, hand-over */
    char *providers; /* comma-separated provider ids when a kb-provider-steps line marks this
                      * very step, else "" */
    char *text;      /* plain text, one line a paragraph */
    char *markdown;  /* CommonMark: paragraphs not wrapped, code fenced */
    char **commands; /* its code blocks, and its code spans that hold a placeholder */
    size_t command_count;
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
    int fulltext_only;       /* 1 for foreign Markdown with no kb-entry block */
    size_t layer;            /* the layer of the KB it comes from (kb_db_layer), 0 in a KB of one */
    char *language;          /* the language its text is in ("de"); "" when the KB declares none */
    struct kb_fix_step *fix; /* the solution's structure in document order: intro, steps,
                              * verify, hand-over (each may be absent) */
    size_t fix_count;
};

void kb_entry_free(struct kb_entry *entry); /* accepts NULL */

/* Which of an entry's texts kb_query_run and kb_entry_get read (a set of KB_TEXTS_* bits): on
 * a handle just opened, all of them. A program that prints one or two renderings asks for
 * those alone and each answer's rows are read without the others, which then hold "" (and
 * their steps' ranges [0, 0)): the --json printer never shows the ANSI text nor the body, the
 * terminal's never the Markdown. Applies to every layer of a stack, and to each layer stacked
 * later. */
enum kb_texts {
    KB_TEXTS_PLAIN = 1,    /* why_text, tell_text, solution_text */
    KB_TEXTS_ANSI = 2,     /* why_ansi, tell_ansi, solution_ansi */
    KB_TEXTS_MARKDOWN = 4, /* why_md, tell_md, solution_md */
    KB_TEXTS_BODY = 8,     /* body_md */
    KB_TEXTS_ALL = 15
};
void kb_db_texts_set(struct kb_db *db, unsigned texts);

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
    size_t max_input; /* refuse input longer than this many bytes (0 means 16 MiB; at most
                       * 4 GiB - 2, whatever is asked) */
};

/* Whether kb_query_run fills each match's explain lines (struct kb_match): on when a handle
 * is opened, so that a program that shows them needs nothing more. A program that never shows
 * them turns them off (explain 0) and its queries skip formatting them (explain_count is then
 * 0); nothing else of a result changes. Applies to every layer of a stack, and to each layer
 * stacked later. */
void kb_db_explain_set(struct kb_db *db, int explain);

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
     * its fields alone, "postfix-log" / "exim-log" for an MTA's delivery log, "diagnostic" for
     * one line of a report pasted alone (known by a delivery agent's form: the remote server as
     * host[address] on port 25, a lookup of the recipient's domain; no recipients), "session" for
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
    /* With no match (and no not_failure): the entry the strongest written evidence pointed to,
     * too weak to be an answer (a lone hint in a text that does not show it is about mail), to
     * name as the nearest; heap copies, NULL when there was none. */
    char *nearest_id;
    char *nearest_title;
    double nearest_score;
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
    /* The human language the text is written in when it is not English ("de", and its name
     * "German"), told by its everyday words; NULL when English or not told. Static strings. */
    const char *language;
    const char *language_name;
    /* 1 when the knowledge base is about sending mail (its signatures say so, as the shipped
     * one's do): text about another program is out of its scope, and the way to a better
     * answer is the mail server's reply. 0 for a KB of other documents. */
    int kb_about_mail;
};

/* What an RFC 3463 enhanced status code ("5.7.8") means, by RFC 3463 and the IANA registry:
 * its class ("permanent failure", "persistent transient failure", "success") into *class_words
 * and its subject and detail ("authentication credentials invalid"; an unregistered detail
 * gets its subject's words) into *meaning, both static. Returns 0 (both NULL) when code is
 * not a valid status code. */
int kb_status_code_meaning(const char *code, const char **class_words, const char **meaning);

/* Runs one query over text (len bytes, any bytes: NUL, invalid UTF-8, CRLF, ANSI colour).
 * On success *out holds the result (match_count may be 0) and must be freed with
 * kb_result_free. Input over options->max_input fails with KB_ERR_TOO_LARGE. */
enum kb_status kb_query_run(struct kb_db *db, const char *text, size_t len,
                            const struct kb_query_options *options, struct kb_result **out,
                            struct kb_error *err);

void kb_result_free(struct kb_result *result); /* accepts NULL */

/* Expands {{name|default}} placeholders of template using the match's captures, then the
 * result's facts (a bounce's recipient and its domain among them: recipient, recipient_domain),
 * then what the KB declares of the provider seen in the text (host and port
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

/* Where the value of a placeholder comes from. */
enum kb_origin {
    KB_ORIGIN_PLACEHOLDER = 0, /* nothing found: the article's default */
    KB_ORIGIN_PASTE,           /* the pasted text (a capture or a fact) */
    KB_ORIGIN_PROVIDER         /* the submission server the KB declares for the provider seen */
};
const char *kb_origin_str(enum kb_origin o); /* "placeholder" | "paste" | "provider default" */

/* As kb_placeholder_value, and where the value comes from: *origin is KB_ORIGIN_PLACEHOLDER
 * (and NULL returned) when nothing fills the placeholder. */
const char *kb_placeholder_origin(const char *name, const struct kb_match *match,
                                  const struct kb_result *result, char *buf, size_t buf_len,
                                  enum kb_origin *origin);

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
