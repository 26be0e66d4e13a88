#!/usr/bin/env python3
"""corrupt_sweep.py - damaged copies of a database, each looked up as a user would (issue 12).

COUNT copies of DB are damaged, each in one of the ways a file gets damaged (random bit flips,
a page overwritten with noise or zeros, two pages swapped, one copied over another, the file
cut short, the header zeroed, bits flipped inside the stored blobs: the compiled signatures and
the prefilter index) and looked up with a few pastes, --show and --list. Against the answers of
the intact file, every run must:
  - end normally: exit 0, 1 or 2, no signal, no sanitizer report (the ASan build runs this);
  - never answer differently in silence: a run that exits 0 or 1 must print what the intact
    file gives. A damaged file may answer the same (the damage was in pages the run did not
    read) or refuse with exit 2; it may not answer something else.
A tenth of the copies are then resealed (page checksums recomputed, as a forger would): for
those only the first rule holds, and their silent differences are counted but not failed (a
checksum catches damage, not forgery).

Usage: corrupt_sweep.py KB_LOOKUP KB_RESEAL DB COUNT SEED
KB_SOAK=1 in the environment multiplies COUNT by 10.
"""
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile

LOOKUP, RESEAL, DB = sys.argv[1:4]
COUNT, SEED = int(sys.argv[4]), int(sys.argv[5])
if os.environ.get("KB_SOAK"):
    COUNT *= 10

PASTES = [
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
    "Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
    "Traceback (most recent call last):\n  File \"send.py\", line 12, in <module>\n"
    "    server.login(user, password)\nsmtplib.SMTPAuthenticationError: (534, b'5.7.9 "
    "Application-specific password required. Learn more at\\n5.7.9  "
    "https://support.google.com/mail/?p=InvalidSecondFactor - gsmtp')",
    "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual "
    "mailbox table",
]


def run(db, args, stdin=None):
    try:
        p = subprocess.run([LOOKUP, "--db", db, *args], input=stdin, capture_output=True,
                           timeout=120)
    except subprocess.TimeoutExpired:
        return ("timeout", b"", b"")
    return (p.returncode, p.stdout, p.stderr)


def queries(db, entry_id):
    out = [run(db, ["--json", "--explain"], p.encode()) for p in PASTES]
    out.append(run(db, ["--show", entry_id]))
    out.append(run(db, ["--list", "--json"]))
    return out


def blob_spans(image):
    """Where in the file the first bytes of each stored blob lie (beyond the first page): the
    blob table's and the prefilter index's rows (read in place, a chunk at a time)."""
    con = sqlite3.connect(f"file:{DB}?immutable=1", uri=True)
    spans = []
    for (data,) in con.execute("SELECT data FROM blob UNION ALL SELECT data FROM prefilter"):
        data = bytes(data)
        for start in range(0, max(1, len(data) - 64), 512):
            at = image.find(data[start:start + 64])
            if at > 0:
                spans.append((at, min(len(data) - start, 512)))
    con.close()
    return spans


def damage(rng, image, page_size, spans):
    data = bytearray(image)
    pages = len(data) // page_size
    kind = rng.choice(["bitflip", "page-noise", "page-zero", "page-swap", "page-copy",
                       "truncate", "header-zero", "blob-flip", "blob-flip"])
    if kind == "bitflip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind in ("page-noise", "page-zero"):
        p = rng.randrange(pages)
        data[p * page_size:(p + 1) * page_size] = (
            bytes(rng.randrange(256) for _ in range(page_size)) if kind == "page-noise"
            else bytes(page_size))
    elif kind in ("page-swap", "page-copy"):
        a, b = rng.randrange(pages), rng.randrange(pages)
        pa = bytes(data[a * page_size:(a + 1) * page_size])
        pb = bytes(data[b * page_size:(b + 1) * page_size])
        data[b * page_size:(b + 1) * page_size] = pa
        if kind == "page-swap":
            data[a * page_size:(a + 1) * page_size] = pb
    elif kind == "truncate":
        cut = rng.randrange(len(data)) if rng.random() < 0.5 else rng.randrange(pages) * page_size
        del data[cut:]
    elif kind == "header-zero":
        data[0:100] = bytes(100)
    elif kind == "blob-flip" and spans:
        at, n = rng.choice(spans)
        for _ in range(rng.randint(1, 4)):
            i = at + rng.randrange(n)
            data[i] ^= 1 << rng.randrange(8)
    return kind, data


def main():
    image = open(DB, "rb").read()
    page_size = int.from_bytes(image[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    con = sqlite3.connect(f"file:{DB}?immutable=1", uri=True)
    entry_id = con.execute("SELECT slug FROM entry ORDER BY id LIMIT 1").fetchone()[0]
    con.close()
    spans = blob_spans(image)
    intact = queries(DB, entry_id)
    if any(r[0] not in (0, 1) for r in intact):
        print("the intact database does not answer: " + repr([r[0] for r in intact]))
        return 1
    rng = random.Random(SEED)
    tmp = tempfile.mkdtemp(prefix="kb-sweep-")
    stats = {"refused": 0, "same": 0, "silent": 0, "crash": 0, "forged-silent": 0, "runs": 0}
    kinds = {}
    try:
        path = os.path.join(tmp, "damaged.db")
        for n in range(COUNT):
            kind, data = damage(rng, image, page_size, spans)
            forged = n % 10 == 9
            open(path, "wb").write(data)
            if forged and (len(data) < page_size or len(data) % page_size
                           or subprocess.run([RESEAL, path], capture_output=True).returncode):
                forged = False  # nothing to reseal (cut short): an ordinary damaged copy
            kinds[kind] = kinds.get(kind, 0) + 1
            for q, (got, want) in enumerate(zip(queries(path, entry_id), intact)):
                stats["runs"] += 1
                rc, out, err = got
                if (rc not in (0, 1, 2) or b"Sanitizer" in err or b"runtime error" in err
                        or b"LeakSanitizer" in err):
                    stats["crash"] += 1
                    print(f"FAIL copy {n} ({kind}{', resealed' if forged else ''}), query {q}: "
                          f"exit {rc}: {err[-800:].decode(errors='replace')}")
                elif rc == 2:
                    stats["refused"] += 1
                elif (rc, out) == (want[0], want[1]):
                    stats["same"] += 1
                elif forged:
                    stats["forged-silent"] += 1
                else:
                    stats["silent"] += 1
                    print(f"FAIL copy {n} ({kind}), query {q}: exit {rc}, a different answer "
                          f"and no error")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{COUNT} damaged copies (seed {SEED}; " +
          ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) + f"), {stats['runs']} runs: "
          f"{stats['refused']} refused (exit 2), {stats['same']} the same answer, "
          f"{stats['silent']} a different answer in silence, {stats['crash']} crashed; "
          f"resealed copies answering differently (forgery, not counted): "
          f"{stats['forged-silent']}")
    return 1 if stats["silent"] or stats["crash"] else 0


sys.exit(main())
