#!/usr/bin/env python3
"""damaged_db.py - the database findings of issue 19, and their shapes on a current database.

The findings (../shared/findings/db-always-code-*.db) damaged the stored serialisation of the
unanchored signatures (the 'always_code' blob): cut short, cut to its 16-byte header, and the
second code's block size changed. A lookup read past the blob and leaked. The blob is read,
checked and decoded when the database is opened, so every lookup refuses it: the shapes are
looked up with a text that needs an unanchored signature and with one that needs none. Here:

  - each findings file must be refused (exit 2, no answer; they are of schema version 1),
    under valgrind too when it is installed (no error, no leak);
  - bytes of the blob are changed in place in a copy of the database the build compiled: the
    page that holds them fails its checksum when the blob is read;
  - each shape is made again on that database, three ways:
      plain     the blob rewritten with SQLite: the pages it touched fail their checksums;
      pages     the same, every page resealed: the blob fails its own checksum;
      blobs     the same, the blob checksums recomputed too (a forger's file): the blob is
                refused before decoding (its blocks do not add up);
    each must exit 2 with a message naming the database and the damaged part;
  - a fourth shape gets past the block walk and makes pcre2_serialize_decode itself fail
    (the second code's magic number changed): PCRE2 10.42 then leaves the first code and the
    tables allocated, which libkb must free (no leak under valgrind here, and under
    LeakSanitizer in the sanitizer build).

Usage: damaged_db.py [--no-valgrind] KB_LOOKUP KB_RESEAL DB [FINDINGS_DIR]
(--no-valgrind for a sanitizer build, whose programs valgrind cannot run.)
"""
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile

ARGS = [a for a in sys.argv[1:] if a != "--no-valgrind"]
USE_VALGRIND = len(ARGS) == len(sys.argv) - 1
LOOKUP, RESEAL, DB = ARGS[0:3]
FINDINGS = ARGS[3] if len(ARGS) > 3 else ""
QUERY = "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled"
# PCRE2's serialisation, 8-bit code units, 64-bit build: a 16-byte header, 1088 bytes of
# character tables, then the codes, each starting with its memctl, tables and JIT pointers and
# a 32-byte start bitmap before its block size. Checked against the intact blob below.
TABLES, BLOCKSIZE_AT, MAGIC_AT, MAGIC = 1088, 72, 80, 0x50435245

failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg)


def lookup(path, extra=(), query=None):
    p = subprocess.run([*extra, LOOKUP, "--db", path, query or QUERY], capture_output=True,
                       text=True, errors="replace")
    return p.returncode, p.stdout, p.stderr


def blocks(blob, count):
    """The block sizes of a serialisation of count codes, or None when they do not add up."""
    at, sizes = 16 + TABLES, []
    for _ in range(count):
        if at + BLOCKSIZE_AT + 8 > len(blob):
            return None
        size = struct.unpack_from("<Q", blob, at + BLOCKSIZE_AT)[0]
        sizes.append(size)
        at += size
    return sizes if at == len(blob) else None


def check_refused(path, what, want, query=None):
    rc, out, err = lookup(path, query=query)
    if rc != 2:
        fail(f"{what}: exit {rc}, expected 2 (stderr: {err.strip()[:200]})")
    elif out:
        fail(f"{what}: printed an answer")
    elif path not in err or not all(w in err for w in want):
        fail(f"{what}: message lacks {want}: {err.strip()}")
    else:
        print(f"ok   {what}: {err.strip()}")


def needing_unanchored(db):
    """QUERY with the text of one of the database's unanchored literal signatures after it: a
    lookup reads their compiled code when a text first needs one of them (not at open), so
    the query must need one for the damage to be met."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT source FROM signature WHERE anchor IS NULL AND kind = 0 "
                          "ORDER BY id LIMIT 1").fetchone()
    finally:
        con.close()
    return QUERY + ("\n" + row[0] if row else "")


def main():
    global QUERY
    plain_query = QUERY
    QUERY = needing_unanchored(DB)
    tmp = tempfile.mkdtemp(prefix="kb-damaged-")
    try:
        have_valgrind = USE_VALGRIND and shutil.which("valgrind") is not None
        findings = sorted(f for f in os.listdir(FINDINGS) if f.startswith("db-") and
                          f.endswith(".db")) if FINDINGS and os.path.isdir(FINDINGS) else []
        for name in findings:
            path = os.path.join(FINDINGS, name)
            check_refused(path, f"finding {name}", ["kb-lookup: "])
            if have_valgrind:
                rc, _, err = lookup(path, ["valgrind", "--error-exitcode=99", "--leak-check=full",
                                           "--errors-for-leak-kinds=definite,indirect", "-q"])
                if rc != 2:
                    fail(f"finding {name} under valgrind: exit {rc}: {err[-600:]}")
                else:
                    print(f"ok   finding {name} under valgrind: no error, no leak")
        if not findings:
            print("../shared/findings not found: only the shapes are tested")

        con = sqlite3.connect(f"file:{DB}?immutable=1", uri=True)
        blob = con.execute("SELECT data FROM blob WHERE name = 'always_code'").fetchone()
        count = con.execute("SELECT count(*) FROM signature WHERE anchor IS NULL").fetchone()[0]
        con.close()
        if not blob or count < 2:
            print("the database has fewer than two compiled unanchored signatures: skipped")
            return 77
        blob = bytes(blob[0])
        sizes = blocks(blob, count)
        if not sizes:
            print("the serialisation is not laid out as this test assumes (another PCRE2 "
                  "build?): skipped")
            return 77
        second = 16 + TABLES + sizes[0] + BLOCKSIZE_AT
        shapes = {
            "truncated": blob[: len(blob) - 100],
            "header-only": blob[:16],
            "bad-blocksize": blob[:second] + struct.pack("<Q", sizes[1] + 4096)
            + blob[second + 8:],
        }
        magic = 16 + TABLES + sizes[0] + MAGIC_AT
        if struct.unpack_from("<I", blob, 16 + TABLES + MAGIC_AT)[0] == MAGIC:
            shapes["bad-magic"] = blob[:magic] + struct.pack("<I", MAGIC ^ 1) + blob[magic + 4:]
        else:
            print("the codes' magic number is not where this test assumes: bad-magic skipped")
        for shape, data in shapes.items():
            for how in ("plain", "pages", "blobs"):
                path = os.path.join(tmp, f"{shape}-{how}.db")
                shutil.copyfile(DB, path)
                con = sqlite3.connect(path)
                con.execute("UPDATE blob SET data = ? WHERE name = 'always_code'", (data,))
                con.commit()
                con.close()
                if how != "plain":
                    args = [RESEAL, path] + (["--blobs"] if how == "blobs" else [])
                    if subprocess.run(args).returncode != 0:
                        fail(f"kb-reseal {shape} {how} failed")
                        continue
                want = {"plain": ["is damaged: page", "fails its checksum"],
                        "pages": ["is damaged: the compiled signatures (blob 'always_code') "
                                  "fails its checksum"],
                        "blobs": ["is damaged: the compiled signatures (blob 'always_code') "
                                  "cannot be decoded"]}[how]
                check_refused(path, f"{shape} ({how})", want)
                # a text no unanchored signature needs: refused all the same, at open
                check_refused(path, f"{shape} ({how}), a text that needs none", want, plain_query)
                if shape == "bad-magic" and how == "blobs" and have_valgrind:
                    rc, _, err = lookup(path, ["valgrind", "--error-exitcode=99",
                                               "--leak-check=full", "-q",
                                               "--errors-for-leak-kinds=definite,indirect"])
                    if rc != 2:
                        fail(f"{shape} ({how}) under valgrind: exit {rc}: {err[-800:]}")
                    else:
                        print(f"ok   {shape} ({how}) under valgrind: no error, no leak")
        # bytes of the compiled code changed where they lie in the file
        image = open(DB, "rb").read()
        # 64 bytes of the code found once in the file (runs of zero bytes are also in other
        # parts, the prefilter index's empty slots among them)
        at = -1
        for start in range(16 + TABLES + 200, len(blob) - 64, 64):
            window = blob[start:start + 64]
            if image.count(window) == 1:
                at = image.find(window)
                break
        if at < 0:
            fail("the compiled code is not found in the file")
        else:
            path = os.path.join(tmp, "flipped.db")
            damaged = bytearray(image)
            # every copy: a page's free space may keep stale bytes of the blob (SQLite does
            # not clear it), and the first copy in the file need not be the live one
            chunk = blob[16 + TABLES + 200:16 + TABLES + 264]
            while at >= 0:
                for i in range(at, at + 64, 7):
                    damaged[i] ^= 0x5A
                at = image.find(chunk, at + 64)
            open(path, "wb").write(damaged)
            # the page may hold 'always_needs' too, read before the code: either is named
            check_refused(path, "bytes of the compiled code changed",
                          ["is damaged: page", "fails its checksum ("])
        # the intact database still answers
        rc, out, err = lookup(DB)
        if rc != 0:
            fail(f"the intact database: exit {rc}: {err}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{failures} failure(s)" if failures else "ok")
    return 1 if failures else 0


sys.exit(main())
