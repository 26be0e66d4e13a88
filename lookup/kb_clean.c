/*
 * kb_clean.c - control bytes and ANSI escape sequences out of one line. The lowest layer of
 * text handling: normalisation (kb_norm.c) and masking (kb_mask.c) both use it, and it uses
 * nothing but the buffer, so neither of them has to call the other to clean a line.
 */
#include "kb_text.h"

enum kb_status kb_clean_line(const char *line, size_t len, struct kb_buf *out)
{
    size_t i = 0;
    while (i < len) {
        /* copy the run of ordinary bytes at once */
        size_t run = i;
        while (run < len && ((unsigned char)line[run] >= 0x20 && (unsigned char)line[run] != 0x7f))
            run++;
        if (run > i) {
            enum kb_status st = kb_buf_append(out, line + i, run - i);
            if (st != KB_OK)
                return st;
            i = run;
            continue;
        }
        unsigned char c = (unsigned char)line[i];
        if (c == 0x1b) {
            /* CSI: ESC [ params final(0x40-0x7e); OSC: ESC ] ... BEL or ESC \; else ESC x. */
            i++;
            if (i < len && line[i] == '[') {
                i++;
                while (i < len
                       && !((unsigned char)line[i] >= 0x40 && (unsigned char)line[i] <= 0x7e))
                    i++;
                i++;
            } else if (i < len && line[i] == ']') {
                while (i < len && line[i] != '\a'
                       && !(line[i] == 0x1b && i + 1 < len && line[i + 1] == '\\'))
                    i++;
                i += (i < len && line[i] == 0x1b) ? 2 : 1;
            } else {
                i++;
            }
            continue;
        }
        if (c == '\t' || c == '\0') {
            enum kb_status st = kb_buf_append_char(out, ' ');
            if (st != KB_OK)
                return st;
        }
        i++;
    }
    return KB_OK;
}
