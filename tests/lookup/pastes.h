/*
 * pastes.h - the real pastes of the test directories (tests/live/captured, tests/lookup/
 * dialogue), read one by one for unit tests that compare answers on them.
 */
#ifndef KB_TEST_PASTES_H
#define KB_TEST_PASTES_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* The whole file at path (heap; *len its length), or NULL. */
static char *paste_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t n = 0, alloc = 0;
    for (;;) {
        if (n + 4096 > alloc) {
            char *p = realloc(data, alloc = n + 65536);
            if (!p)
                break;
            data = p;
        }
        size_t got = fread(data + n, 1, alloc - n, f);
        if (!got)
            break;
        n += got;
    }
    fclose(f);
    *len = n;
    return data;
}

/* Calls each(name, text, len, arg) for every .txt file of the directories dirs[0, count);
 * returns how many were read. A directory or file that cannot be read is a failed check. */
static size_t pastes_each(char **dirs, int count,
                          void (*each)(const char *name, const char *text, size_t len, void *arg),
                          void *arg)
{
    size_t texts = 0;
    for (int a = 0; a < count; a++) {
        DIR *dir = opendir(dirs[a]);
        CHECK(dir != NULL);
        for (struct dirent *d; dir && (d = readdir(dir));) {
            size_t n = strlen(d->d_name);
            if (n < 5 || strcmp(d->d_name + n - 4, ".txt") != 0)
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dirs[a], d->d_name);
            size_t len = 0;
            char *text = paste_read(path, &len);
            CHECK(text != NULL);
            if (text)
                each(d->d_name, text, len, arg);
            free(text);
            texts++;
        }
        if (dir)
            closedir(dir);
    }
    return texts;
}

#endif
