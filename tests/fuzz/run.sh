#!/bin/bash
# run.sh - builds the libFuzzer targets with clang (AddressSanitizer, UndefinedBehaviorSanitizer
# and LeakSanitizer) and runs one of them; see README.md here. Exits 77 where clang or its
# libFuzzer runtime is missing (Debian: apt-get install clang libclang-rt-14-dev).
#
#   run.sh SRC BUILD --build           build every target (into BUILD/fuzz), run none
#   run.sh SRC BUILD TARGET SECONDS    run TARGET (query, norm, article, db) for SECONDS
#
# The targets are rebuilt when a source of libkb, the compiler or tests/fuzz is newer. A run
# grows the corpus BUILD/fuzz/corpus-TARGET from the seeds (tests/fuzz/seeds/TARGET, the
# accuracy sets, the KB's articles and databases); a crash is written to
# BUILD/fuzz/artifacts/ and fails the run.
set -eu
SRC=$(cd "$1" && pwd)
BUILD=$(cd "$2" && pwd)
shift 2
OUT=$BUILD/fuzz
CC=${KB_FUZZ_CC:-clang}
TARGETS="query norm article db"

command -v "$CC" >/dev/null || { echo "$CC not found: the fuzz targets are skipped"; exit 77; }
mkdir -p "$OUT/obj" "$OUT/artifacts"
probe=$OUT/probe.c
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return d && n; }' >"$probe"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe" -o "$OUT/probe" 2>/dev/null; then
    echo "$CC cannot link libFuzzer (Debian: apt-get install libclang-rt-14-dev): skipped"
    exit 77
fi
for pkg in libpcre2-8 sqlite3 libcmark; do
    pkg-config --exists "$pkg" || { echo "pkg-config finds no $pkg: skipped"; exit 77; }
done

FLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
       -std=c11 -DPCRE2_CODE_UNIT_WIDTH=8 -D_POSIX_C_SOURCE=200809L -DKB_VERSION=\"fuzz\"
       -I$SRC/lookup -I$SRC/compiler $(pkg-config --cflags libpcre2-8 sqlite3 libcmark)"
LIBS="$(pkg-config --libs libpcre2-8 sqlite3 libcmark) -lm -lpthread"

# objects: libkb, and the compiler without its main (for the article target)
build_objects() {
    local src obj changed=0
    for src in "$SRC"/lookup/*.c "$SRC"/compiler/*.c; do
        [ "$(basename "$src")" = main.c ] && continue
        obj=$OUT/obj/$(basename "$(dirname "$src")")-$(basename "$src" .c).o
        if [ ! -e "$obj" ] || [ -n "$(find "$SRC/lookup" "$SRC/compiler" -name '*.h' -newer "$obj")" ] \
            || [ "$src" -nt "$obj" ]; then
            # shellcheck disable=SC2086
            "$CC" $FLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
            changed=1
        fi
    done
    return 0
}

build_target() {
    local name=$1 bin=$OUT/fuzz_$1 extra=
    [ "$name" = article ] && extra="$OUT/obj/compiler-*.o"
    if [ -e "$bin" ] && [ -z "$(find "$OUT/obj" "$SRC/tests/fuzz/fuzz_$name.c" -newer "$bin")" ]; then
        return 0
    fi
    # shellcheck disable=SC2086
    "$CC" $FLAGS -fsanitize=fuzzer -DKB_FUZZ_DB="\"$BUILD/kb.db\"" \
        "$SRC/tests/fuzz/fuzz_$name.c" $OUT/obj/lookup-*.o $extra $LIBS -o "$bin"
}

# the seeds of one target, gathered once into BUILD/fuzz/seeds-TARGET
seeds() {
    local name=$1 dir=$OUT/seeds-$1
    if [ "$name" = db ] && [ -d "$dir" ]; then
        # the build's databases again: after a schema change the old copies only test the
        # version check
        [ -e "$BUILD/tests/lookup/fixture.db" ] && cp "$BUILD/tests/lookup/fixture.db" "$dir"/
        [ -e "$BUILD/kb.db" ] && cp "$BUILD/kb.db" "$dir"/
    fi
    [ -d "$dir" ] && { echo "$dir"; return; }
    mkdir -p "$dir"
    case $name in
    query | norm)
        cp "$SRC"/tests/fuzz/seeds/query/* "$dir"/ 2>/dev/null || true
        # every paste of the accuracy sets, one file each
        python3 - "$dir" "$SRC"/tests/eval/*.jsonl "$SRC"/../shared/eval/*.jsonl <<'PY' || true
import json, os, sys
out, n = sys.argv[1], 0
for path in sys.argv[2:]:
    if not os.path.exists(path):
        continue
    for line in open(path, encoding="utf-8", errors="surrogateescape"):
        try:
            text = json.loads(line).get("text")
        except ValueError:
            continue
        if isinstance(text, str):
            n += 1
            open(os.path.join(out, f"eval-{n:05d}"), "wb").write(
                text.encode("utf-8", "surrogateescape"))
PY
        ;;
    article)
        cp "$SRC"/tests/fuzz/seeds/article/* "$dir"/ 2>/dev/null || true
        find "$SRC/kb" "$SRC/tests/compiler/fixtures" "$SRC/tests/lookup/fixture-kb" \
            -name '*.md' | while read -r f; do
            cp "$f" "$dir/$(echo "$f" | cksum | cut -d' ' -f1).md"
        done
        ;;
    db)
        cp "$SRC"/tests/fuzz/seeds/db/* "$dir"/ 2>/dev/null || true
        [ -e "$BUILD/tests/lookup/fixture.db" ] && cp "$BUILD/tests/lookup/fixture.db" "$dir"/
        [ -e "$BUILD/kb.db" ] && cp "$BUILD/kb.db" "$dir"/
        ;;
    esac
    echo "$dir"
}

build_objects
for t in $TARGETS; do build_target "$t"; done
[ "${1:-}" = --build ] && { echo "fuzz targets built in $OUT"; exit 0; }

name=${1:?usage: run.sh SRC BUILD TARGET SECONDS}
seconds=${2:-60}
case " $TARGETS " in *" $name "*) ;; *) echo "unknown target '$name' ($TARGETS)" >&2; exit 2 ;; esac
max_len=65536
[ "$name" = db ] && max_len=4194304
[ "$name" = article ] && max_len=262144
mkdir -p "$OUT/corpus-$name"
seed_dir=$(seeds "$name")
cd "$OUT"
"$OUT/fuzz_$name" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2560 -max_len="$max_len" \
    -artifact_prefix="$OUT/artifacts/$name-" -print_final_stats=1 \
    "$OUT/corpus-$name" "$seed_dir" 2>&1 | grep -vE '^#[0-9]+\s+(NEW|REDUCE|pulse)' | tail -40
exit "${PIPESTATUS[0]}"
