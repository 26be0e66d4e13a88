#!/bin/bash
# braces.sh - issue 19: an article full of "{{" without "}}" compiled in time linear in its
# size (it cost the square: 1 MiB took 3 s, the 64 MiB a file may have, hours). Articles of
# 8 MiB of "{{ " (kbc_render_md's unescaping) and of "{{a|" (the placeholder scan) are
# compiled, and the entry shown by kb-lookup (kb_template_expand), each under a generous
# limit: a few seconds where the quadratic code took minutes. No tight timing.
#   braces.sh KB_COMPILE KB_LOOKUP
set -u
KBC=$1 LOOKUP=$2
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kb-braces.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
command -v python3 >/dev/null || { echo "python3 not found: skipped"; exit 77; }

for shape in '{{ ' '{{a|'; do
    rm -rf "$WORK/kb" && mkdir "$WORK/kb"
    python3 -c "import sys; sys.stdout.write('# Braces\n\n' + sys.argv[1] * (8 * 1024 * 1024 // len(sys.argv[1])) + '\n')" \
        "$shape" >"$WORK/kb/braces.md"
    if ! timeout 120 "$KBC" --quiet "$WORK/kb" -o "$WORK/braces.db" 2>"$WORK/err"; then
        fail "compiling 8 MiB of '$shape' failed or took over 120 s: $(head -c 300 "$WORK/err")"
        continue
    fi
    for format in text markdown json; do
        timeout 60 "$LOOKUP" --db "$WORK/braces.db" --format "$format" --show braces \
            >"$WORK/out" 2>"$WORK/err"
        rc=$?
        [ "$rc" -eq 0 ] || fail "--show of the '$shape' article ($format): exit $rc"
        [ "$(wc -c <"$WORK/out")" -gt $((8 * 1024 * 1024)) ] ||
            fail "--show of the '$shape' article ($format) is not the whole article"
    done
done
[ "$failures" -eq 0 ] && echo ok || echo "$failures failure(s)"
[ "$failures" -eq 0 ]
