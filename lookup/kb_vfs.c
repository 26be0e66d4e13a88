/*
 * kb_vfs.c - the read-only SQLite VFS through which libkb opens every database: it serves
 * the pages of a file (pread) or of an image in memory (the database embedded in kb-lookup),
 * and checks each page's checksum (kb_integrity.h) the first time SQLite reads it. A page that
 * fails is an I/O error (SQLITE_IOERR_DATA) whose page number kb_vfs_bad_page reports, so a
 * damaged database stops the lookup with a message instead of answering from garbage.
 *
 * Immutable by design (kb-compile never writes a database in place, it renames a new one over
 * it): no locks, no journal, no writes. Other files SQLite may want (temporary files for a
 * sort) go to the default VFS.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kb_integrity.h"
#include "kb_internal.h"

struct sealed_file {
    sqlite3_file base;
    const unsigned char *image; /* the database in memory, or NULL: fd */
    int fd;
    uint64_t size;
    size_t page_size;
    unsigned char *checked; /* one bit per page: its checksum was verified */
    unsigned char *page;    /* scratch page for reads from fd that do not cover a whole page */
    uint64_t bad_page;      /* the first page that failed, 0 none */
};

static sqlite3_vfs *default_vfs(const sqlite3_vfs *vfs)
{
    return (sqlite3_vfs *)vfs->pAppData;
}

static int sealed_close(sqlite3_file *f)
{
    struct sealed_file *s = (struct sealed_file *)f;
    if (s->fd >= 0)
        close(s->fd);
    free(s->checked);
    free(s->page);
    return SQLITE_OK;
}

/* Reads len bytes at off from the file or the image; 0 when all of them were there. */
static int read_raw(struct sealed_file *s, void *buf, size_t len, uint64_t off)
{
    if (off > s->size || len > s->size - off)
        return -1;
    if (s->image) {
        memcpy(buf, s->image + off, len);
        return 0;
    }
    for (size_t done = 0; done < len;) {
        ssize_t n = pread(s->fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

/* Verifies page index pg (0-based) unless done before; data holds it when not NULL. */
static int check_page(struct sealed_file *s, uint64_t pg, const unsigned char *data)
{
    if (s->checked[pg / 8] & (1u << (pg % 8)))
        return SQLITE_OK;
    if (!data) {
        if (s->image) {
            data = s->image + pg * s->page_size;
        } else if (read_raw(s, s->page, s->page_size, pg * s->page_size) == 0) {
            data = s->page;
        }
    }
    if (!data || !kb_page_intact(data, s->page_size, pg + 1)) {
        if (!s->bad_page)
            s->bad_page = pg + 1;
        return SQLITE_IOERR_DATA;
    }
    s->checked[pg / 8] |= (unsigned char)(1u << (pg % 8));
    return SQLITE_OK;
}

static int sealed_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
    struct sealed_file *s = (struct sealed_file *)f;
    if (amt <= 0 || off < 0)
        return SQLITE_IOERR_READ;
    uint64_t start = (uint64_t)off, end = start + (uint64_t)amt;
    if (!s->page_size)
        return SQLITE_IOERR_DATA; /* no header SQLite could have written */
    /* a whole page read from the file is checked in the caller's buffer, with one read */
    if (!s->image && (size_t)amt == s->page_size && start % s->page_size == 0 && end <= s->size) {
        if (read_raw(s, buf, (size_t)amt, start) != 0)
            return SQLITE_IOERR_READ;
        return check_page(s, start / s->page_size, buf);
    }
    for (uint64_t pg = start / s->page_size; pg * s->page_size < end && pg * s->page_size < s->size;
         pg++) {
        int rc = check_page(s, pg, NULL);
        if (rc != SQLITE_OK)
            return rc;
    }
    if (end > s->size) {
        /* past the end: what there is, then zeros, as SQLite expects of a short file */
        size_t have = start < s->size ? (size_t)(s->size - start) : 0;
        if (have && read_raw(s, buf, have, start) != 0)
            return SQLITE_IOERR_READ;
        memset((char *)buf + have, 0, (size_t)amt - have);
        return SQLITE_IOERR_SHORT_READ;
    }
    return read_raw(s, buf, (size_t)amt, start) == 0 ? SQLITE_OK : SQLITE_IOERR_READ;
}

static int sealed_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    (void)f, (void)buf, (void)amt, (void)off;
    return SQLITE_READONLY;
}

static int sealed_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    (void)f, (void)size;
    return SQLITE_READONLY;
}

static int sealed_sync(sqlite3_file *f, int flags)
{
    (void)f, (void)flags;
    return SQLITE_OK;
}

static int sealed_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    *size = (sqlite3_int64)((struct sealed_file *)f)->size;
    return SQLITE_OK;
}

static int sealed_lock(sqlite3_file *f, int level)
{
    (void)f, (void)level;
    return SQLITE_OK;
}

static int sealed_check_reserved(sqlite3_file *f, int *out)
{
    (void)f;
    *out = 0;
    return SQLITE_OK;
}

static int sealed_file_control(sqlite3_file *f, int op, void *arg)
{
    (void)f, (void)op, (void)arg;
    return SQLITE_NOTFOUND;
}

static int sealed_sector_size(sqlite3_file *f)
{
    (void)f;
    return 4096;
}

static int sealed_device(sqlite3_file *f)
{
    (void)f;
    return SQLITE_IOCAP_IMMUTABLE;
}

static const sqlite3_io_methods sealed_io = {
    .iVersion = 1, /* no shared memory, no memory mapping */
    .xClose = sealed_close,
    .xRead = sealed_read,
    .xWrite = sealed_write,
    .xTruncate = sealed_truncate,
    .xSync = sealed_sync,
    .xFileSize = sealed_file_size,
    .xLock = sealed_lock,
    .xUnlock = sealed_lock,
    .xCheckReservedLock = sealed_check_reserved,
    .xFileControl = sealed_file_control,
    .xSectorSize = sealed_sector_size,
    .xDeviceCharacteristics = sealed_device,
};

static int sealed_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
                       int *out_flags)
{
    if (!(flags & SQLITE_OPEN_MAIN_DB))
        return default_vfs(vfs)->xOpen(default_vfs(vfs), name, f, flags, out_flags);
    struct sealed_file *s = (struct sealed_file *)f;
    memset(s, 0, sizeof *s);
    s->fd = -1;
    if (flags & (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE))
        return SQLITE_READONLY;
    /* an image in memory comes as the URI parameters ptr= and sz= (kb_db_open_memory) */
    const char *ptr = name ? sqlite3_uri_parameter(name, "ptr") : NULL;
    if (ptr) {
        s->image = (const unsigned char *)(uintptr_t)strtoull(ptr, NULL, 10);
        s->size = (uint64_t)sqlite3_uri_int64(name, "sz", 0);
        if (!s->image)
            return SQLITE_CANTOPEN;
    } else {
        if (!name || (s->fd = open(name, O_RDONLY | O_CLOEXEC)) < 0)
            return SQLITE_CANTOPEN;
        struct stat sb;
        if (fstat(s->fd, &sb) != 0) {
            close(s->fd);
            return SQLITE_CANTOPEN;
        }
        s->size = (uint64_t)sb.st_size;
    }
    unsigned char header[100];
    if (read_raw(s, header, sizeof header, 0) == 0 && header[20] == KB_PAGE_RESERVE)
        s->page_size = kb_image_page_size(header);
    uint64_t pages = s->page_size ? (s->size + s->page_size - 1) / s->page_size : 0;
    s->checked = calloc(pages / 8 + 1, 1);
    s->page = s->page_size ? malloc(s->page_size) : NULL;
    s->base.pMethods = &sealed_io; /* from here on xClose is called, also on failure */
    if (!s->checked || (s->page_size && !s->page))
        return SQLITE_NOMEM;
    if (out_flags)
        *out_flags = SQLITE_OPEN_READONLY;
    return SQLITE_OK;
}

static int sealed_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
    return default_vfs(vfs)->xDelete(default_vfs(vfs), name, sync);
}

/* No journal, no WAL: nothing but the database exists as far as SQLite is concerned. */
static int sealed_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs, (void)name, (void)flags;
    *out = 0;
    return SQLITE_OK;
}

static int sealed_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    return default_vfs(vfs)->xFullPathname(default_vfs(vfs), name, n, out);
}

static int sealed_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    return default_vfs(vfs)->xRandomness(default_vfs(vfs), n, out);
}

static int sealed_sleep(sqlite3_vfs *vfs, int us)
{
    return default_vfs(vfs)->xSleep(default_vfs(vfs), us);
}

static int sealed_current_time(sqlite3_vfs *vfs, double *out)
{
    return default_vfs(vfs)->xCurrentTime(default_vfs(vfs), out);
}

static int sealed_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    return default_vfs(vfs)->xGetLastError
               ? default_vfs(vfs)->xGetLastError(default_vfs(vfs), n, out)
               : 0;
}

/* SQLite keeps registered VFSes in a process-wide list; this object is filled in and
 * registered once (pthread_once), and never changes afterwards. */
static sqlite3_vfs sealed_vfs;
static pthread_once_t sealed_once = PTHREAD_ONCE_INIT;
static int sealed_registered;

static void register_once(void)
{
    sqlite3_vfs *dflt = sqlite3_vfs_find(NULL);
    if (!dflt)
        return;
    sealed_vfs.iVersion = 1;
    sealed_vfs.szOsFile = dflt->szOsFile > (int)sizeof(struct sealed_file)
                              ? dflt->szOsFile
                              : (int)sizeof(struct sealed_file);
    sealed_vfs.mxPathname = dflt->mxPathname;
    sealed_vfs.zName = KB_VFS_NAME;
    sealed_vfs.pAppData = dflt;
    sealed_vfs.xOpen = sealed_open;
    sealed_vfs.xDelete = sealed_delete;
    sealed_vfs.xAccess = sealed_access;
    sealed_vfs.xFullPathname = sealed_full_pathname;
    sealed_vfs.xRandomness = sealed_randomness;
    sealed_vfs.xSleep = sealed_sleep;
    sealed_vfs.xCurrentTime = sealed_current_time;
    sealed_vfs.xGetLastError = sealed_last_error;
    sealed_registered = sqlite3_vfs_register(&sealed_vfs, 0) == SQLITE_OK;
}

enum kb_status kb_vfs_register(void)
{
    pthread_once(&sealed_once, register_once);
    return sealed_registered ? KB_OK : KB_ERR_DB;
}

uint64_t kb_vfs_bad_page(sqlite3 *db)
{
    sqlite3_file *f = NULL;
    if (!db || sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f
        || f->pMethods != &sealed_io)
        return 0;
    return ((struct sealed_file *)f)->bad_page;
}
