/*
 * scan.c - finds the articles: every *.md below KB_DIR (hidden folders, editors' lock files and
 * the top-level README.md skipped, symlinked directories not followed), sorted by
 * '/'-separated relative path in byte order, each read whole into a capped growable buffer.
 * Also the build hash.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kbc.h"

/* A directory still to visit (relative path, "" for the root). Kept on an explicit stack so a
 * deep tree cannot exhaust the C stack. */
struct dir_stack {
    char **items;
    size_t count, alloc;
};

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int slash = la > 0 && a[la - 1] != '/';
    char *p = malloc(la + slash + lb + 1);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    if (slash)
        p[la] = '/';
    memcpy(p + la + slash, b, lb + 1);
    return p;
}

static int ends_with_md(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".md") == 0;
}

static enum kb_status add_file(struct kbc_files *files, const char *root, const char *rel)
{
    struct kbc_file *items = kbc_grow(files->items, &files->alloc, files->count, sizeof *items);
    if (!items)
        return KB_ERR_NOMEM;
    files->items = items;
    struct kbc_file *f = &items[files->count];
    memset(f, 0, sizeof *f);
    f->rel = kbc_strndup(rel, strlen(rel));
    f->display = join(root, rel);
    if (!f->rel || !f->display) {
        free(f->rel);
        free(f->display);
        return KB_ERR_NOMEM;
    }
    files->count++;
    return KB_OK;
}

/* Lists one directory: *.md files go to files, subdirectories onto the stack. */
static enum kb_status scan_dir(const char *root, const char *rel, struct kbc_files *files,
                               struct dir_stack *stack, struct kbc_diags *diags)
{
    char *dir_path = rel[0] ? join(root, rel) : kbc_strndup(root, strlen(root));
    if (!dir_path)
        return KB_ERR_NOMEM;
    enum kb_status status = KB_OK;
    DIR *dir = opendir(dir_path);
    if (!dir) {
        kbc_diag(diags, KBC_ERROR, dir_path, 1, 1, "cannot read directory: %s", strerror(errno));
        goto cleanup;
    }
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        const char *name = de->d_name;
        /* "." and "..", hidden folders (.git) and editors' lock files (.#x.md) are not
         * articles; "..md", tldr's page for the "." command, is. */
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strncmp(name, ".#", 2) == 0)
            continue;
        if (!rel[0] && strcmp(name, "README.md") == 0)
            continue;
        char *child_rel = rel[0] ? join(rel, name) : kbc_strndup(name, strlen(name));
        char *child_path = child_rel ? join(root, child_rel) : NULL;
        struct stat st;
        if (!child_path) {
            free(child_rel);
            status = KB_ERR_NOMEM;
            goto cleanup;
        }
        /* lstat, so a symlinked directory is seen as a link and not followed (no loops); a
         * symlink to a file is read like the file, a dangling one fails later as unreadable. */
        int is_dir = lstat(child_path, &st) == 0 && S_ISDIR(st.st_mode);
        if (is_dir && name[0] == '.') {
            free(child_rel);
            free(child_path);
            continue;
        }
        if (is_dir) {
            char **items = kbc_grow(stack->items, &stack->alloc, stack->count, sizeof *items);
            if (!items) {
                status = KB_ERR_NOMEM;
            } else {
                stack->items = items;
                items[stack->count++] = child_rel;
                child_rel = NULL;
            }
        } else if (ends_with_md(name)) {
            status = add_file(files, root, child_rel);
        }
        free(child_rel);
        free(child_path);
        if (status != KB_OK)
            goto cleanup;
    }
cleanup:
    if (dir)
        closedir(dir);
    free(dir_path);
    return status;
}

/* Reads a whole regular file. A directory, FIFO or device named *.md is refused before it
 * can block; O_NONBLOCK keeps open() itself from waiting on a FIFO. */
static void read_file(struct kbc_file *f, struct kbc_diags *diags)
{
    struct kb_buf buf;
    kb_buf_init(&buf, KBC_MAX_FILE_SIZE);
    const char *problem = NULL;
    int fd = open(f->display, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        problem = strerror(errno);
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        problem = S_ISDIR(st.st_mode) ? strerror(EISDIR) : "not a regular file";
        goto cleanup;
    }
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            problem = strerror(errno);
            goto cleanup;
        }
        if (n == 0)
            break;
        enum kb_status s = kb_buf_append(&buf, chunk, (size_t)n);
        if (s == KB_ERR_TOO_LARGE) {
            kbc_diag(diags, KBC_ERROR, f->display, 1, 1, "file is larger than %zu MiB",
                     KBC_MAX_FILE_SIZE / (1024 * 1024));
            goto cleanup;
        }
        if (s != KB_OK) {
            problem = strerror(ENOMEM);
            goto cleanup;
        }
    }
    size_t len = buf.len;
    if (kb_buf_detach(&buf, &f->data) != KB_OK) {
        problem = strerror(ENOMEM);
        goto cleanup;
    }
    f->len = len;
cleanup:
    if (problem)
        kbc_diag(diags, KBC_ERROR, f->display, 1, 1, "cannot read: %s", problem);
    if (fd >= 0)
        close(fd);
    kb_buf_release(&buf);
}

static int file_cmp(const void *a, const void *b)
{
    const struct kbc_file *x = a, *y = b;
    return strcmp(x->rel, y->rel);
}

enum kb_status kbc_scan(const char *root, struct kbc_files *files, struct kbc_diags *diags,
                        struct kb_error *err)
{
    struct stat st;
    int rc = stat(root, &st);
    if (rc != 0 || !S_ISDIR(st.st_mode)) {
        err->status = KB_ERR_IO;
        snprintf(err->message, sizeof err->message, "cannot open '%s': %s", root,
                 strerror(rc != 0 ? errno : ENOTDIR));
        return KB_ERR_IO;
    }
    struct dir_stack stack = {0};
    enum kb_status status = KB_OK;
    char *rel = kbc_strndup("", 0);
    if (!rel)
        goto nomem;
    for (;;) {
        status = scan_dir(root, rel, files, &stack, diags);
        free(rel);
        rel = NULL;
        if (status != KB_OK)
            goto cleanup;
        if (stack.count == 0)
            break;
        rel = stack.items[--stack.count];
    }
    if (files->count)
        qsort(files->items, files->count, sizeof *files->items, file_cmp);
    for (size_t i = 0; i < files->count; i++)
        read_file(&files->items[i], diags);
    goto cleanup;
nomem:
    status = KB_ERR_NOMEM;
cleanup:
    free(rel);
    for (size_t i = 0; i < stack.count; i++)
        free(stack.items[i]);
    free(stack.items);
    if (status == KB_ERR_NOMEM) {
        err->status = status;
        snprintf(err->message, sizeof err->message, "out of memory");
    }
    return status;
}

void kbc_files_release(struct kbc_files *files)
{
    for (size_t i = 0; i < files->count; i++) {
        free(files->items[i].rel);
        free(files->items[i].display);
        free(files->items[i].data);
    }
    free(files->items);
    memset(files, 0, sizeof *files);
}

void kbc_build_hash(const struct kbc_files *files, char out[65])
{
    struct kbc_sha256 ctx;
    kbc_sha256_init(&ctx);
    for (size_t i = 0; i < files->count; i++) {
        const struct kbc_file *f = &files->items[i];
        if (!f->data)
            continue;
        char size[32];
        int n = snprintf(size, sizeof size, "%zu", f->len);
        kbc_sha256_update(&ctx, f->rel, strlen(f->rel) + 1);
        kbc_sha256_update(&ctx, size, (size_t)n + 1);
        kbc_sha256_update(&ctx, f->data, f->len);
    }
    unsigned char digest[32];
    kbc_sha256_final(&ctx, digest);
    kbc_sha256_hex(digest, out);
}
