/*
 * structure.c - the structure of an entry's solution, read at compile time for programs that
 * show a fix step by step (kb-lookup --json: solution.steps, .verify, .handover).
 *
 * The Fix section's top-level list items are its steps (numbered as the list numbers them,
 * bullets counted on), what stands before the first of them is its introduction, and a block
 * between two items belongs to the step before it. Verify is read the same way; without a
 * list, a section is one step. "When to hand over" is one piece of text. Each step is stored
 * rendered (plain text and Markdown, placeholders as written) with its commands: its code
 * blocks and the code spans that hold a placeholder, which are what an agent copies and runs.
 * Lookup only fills the placeholders in (kb_template_expand, kb_placeholder_origin).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kbc.h"

/* Which part a level-3 heading after the Fix starts; -1 for none of ours. */
static int part_of(const char *title)
{
    static const char *const verify[] = {"verify", "check", "test", "verification",
                                         "check that it works"};
    static const char *const handover[] = {"when to hand over", "hand over", "handover",
                                           "when to escalate",  "escalate",  "escalation"};
    size_t n = strlen(title);
    while (n && (title[n - 1] == ':' || title[n - 1] == ' '))
        n--;
    for (size_t i = 0; i < sizeof verify / sizeof *verify; i++)
        if (strlen(verify[i]) == n && strncasecmp(title, verify[i], n) == 0)
            return KB_FIX_VERIFY;
    for (size_t i = 0; i < sizeof handover / sizeof *handover; i++)
        if (strlen(handover[i]) == n && strncasecmp(title, handover[i], n) == 0)
            return KB_FIX_HANDOVER;
    return -1;
}

/* Drops steps.c's sentinels ("\x1f" code "\x1f") from a rendering, in place. */
static void strip_sentinels(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        char *close = *r == KBC_SENTINEL ? strchr(r + 1, KBC_SENTINEL) : NULL;
        if (close && close - r <= 24 && strcspn(r + 1, "\n") > (size_t)(close - r - 1)) {
            r = close + 1;
            continue;
        }
        *w++ = *r++;
    }
    *w = '\0';
}

static struct kbc_fix_step *new_step(struct kbc_entry *e, int part, long number)
{
    struct kbc_fix_step *steps = kbc_grow(e->fix, &e->fix_alloc, e->fix_count, sizeof *steps);
    if (!steps)
        return NULL;
    e->fix = steps;
    struct kbc_fix_step *s = &steps[e->fix_count++];
    memset(s, 0, sizeof *s);
    s->part = part;
    s->number = number;
    return s;
}

static enum kb_status add_command(struct kbc_fix_step *s, const char *lit, size_t len)
{
    while (len && (lit[len - 1] == '\n' || lit[len - 1] == ' '))
        len--;
    if (!len)
        return KB_OK;
    char **c = kbc_grow(s->commands, &s->command_alloc, s->command_count, sizeof *c);
    if (!c)
        return KB_ERR_NOMEM;
    s->commands = c;
    if (!(c[s->command_count] = kbc_strndup(lit, len)))
        return KB_ERR_NOMEM;
    s->command_count++;
    return KB_OK;
}

/* The commands of the sibling blocks [first, end): code blocks (not kb- blocks), and code
 * spans that hold a placeholder (a code span without one is a word or a reply, seldom a
 * command that needs the customer's values). */
static enum kb_status collect_commands(struct kbc_fix_step *s, cmark_node *first, cmark_node *end)
{
    enum kb_status status = KB_OK;
    for (cmark_node *top = first; top && top != end && status == KB_OK;
         top = cmark_node_next(top)) {
        cmark_iter *it = cmark_iter_new(top);
        if (!it)
            return KB_ERR_NOMEM;
        cmark_event_type ev;
        while (status == KB_OK && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            cmark_node *n = cmark_iter_get_node(it);
            if (ev != CMARK_EVENT_ENTER)
                continue;
            cmark_node_type t = cmark_node_get_type(n);
            const char *lit = cmark_node_get_literal(n);
            if (!lit)
                continue;
            if (t == CMARK_NODE_CODE_BLOCK) {
                const char *info = cmark_node_get_fence_info(n);
                if (!info || strncmp(info, "kb-", 3) != 0)
                    status = add_command(s, lit, strlen(lit));
            } else if (t == CMARK_NODE_CODE && strstr(lit, "{{")) {
                status = add_command(s, lit, strlen(lit));
            }
        }
        cmark_iter_free(it);
    }
    return status;
}

/* Appends the renderings of [first, end) to the step's, a blank line between. */
static enum kb_status add_blocks(struct kbc_fix_step *s, cmark_node *first, cmark_node *end,
                                 struct kb_buf *buf)
{
    char **fields[2] = {&s->text, &s->md};
    enum kb_status status = KB_OK;
    for (int f = 0; f < 2 && status == KB_OK; f++) {
        kb_buf_reset(buf);
        if (*fields[f] && (*fields[f])[0])
            status = kb_buf_printf(buf, "%s\n\n", *fields[f]);
        if (status == KB_OK)
            status = f == 0 ? kbc_render_text(first, end, KBC_PLAIN, buf)
                            : kbc_render_md(first, end, buf);
        if (status == KB_OK)
            status = kb_buf_append(buf, "", 0);
        if (status == KB_OK) {
            strip_sentinels(buf->data);
            size_t n = strlen(buf->data);
            while (n && buf->data[n - 1] == '\n')
                buf->data[--n] = '\0';
            char *copy = kbc_strndup(buf->data, n);
            if (!copy)
                return KB_ERR_NOMEM;
            free(*fields[f]);
            *fields[f] = copy;
        }
    }
    return status == KB_OK ? collect_commands(s, first, end) : status;
}

/* The providers of a list item that a kb-provider-steps line marks: its first paragraph
 * starts with the sentinel steps.c put there ("\x1f" "S" index "\x1f"). */
static const char *item_providers(const struct kbc_entry *e, cmark_node *item)
{
    cmark_node *para = cmark_node_first_child(item);
    cmark_node *mark = para ? cmark_node_first_child(para) : NULL;
    if (!mark || cmark_node_get_type(mark) != CMARK_NODE_CUSTOM_INLINE)
        return "";
    const char *code = cmark_node_get_on_enter(mark);
    if (!code || code[0] != KBC_SENTINEL || code[1] != 'S')
        return "";
    size_t i = (size_t)strtoul(code + 2, NULL, 10);
    return i < e->step_count && e->steps[i].providers ? e->steps[i].providers : "";
}

/* One part's blocks [first, end): steps from its top-level lists, or one step. */
static enum kb_status read_part(struct kbc_entry *e, int part, cmark_node *first, cmark_node *end,
                                struct kb_buf *buf)
{
    enum kb_status status = KB_OK;
    if (!first || first == end)
        return KB_OK;
    if (part == KB_FIX_HANDOVER) {
        struct kbc_fix_step *s = new_step(e, part, 0);
        return s ? add_blocks(s, first, end, buf) : KB_ERR_NOMEM;
    }
    int any_list = 0;
    for (cmark_node *n = first; n && n != end; n = cmark_node_next(n))
        any_list |= cmark_node_get_type(n) == CMARK_NODE_LIST;
    if (!any_list) {
        struct kbc_fix_step *s = new_step(e, part, 1);
        return s ? add_blocks(s, first, end, buf) : KB_ERR_NOMEM;
    }
    size_t current = (size_t)-1; /* index in e->fix of the step blocks join */
    cmark_node *lead = NULL;     /* blocks before the first step */
    long counted = 0;
    for (cmark_node *n = first; n && n != end && status == KB_OK; n = cmark_node_next(n)) {
        if (cmark_node_get_type(n) != CMARK_NODE_LIST) {
            if (current != (size_t)-1)
                status = add_blocks(&e->fix[current], n, cmark_node_next(n), buf);
            else if (!lead)
                lead = n;
            continue;
        }
        int ordered = cmark_node_get_list_type(n) == CMARK_ORDERED_LIST;
        long number = ordered ? cmark_node_get_list_start(n) : counted + 1;
        for (cmark_node *item = cmark_node_first_child(n); item && status == KB_OK;
             item = cmark_node_next(item), number++) {
            if (lead && part == KB_FIX_STEP) { /* the Fix's introduction */
                struct kbc_fix_step *intro = new_step(e, KB_FIX_INTRO, 0);
                status = intro ? add_blocks(intro, lead, n, buf) : KB_ERR_NOMEM;
            }
            struct kbc_fix_step *s = status == KB_OK ? new_step(e, part, number) : NULL;
            if (!s)
                return status == KB_OK ? KB_ERR_NOMEM : status;
            const char *providers = item_providers(e, item);
            if (!(s->providers = kbc_strndup(providers, strlen(providers))))
                return KB_ERR_NOMEM;
            if (lead && part != KB_FIX_STEP) /* Verify's words before its list: with step 1 */
                status = add_blocks(s, lead, n, buf);
            lead = NULL;
            cmark_node *child = cmark_node_first_child(item);
            if (status == KB_OK && child)
                status = add_blocks(s, child, NULL, buf);
            current = e->fix_count - 1;
            counted = number;
        }
    }
    return status;
}

enum kb_status kbc_structure_read(struct kbc_entry *e, cmark_node *fix, cmark_node *end)
{
    struct kb_buf buf, title;
    kb_buf_init(&buf, 0);
    kb_buf_init(&title, 0);
    enum kb_status status = KB_OK;
    int part = KB_FIX_STEP;
    cmark_node *from = cmark_node_next(fix);
    for (cmark_node *n = from;; n = cmark_node_next(n)) {
        int at_end = !n || n == end;
        int level = !at_end && cmark_node_get_type(n) == CMARK_NODE_HEADING
                        ? cmark_node_get_heading_level(n)
                        : 0;
        if (!at_end && (!level || level > 3))
            continue;
        if (part >= 0)
            status = read_part(e, part, from, at_end ? end : n, &buf);
        if (at_end || status != KB_OK)
            break;
        status = kbc_inline_text(n, &title);
        if (status != KB_OK)
            break;
        part = part_of(title.data);
        from = cmark_node_next(n);
    }
    kb_buf_release(&buf);
    kb_buf_release(&title);
    return status;
}

void kbc_structure_release(struct kbc_entry *e)
{
    for (size_t i = 0; i < e->fix_count; i++) {
        free(e->fix[i].providers);
        free(e->fix[i].text);
        free(e->fix[i].md);
        for (size_t k = 0; k < e->fix[i].command_count; k++)
            free(e->fix[i].commands[k]);
        free(e->fix[i].commands);
    }
    free(e->fix);
    e->fix = NULL;
    e->fix_count = e->fix_alloc = 0;
}
