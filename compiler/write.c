/*
 * write.c - the database: rows inserted in one transaction in a fixed order (articles by
 * path, entries in document order) into a database in memory, so identical input gives a
 * byte-identical image; every page sealed with its checksum (kb_integrity.h); and the
 * temporary file the image is written to, renamed over the output only when everything
 * succeeded. A killed compile leaves no file behind (see "the temporary file" below).
 */
#define _GNU_SOURCE /* O_TMPFILE */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kb_integrity.h"
#include "kb_text.h"
#include "kbc.h"

/* ---- the temporary file ------------------------------------------------------------------ */

/* The database goes to the output's folder through a temporary file, renamed over the output
 * only once it is complete and self-tested, so the output is always either the old database or
 * the new one. The temporary file has no name while it is written (O_TMPFILE): a compile
 * killed at any point, kill -9 included, leaves nothing behind. It gets one just before the
 * rename (linkat, then rename: two system calls apart). Where the file system cannot make
 * unnamed files, it is a named "OUT.tmp-XXXXXX" from the start. Either way the file is locked
 * (flock) by the compile that owns it: a later compile into the folder removes every such file
 * whose lock it can take, since its owner is gone. */

/* The one piece of global state: a signal handler can reach nothing else. Published only once
 * the path is complete, cleared before it is freed. */
static char *volatile tmp_registered;

static void on_signal(int sig)
{
    char *path = tmp_registered;
    if (path)
        unlink(path);
    signal(sig, SIG_DFL);
    raise(sig);
}

void kbc_install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* A crash in the self-test (library code) must not leave the temporary file behind;
     * under AddressSanitizer its own handler reports the crash instead. */
#ifndef __SANITIZE_ADDRESS__
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
#endif
    sigaction(SIGABRT, &sa, NULL);
}

/* Creating, naming or removing the file and (un)registering it happen with the signals
 * blocked, so no signal can arrive between the two and leave a file nobody removes. */
static void block_signals(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, old);
}

static enum kb_status io_error(struct kb_error *err, const char *what, const char *path)
{
    err->status = KB_ERR_IO;
    snprintf(err->message, sizeof err->message, "%s '%s': %s", what, path, strerror(errno));
    return KB_ERR_IO;
}

static enum kb_status out_of_memory(struct kb_error *err)
{
    err->status = KB_ERR_NOMEM;
    snprintf(err->message, sizeof err->message, "out of memory");
    return KB_ERR_NOMEM;
}

/* The temporary file cannot be made: the folder is what the user can act on, not the random
 * name in it. errno says why. */
static enum kb_status folder_error(struct kb_error *err, const char *out)
{
    int saved = errno;
    char *copy = kbc_strndup(out, strlen(out));
    err->status = KB_ERR_IO;
    snprintf(err->message, sizeof err->message,
             "cannot create a temporary file in the folder '%s' (to write '%s'): %s",
             copy ? dirname(copy) : "?", out, strerror(saved));
    free(copy);
    return KB_ERR_IO;
}

/* Removes the temporary files of out left by compiles that are gone: those whose lock can be
 * taken (a running compile holds its own). Best effort: what cannot be removed stays. */
static void remove_stale(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t n = strlen(base);
    int dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, base, n) != 0 || strncmp(e->d_name + n, ".tmp-", 5) != 0)
            continue;
        int fd = openat(dfd, e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        struct stat a, b;
        /* locked and still the same file under that name: its owner is gone */
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &a) == 0
            && fstatat(dfd, e->d_name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino
            && a.st_dev == b.st_dev && S_ISREG(a.st_mode))
            unlinkat(dfd, e->d_name, 0);
        if (fd >= 0)
            close(fd);
    }
    closedir(d);
}

/* Creates the named temporary file "<out>.tmp-XXXXXX", locked and registered. */
static enum kb_status create_named(const char *out, struct kbc_tmp *tmp, struct kb_error *err)
{
    for (int tries = 0; tries < 8; tries++) {
        char *path = kb_format("%s.tmp-XXXXXX", out);
        if (!path)
            return out_of_memory(err);
        sigset_t old;
        block_signals(&old);
        int fd = mkstemp(path);
        int saved = errno;
        if (fd >= 0) {
            tmp_registered = path;
            /* mkstemp makes the file 0600; the database gets the usual umask-based mode */
            mode_t mask = umask(0);
            umask(mask);
            fchmod(fd, 0666 & ~mask);
        }
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (fd < 0) {
            errno = saved;
            enum kb_status status = folder_error(err, out);
            free(path);
            return status;
        }
        /* a cleaner that opened the new file before the lock may have removed it: then again */
        struct stat a, b;
        if (flock(fd, LOCK_EX) == 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0
            && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
            tmp->fd = fd;
            tmp->path = path;
            return KB_OK;
        }
        block_signals(&old);
        tmp_registered = NULL;
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(fd);
        free(path);
    }
    errno = EEXIST;
    return io_error(err, "cannot create a temporary file for", out);
}

enum kb_status kbc_tmp_create(const char *out, struct kbc_tmp *tmp, struct kb_error *err)
{
    tmp->fd = -1;
    tmp->path = NULL;
    char *copy_dir = kbc_strndup(out, strlen(out)), *copy_base = kbc_strndup(out, strlen(out));
    if (!copy_dir || !copy_base) {
        free(copy_dir);
        free(copy_base);
        return out_of_memory(err);
    }
    const char *dir = dirname(copy_dir), *base = basename(copy_base);
    enum kb_status status = KB_OK;
    remove_stale(dir, base);
#ifdef O_TMPFILE
    mode_t mask = umask(0);
    umask(mask);
    tmp->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0666 & ~mask);
    if (tmp->fd >= 0 && flock(tmp->fd, LOCK_EX) != 0) {
        close(tmp->fd);
        tmp->fd = -1;
    }
    if (tmp->fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == EACCES))
        status = folder_error(err, out);
#endif
    if (status == KB_OK && tmp->fd < 0)
        status = create_named(out, tmp, err); /* no unnamed files here */
    free(copy_dir);
    free(copy_base);
    return status;
}

enum kb_status kbc_tmp_write(struct kbc_tmp *tmp, const void *data, size_t len,
                             struct kb_error *err)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = write(tmp->fd, (const char *)data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return io_error(err, "cannot write", tmp->path ? tmp->path : "the temporary file");
        done += (size_t)n;
    }
    return KB_OK;
}

void kbc_tmp_discard(struct kbc_tmp *tmp)
{
    if (tmp->path) {
        sigset_t old;
        block_signals(&old);
        unlink(tmp->path);
        tmp_registered = NULL;
        sigprocmask(SIG_SETMASK, &old, NULL);
        free(tmp->path);
        tmp->path = NULL;
    }
    if (tmp->fd >= 0)
        close(tmp->fd);
    tmp->fd = -1;
}

/* Gives the unnamed file the name "<out>.tmp-<pid>-<n>" (registered), or 0 when it has one. */
static enum kb_status name_unnamed(struct kbc_tmp *tmp, const char *out, struct kb_error *err)
{
    if (tmp->path)
        return KB_OK;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", tmp->fd);
    for (int n = 0; n < 100; n++) {
        char *path = kb_format("%s.tmp-%ld-%d", out, (long)getpid(), n);
        if (!path)
            return out_of_memory(err);
        sigset_t old;
        block_signals(&old);
        int rc = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
        int saved = errno;
        if (rc == 0)
            tmp_registered = tmp->path = path;
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (rc == 0)
            return KB_OK;
        free(path);
        if (saved != EEXIST) {
            errno = saved;
            return io_error(err, "cannot name the new database", out);
        }
    }
    errno = EEXIST;
    return io_error(err, "cannot name the new database", out);
}

enum kb_status kbc_tmp_commit(struct kbc_tmp *tmp, const char *out, struct kb_error *err)
{
    enum kb_status status = KB_OK;
    if (fsync(tmp->fd) != 0)
        status = io_error(err, "cannot write", tmp->path ? tmp->path : out);
    if (status == KB_OK)
        status = name_unnamed(tmp, out, err);
    if (status == KB_OK) {
        sigset_t old;
        block_signals(&old);
        if (rename(tmp->path, out) == 0)
            tmp_registered = NULL;
        else
            status = io_error(err, "cannot rename the database to", out);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    if (status != KB_OK) {
        kbc_tmp_discard(tmp);
        return status;
    }
    free(tmp->path);
    tmp->path = NULL;
    close(tmp->fd); /* and with it the lock */
    tmp->fd = -1;
    /* make the rename durable: fsync the directory (best effort) */
    char *copy = kbc_strndup(out, strlen(out));
    if (copy) {
        int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(copy);
    }
    return KB_OK;
}

/* ---- the rows ---------------------------------------------------------------------------- */

enum {
    ST_ARTICLE,
    ST_ENTRY,
    ST_SIG,
    ST_EXAMPLE,
    ST_SECTION,
    ST_FTS,
    ST_LINK,
    ST_CONDITION,
    ST_STEP,
    ST_FIX,
    ST_COMMAND,
    ST_COUNT
};

static const char *const statements[ST_COUNT] = {
    "INSERT INTO article(id, path, title, intro_md) VALUES(?1, ?2, ?3, ?4)",
    "INSERT INTO entry(id, slug, article_id, title, provider, audience, related, why_text,"
    " why_ansi, why_md, solution_text, solution_ansi, solution_md, body_md, fulltext_only,"
    " line, tell_text, tell_ansi, tell_md)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    "INSERT INTO signature(id, entry_id, kind, source, pattern, weight, context, captures,"
    " anchor, path, line, origin, section_id, regions, when_cond)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    "INSERT INTO example(id, entry_id, counter, text, also, path, line)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "INSERT INTO section(id, entry_id, heading, anchor, line) VALUES(?1, ?2, ?3, ?4, ?5)",
    "INSERT INTO entry_fts(rowid, title, heading, code, body, examples, signatures)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "INSERT OR IGNORE INTO section_link(section_id, entry_id) VALUES(?1, ?2)",
    "INSERT INTO condition(id, entry_id, source, weight, path, line)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    "INSERT INTO step(entry_id, labels, providers, text_start, text_end, ansi_start, ansi_end,"
    " md_start, md_end, part) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    "INSERT INTO fix_step(id, entry_id, part, number, providers, text, md, lang)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "INSERT INTO fix_command(step_id, text) VALUES(?1, ?2)",
};

struct writer {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    struct kb_error *err;
    int64_t next_sig, next_example, next_section, next_condition, next_fix;
};

static enum kb_status db_fail(struct writer *w, const char *what)
{
    w->err->status = KB_ERR_DB;
    snprintf(w->err->message, sizeof w->err->message, "%s: %s", what, sqlite3_errmsg(w->db));
    return KB_ERR_DB;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

static enum kb_status step(struct writer *w, int which, const char *what)
{
    sqlite3_stmt *st = w->st[which];
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? KB_OK : db_fail(w, what);
}

/* Parts of joined words added to a field, at most (a field full of identifiers stays small). */
#define MAX_FIELD_PARTS 4000

/* A field as the index holds it: prepared like the text of a lookup (kb_fts_prepare: dotted
 * names become one word), then, after a blank line, the parts of its joined words of three
 * letters or more ("ENABLE_SASLAUTHD" -> "ENABLE SASLAUTHD", "zen.spamhaus.org" -> "zen
 * spamhaus org"), so that a text naming the part alone finds them. */
static enum kb_status fts_field(struct kb_buf *out, const char *s, size_t len)
{
    kb_buf_reset(out);
    enum kb_status status = kb_fts_prepare(s, len, out);
    if (status == KB_OK && !out->data)
        status = kb_buf_append(out, "", 0);
    struct kb_buf extra;
    kb_buf_init(&extra, 0);
    const char *d = out->data;
    size_t end = out->len, parts = 0;
    for (size_t i = 0; i < end && status == KB_OK && parts < MAX_FIELD_PARTS;) {
        while (i < end && !isalnum((unsigned char)d[i]) && d[i] != '_')
            i++;
        size_t start = i, joined = 0;
        while (i < end && (isalnum((unsigned char)d[i]) || d[i] == '_'))
            joined += d[i++] == '_';
        for (size_t k = start; joined && k < i && status == KB_OK;) {
            size_t e = k, letters = 0;
            while (e < i && d[e] != '_')
                letters += isalpha((unsigned char)d[e++]) != 0;
            if (letters == e - k && letters >= 3) {
                status = kb_buf_append_char(&extra, parts++ ? ' ' : '\n');
                if (status == KB_OK)
                    status = kb_buf_append(&extra, d + k, e - k);
            }
            k = e + 1;
        }
    }
    if (status == KB_OK && extra.len)
        status = kb_buf_append(out, extra.data, extra.len);
    kb_buf_release(&extra);
    return status;
}

/* Appends the words of a file name ("relay-access-denied-smtp.md" -> "relay access denied
 * smtp"): separators become spaces, the extension goes. */
static enum kb_status path_words(struct kb_buf *out, const char *rel)
{
    size_t n = strlen(rel);
    if (n > 3 && strcmp(rel + n - 3, ".md") == 0)
        n -= 3;
    enum kb_status status = kb_buf_append_char(out, '\n');
    for (size_t i = 0; i < n && status == KB_OK; i++)
        status = kb_buf_append_char(out, strchr("/-_", rel[i]) ? ' ' : rel[i]);
    return status;
}

/* The entry's sections and their full-text rows (rowid = section id). Every row carries the
 * titles, so that a section is found by words of the page it is on; the examples and the
 * written signatures go with the first section. The first section's id is *first_id. */
static enum kb_status insert_sections(struct writer *w, const struct kbc_article *a,
                                      struct kbc_entry *e, int64_t *first_id)
{
    struct kb_buf raw, prepared[6];
    kb_buf_init(&raw, 0);
    for (int i = 0; i < 6; i++)
        kb_buf_init(&prepared[i], 0);
    enum kb_status status = KB_OK;
    *first_id = w->next_section + 1;
    for (size_t k = 0; k < e->section_count && status == KB_OK; k++) {
        struct kbc_section *sec = &e->sections[k];
        int64_t id = ++w->next_section;
        sec->row_id = id;
        sqlite3_stmt *st = w->st[ST_SECTION];
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, e->row_id);
        bind_text(st, 3, sec->heading);
        bind_text(st, 4, sec->anchor);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)sec->line);
        if ((status = step(w, ST_SECTION, "cannot store a section")) != KB_OK)
            break;
        kb_buf_reset(&raw);
        status = strcmp(e->title, a->title) == 0
                     ? kb_buf_append_str(&raw, e->title)
                     : kb_buf_printf(&raw, "%s\n%s", e->title, a->title);
        /* a page not written for this KB is also known by the words of its file's name
         * ("relay-access-denied-smtp.md") */
        const char *base = strrchr(a->file->rel, '/');
        if (status == KB_OK && e->fulltext_only)
            status = path_words(&raw, base ? base + 1 : a->file->rel);
        if (status == KB_OK)
            status = fts_field(&prepared[0], raw.data, raw.len);
        if (status == KB_OK)
            status = fts_field(&prepared[1], sec->heading, strlen(sec->heading));
        if (status == KB_OK)
            status = fts_field(&prepared[2], sec->code, strlen(sec->code));
        if (status == KB_OK)
            status = fts_field(&prepared[3], sec->body, strlen(sec->body));
        kb_buf_reset(&raw);
        for (size_t i = 0; k == 0 && i < e->example_count && status == KB_OK; i++)
            if (!e->examples[i].counter)
                status = kb_buf_printf(&raw, "%s\n", e->examples[i].text);
        if (status == KB_OK)
            status = fts_field(&prepared[4], raw.data ? raw.data : "", raw.len);
        kb_buf_reset(&raw);
        for (size_t i = 0; k == 0 && i < e->sig_count && status == KB_OK; i++)
            if (e->sigs[i].kind == KB_SIG_LITERAL && !e->sigs[i].origin)
                status = kb_buf_printf(&raw, "%s\n", e->sigs[i].source);
        if (status == KB_OK)
            status = fts_field(&prepared[5], raw.data ? raw.data : "", raw.len);
        if (status != KB_OK)
            break;
        st = w->st[ST_FTS];
        sqlite3_bind_int64(st, 1, id);
        for (int i = 0; i < 6; i++)
            sqlite3_bind_text(st, 2 + i, prepared[i].data, (int)prepared[i].len, SQLITE_STATIC);
        status = step(w, ST_FTS, "cannot index an entry");
    }
    if (status != KB_OK && status != KB_ERR_DB) {
        w->err->status = status;
        snprintf(w->err->message, sizeof w->err->message, "%s", kb_status_str(status));
    }
    kb_buf_release(&raw);
    for (int i = 0; i < 6; i++)
        kb_buf_release(&prepared[i]);
    return status;
}

/* The structure of e's solution (fix_step, fix_command) under entry row_id, in language lang
 * ("" for the KB's own text, else a translation's). */
static enum kb_status insert_fix(struct writer *w, int64_t row_id, const struct kbc_entry *e,
                                 const char *lang)
{
    enum kb_status status = KB_OK;
    sqlite3_stmt *st;
    for (size_t i = 0; i < e->fix_count && status == KB_OK; i++) {
        const struct kbc_fix_step *f = &e->fix[i];
        st = w->st[ST_FIX];
        sqlite3_bind_int64(st, 1, ++w->next_fix);
        sqlite3_bind_int64(st, 2, row_id);
        sqlite3_bind_int(st, 3, f->part);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)f->number);
        bind_text(st, 5, f->providers);
        bind_text(st, 6, f->text);
        bind_text(st, 7, f->md);
        bind_text(st, 8, lang);
        status = step(w, ST_FIX, "cannot store a step of a solution");
        for (size_t k = 0; k < f->command_count && status == KB_OK; k++) {
            st = w->st[ST_COMMAND];
            sqlite3_bind_int64(st, 1, w->next_fix);
            bind_text(st, 2, f->commands[k]);
            status = step(w, ST_COMMAND, "cannot store a command of a solution");
        }
    }
    return status;
}

static enum kb_status insert_entry(struct writer *w, const struct kbc_article *a,
                                   int64_t article_id, struct kbc_entry *e)
{
    sqlite3_stmt *st = w->st[ST_ENTRY];
    sqlite3_bind_int64(st, 1, e->row_id);
    bind_text(st, 2, e->id);
    sqlite3_bind_int64(st, 3, article_id);
    const char *texts[] = {e->title,         e->provider,    e->audience, e->related,
                           e->why_text,      e->why_ansi,    e->why_md,   e->solution_text,
                           e->solution_ansi, e->solution_md, e->body_md};
    for (int i = 0; i < 11; i++)
        bind_text(st, 4 + i, texts[i]);
    sqlite3_bind_int(st, 15, e->fulltext_only);
    sqlite3_bind_int64(st, 16, (sqlite3_int64)e->line);
    bind_text(st, 17, e->tell_text);
    bind_text(st, 18, e->tell_ansi);
    bind_text(st, 19, e->tell_md);
    enum kb_status status = step(w, ST_ENTRY, "cannot store an entry");
    int64_t first_section = 0;
    if (status == KB_OK)
        status = insert_sections(w, a, e, &first_section);

    for (size_t i = 0; i < e->sig_count && status == KB_OK; i++) {
        const struct kbc_sig *s = &e->sigs[i];
        st = w->st[ST_SIG];
        sqlite3_bind_int64(st, 1, ++w->next_sig);
        sqlite3_bind_int64(st, 2, e->row_id);
        sqlite3_bind_int(st, 3, (int)s->kind);
        bind_text(st, 4, s->source);
        bind_text(st, 5, s->pattern);
        sqlite3_bind_double(st, 6, s->weight);
        sqlite3_bind_int(st, 7, (int)s->context);
        bind_text(st, 8, s->captures);
        if (s->has_anchor)
            sqlite3_bind_int64(st, 9, s->anchor);
        else
            sqlite3_bind_null(st, 9);
        bind_text(st, 10, s->file ? s->file : a->file->rel);
        sqlite3_bind_int64(st, 11, (sqlite3_int64)s->line);
        bind_text(st, 12, s->origin);
        if (s->origin)
            sqlite3_bind_int64(st, 13, first_section + (sqlite3_int64)s->section);
        else
            sqlite3_bind_null(st, 13);
        sqlite3_bind_int(st, 14, (int)s->regions);
        bind_text(st, 15, s->when);
        status = step(w, ST_SIG, "cannot store a signature");
    }
    for (size_t i = 0; i < e->example_count && status == KB_OK; i++) {
        const struct kbc_example *x = &e->examples[i];
        st = w->st[ST_EXAMPLE];
        sqlite3_bind_int64(st, 1, ++w->next_example);
        sqlite3_bind_int64(st, 2, e->row_id);
        sqlite3_bind_int(st, 3, x->counter);
        bind_text(st, 4, x->text);
        bind_text(st, 5, x->also);
        bind_text(st, 6, a->file->rel);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)x->line);
        status = step(w, ST_EXAMPLE, "cannot store an example");
    }
    for (size_t i = 0; i < e->condition_count && status == KB_OK; i++) {
        const struct kbc_condition *c = &e->conditions[i];
        st = w->st[ST_CONDITION];
        sqlite3_bind_int64(st, 1, ++w->next_condition);
        sqlite3_bind_int64(st, 2, e->row_id);
        bind_text(st, 3, c->source);
        sqlite3_bind_double(st, 4, c->weight);
        bind_text(st, 5, a->file->rel);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)c->line);
        status = step(w, ST_CONDITION, "cannot store a condition");
    }
    for (size_t i = 0; i < e->step_count && status == KB_OK; i++) {
        const struct kbc_step *p = &e->steps[i];
        st = w->st[ST_STEP];
        sqlite3_bind_int64(st, 1, e->row_id);
        bind_text(st, 2, p->labels);
        bind_text(st, 3, p->providers);
        for (int f = 0; f < 3; f++) {
            sqlite3_bind_int64(st, 4 + 2 * f, (sqlite3_int64)p->start[f]);
            sqlite3_bind_int64(st, 5 + 2 * f, (sqlite3_int64)p->end[f]);
        }
        sqlite3_bind_int(st, 10, p->part);
        status = step(w, ST_STEP, "cannot store a provider-specific step");
    }
    return status == KB_OK ? insert_fix(w, e->row_id, e, "") : status;
}

static enum kb_status insert_all(struct writer *w, struct kbc_kb *kb, struct kbc_counts *counts)
{
    enum kb_status status = kbc_providers_write(w->db, kb, w->err);
    if (status == KB_OK)
        status = kbc_clients_write(w->db, kb, w->err);
    int64_t entry_id = 0;
    for (size_t i = 0; i < kb->count && status == KB_OK; i++) {
        struct kbc_article *a = &kb->articles[i];
        sqlite3_stmt *st = w->st[ST_ARTICLE];
        sqlite3_bind_int64(st, 1, (sqlite3_int64)i + 1);
        bind_text(st, 2, a->file->rel);
        bind_text(st, 3, a->title);
        bind_text(st, 4, a->intro_md);
        status = step(w, ST_ARTICLE, "cannot store an article");
        counts->articles++;
        for (size_t j = 0; j < a->entry_count && status == KB_OK; j++) {
            struct kbc_entry *e = &a->entries[j];
            e->row_id = ++entry_id;
            status = insert_entry(w, a, (int64_t)i + 1, e);
            counts->entries++;
            for (size_t k = 0; k < e->sig_count; k++)
                *(e->sigs[k].origin ? &counts->harvested : &counts->signatures) += 1;
            counts->examples += e->example_count;
        }
    }
    /* links, once every entry has its row id */
    for (size_t i = 0; i < kb->count && status == KB_OK; i++)
        for (size_t j = 0; j < kb->articles[i].entry_count && status == KB_OK; j++) {
            const struct kbc_entry *e = &kb->articles[i].entries[j];
            for (size_t k = 0; k < e->section_count && status == KB_OK; k++)
                for (size_t t = 0; t < e->sections[k].target_count && status == KB_OK; t++) {
                    const struct kbc_article *target = &kb->articles[e->sections[k].targets[t]];
                    if (!target->entry_count)
                        continue;
                    sqlite3_stmt *st = w->st[ST_LINK];
                    sqlite3_bind_int64(st, 1, e->sections[k].row_id);
                    sqlite3_bind_int64(st, 2, target->entries[0].row_id);
                    status = step(w, ST_LINK, "cannot store a link");
                }
        }
    return status;
}

/* Each translated entry's text (entry_text), under its original's row. */
static enum kb_status insert_translations(struct writer *w, const struct kbc_kb *kb)
{
    sqlite3_stmt *st = NULL;
    if (!kb->translation_count)
        return KB_OK;
    if (sqlite3_prepare_v2(w->db,
                           "INSERT OR REPLACE INTO entry_text(entry_id, lang, reviewed, title, "
                           "why_text, why_ansi, why_md, tell_text, tell_ansi, tell_md, "
                           "solution_text, solution_ansi, solution_md, body_md) VALUES(?1, ?2, "
                           "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                           -1, &st, NULL)
        != SQLITE_OK)
        return db_fail(w, "cannot prepare a statement");
    enum kb_status status = KB_OK;
    for (size_t i = 0; i < kb->translation_count && status == KB_OK; i++) {
        const struct kbc_translation *t = &kb->translations[i];
        for (size_t j = 0; j < t->article.entry_count && status == KB_OK; j++) {
            const struct kbc_entry *te = &t->article.entries[j];
            const struct kbc_entry *e = kbc_translation_original(kb, t, te);
            if (!e)
                continue;
            const char *text[] = {te->title,       te->why_text,      te->why_ansi,
                                  te->why_md,      te->tell_text,     te->tell_ansi,
                                  te->tell_md,     te->solution_text, te->solution_ansi,
                                  te->solution_md, te->body_md};
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, e->row_id);
            sqlite3_bind_text(st, 2, t->lang, -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 3, t->reviewed);
            for (int k = 0; k < 11; k++)
                sqlite3_bind_text(st, 4 + k, text[k] ? text[k] : "", -1, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE)
                status = db_fail(w, "cannot store a translation");
            if (status == KB_OK)
                status = insert_fix(w, e->row_id, te, t->lang);
        }
    }
    sqlite3_finalize(st);
    return status;
}

/* An overlay's meta rows (kb_schema.h): the ids it hides, the base it was compiled against. */
static enum kb_status insert_layer_meta(struct writer *w, const struct kbc_kb *kb)
{
    struct kb_buf hides;
    kb_buf_init(&hides, 0);
    enum kb_status status = KB_OK;
    for (size_t i = 0; i < kb->hide_count && status == KB_OK; i++)
        status = kb_buf_printf(&hides, "%s%s", i ? "," : "", kb->hides[i].id);
    sqlite3_stmt *st = NULL;
    if (status == KB_OK
        && sqlite3_prepare_v2(w->db, "INSERT INTO meta(key, value) VALUES(?1, ?2)", -1, &st, NULL)
               != SQLITE_OK)
        status = db_fail(w, "cannot prepare a statement");
    /* the languages: the default first, then each translation's, once */
    struct kb_buf langs;
    kb_buf_init(&langs, 0);
    if (kb->language && status == KB_OK)
        status = kb_buf_append_str(&langs, kb->language);
    for (size_t i = 0; kb->language && i < kb->translation_count && status == KB_OK; i++)
        if (!kb_list_contains(langs.data, kb->translations[i].lang))
            status = kb_buf_printf(&langs, ",%s", kb->translations[i].lang);
    const char *keys[] = {"hides", "base", "language", "languages"};
    const char *values[] = {kb->hide_count ? hides.data : NULL, kb->base_build, kb->language,
                            kb->language ? langs.data : NULL};
    for (int i = 0; i < 4 && status == KB_OK; i++) {
        if (!values[i])
            continue;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, keys[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, values[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            status = db_fail(w, "cannot store metadata");
    }
    sqlite3_finalize(st);
    kb_buf_release(&hides);
    kb_buf_release(&langs);
    return status == KB_OK ? insert_translations(w, kb) : status;
}

enum kb_status kbc_write_db(struct kbc_kb *kb, const char *build_hash, const char *source_date,
                            struct kbc_counts *counts, unsigned char **image, size_t *len,
                            struct kb_error *err)
{
    struct writer w = {.err = err};
    memset(counts, 0, sizeof *counts);
    *image = NULL;
    *len = 0;
    enum kb_status status = KB_OK;
    /* Built in memory: nothing reaches the disk before it is complete, checked and sealed. */
    if (sqlite3_open_v2(":memory:", &w.db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        status = w.db ? db_fail(&w, "cannot create the database") : out_of_memory(err);
        goto cleanup;
    }
    if (sqlite3_exec(w.db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN", NULL, NULL,
                     NULL)
        != SQLITE_OK) {
        status = db_fail(&w, "cannot start the transaction");
        goto cleanup;
    }
    if ((status = kb_schema_create(w.db, err)) != KB_OK)
        goto cleanup;
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v2(w.db, statements[i], -1, &w.st[i], NULL) != SQLITE_OK) {
            status = db_fail(&w, "cannot prepare a statement");
            goto cleanup;
        }
    }
    if ((status = insert_all(&w, kb, counts)) != KB_OK
        || (status = insert_layer_meta(&w, kb)) != KB_OK)
        goto cleanup;
    if ((status = kb_schema_finish(w.db, build_hash, source_date, err)) != KB_OK)
        goto cleanup;
    if (sqlite3_exec(w.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        status = db_fail(&w, "cannot commit the database");
        goto cleanup;
    }
    sqlite3_int64 size = 0;
    if (!(*image = sqlite3_serialize(w.db, "main", &size, 0))) {
        status = out_of_memory(err);
        goto cleanup;
    }
    *len = (size_t)size;
    if (kb_image_seal(*image, *len) != KB_OK) {
        err->status = status = KB_ERR_DB;
        snprintf(err->message, sizeof err->message,
                 "cannot seal the database: its pages have no room for a checksum");
    }
cleanup:
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(w.st[i]);
    if (w.db)
        sqlite3_close(w.db);
    if (status != KB_OK) {
        sqlite3_free(*image);
        *image = NULL;
        *len = 0;
    }
    return status;
}
