#!/usr/bin/env python3
"""damaged_prefilter.py - a damaged prefilter index is refused, never read (issues 11 and 12).

The prefilter table (lookup/kb_prefilter.h) is read in place, a chunk at a time, each row checked
against its own XXH64 before use. Copies of the database the build compiled are damaged with
SQLite, then every page resealed with kb-reseal (so the page checksums pass and only the rows'
own checks can catch it), and also left unsealed (the page checksums catch it first):

  header-version   the header's version changed
  header-slots     the header's slot count no longer a power of two
  chunk-bytes      one byte changed in every chunk of the index
  chunk-moved      the rows of two chunks swapped (each intact, at the wrong place)
  chunk-missing    the last chunk deleted

Each must exit 2 with a message naming the database and the prefilter index; the intact copy
still answers. Usage: damaged_prefilter.py KB_LOOKUP KB_RESEAL DB
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

LOOKUP, RESEAL, DB = sys.argv[1:4]
QUERY = "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled"
failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg)


def flip(data, at):
    data = bytearray(data)
    data[at] ^= 0x21
    return bytes(data)


def damage(con, shape):
    rows = dict(con.execute("SELECT id, data FROM prefilter"))
    last = max(rows)
    if shape == "header-version":
        con.execute("UPDATE prefilter SET data = ? WHERE id = 0", (flip(rows[0], 8 + 4),))
    elif shape == "header-slots":
        con.execute("UPDATE prefilter SET data = ? WHERE id = 0", (flip(rows[0], 8 + 12),))
    elif shape == "chunk-bytes":
        for i in range(1, last + 1):
            con.execute("UPDATE prefilter SET data = ? WHERE id = ?",
                        (flip(rows[i], 8 + (i * 37) % (len(rows[i]) - 8)), i))
    elif shape == "chunk-moved":
        con.execute("UPDATE prefilter SET data = ? WHERE id = 1", (rows[2],))
        con.execute("UPDATE prefilter SET data = ? WHERE id = 2", (rows[1],))
    elif shape == "chunk-missing":
        con.execute("DELETE FROM prefilter WHERE id = ?", (last,))


def main():
    tmp = tempfile.mkdtemp(prefix="kb-prefilter-")
    try:
        con = sqlite3.connect(f"file:{DB}?immutable=1", uri=True)
        chunks = con.execute("SELECT count(*) FROM prefilter").fetchone()[0] - 1
        con.close()
        if chunks < 2:
            print("the prefilter has fewer than two chunks: skipped")
            return 77
        p = subprocess.run([LOOKUP, "--db", DB, "--json", QUERY], capture_output=True, text=True)
        intact = (p.returncode, p.stdout)
        for shape in ("header-version", "header-slots", "chunk-bytes", "chunk-moved",
                      "chunk-missing"):
            for sealed in (True, False):
                path = os.path.join(tmp, f"{shape}-{int(sealed)}.db")
                shutil.copyfile(DB, path)
                con = sqlite3.connect(path)
                damage(con, shape)
                con.commit()
                con.close()
                if sealed and subprocess.run([RESEAL, path]).returncode != 0:
                    fail(f"kb-reseal {shape} failed")
                    continue
                # the install-time check reads every chunk
                p = subprocess.run([LOOKUP, "--db", path, "--check-db"], capture_output=True,
                                   text=True, errors="replace")
                want = "prefilter index" if sealed else "is damaged: page"
                what = f"{shape} ({'resealed' if sealed else 'pages not resealed'})"
                if p.returncode != 2 or path not in p.stderr or want not in p.stderr:
                    fail(f"{what} --check-db: exit {p.returncode}: {p.stderr.strip()[:300]}")
                    continue
                # a lookup reads only the chunks its tokens probe: it stops naming the damage,
                # or (when it reads none of it) gives the intact database's answer
                q = subprocess.run([LOOKUP, "--db", path, "--json", QUERY], capture_output=True,
                                   text=True, errors="replace")
                if not ((q.returncode == 2 and path in q.stderr)
                        or (q.returncode, q.stdout) == intact):
                    fail(f"{what} lookup: exit {q.returncode}: {q.stderr.strip()[:300]}")
                print(f"ok   {what}: {p.stderr.strip()[:140]}")
        p = subprocess.run([LOOKUP, "--db", DB, QUERY], capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"the intact database: exit {p.returncode}: {p.stderr}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{failures} failure(s)" if failures else "ok")
    return 1 if failures else 0


sys.exit(main())
