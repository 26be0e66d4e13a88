#!/usr/bin/env python3
"""The Markdown answer of every shipped entry is fit for a ticket or a chat (issue 17, item 5).

  markdown_render.py KB_LOOKUP KB_DB

For every entry of the database, its --show in Markdown and the answer to its first example
(with a line naming a customer's server, port and user, so that values are filled in): no
code span or code block holds a value of the text marked in bold (it would be copied with
the marks: a value is marked outside code only; the articles' own code may hold '**'), no kb: link is left (it opens nowhere outside the tool), no paragraph is hard-wrapped (a
line of prose followed by one that does not start a block of its own), no '\\>' (CommonMark
needs no escape there), and no control byte of the compiler's own markers.
"""
import json
import re
import sqlite3
import subprocess
import sys

VALUES = "\nconnecting to SMTP server mx1.customer-shop.de port 587 as user jane@customer-shop.de"
BLOCK_START = re.compile(r"^\s*([-*+]\s|\d{1,9}[.)]\s|#{1,6}\s|>|```|~~~|\||\*Left out)")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")


PROSE_MARKED = [0]  # answers with a value marked in prose: the test must see the marking at work


def problems_of(md):
    found = []
    # the values the answer found in the text, as it marks them in prose
    facts = re.search(r"^\*\*Found in the text:\*\*(.*)$", md, re.M)
    marked = ["**%s**" % v for v in re.findall(r"`([^`]+)`", facts.group(1))] if facts else []
    if "](kb:" in md:
        found.append("a kb: link is left")
    if "\\>" in md:
        found.append("'\\>' escaped")
    if re.search(r"[\x00-\x08\x0b-\x1f]", md):
        found.append("a control byte")
    lines = md.split("\n")
    fence = None
    for i, line in enumerate(lines):
        m = FENCE.match(line)
        if fence:
            if any(v in line for v in marked):
                found.append("line %d: a value marked in a code block: %r" % (i + 1, line[:120]))
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        if any(v in CODE_SPAN.sub("", line) for v in marked) and not line.startswith("**Found"):
            PROSE_MARKED[0] += 1
        if "****" in CODE_SPAN.sub("", line):
            found.append("line %d: '****' in prose: a value marked inside bold the article set"
                         % (i + 1))
        for span in CODE_SPAN.finditer(line):
            if any(v in span.group(2) for v in marked):
                found.append("line %d: a value marked in a code span: %r" % (i + 1, span.group(0)[:120]))
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (line.strip() and nxt.strip() and not FENCE.match(nxt) and not BLOCK_START.match(nxt)
                and not line.lstrip().startswith(("#", ">", "|"))):
            found.append("line %d: a paragraph hard-wrapped: %r / %r" % (i + 1, line[-60:],
                                                                       nxt[:60]))
    return found


def run(lookup, args, stdin=None):
    p = subprocess.run([lookup, *args], input=stdin, capture_output=True, text=True,
                       errors="replace")
    return p.returncode, p.stdout


def main():
    lookup, db = sys.argv[1:3]
    try:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        examples = dict(con.execute(
            "SELECT e.slug, x.text FROM entry e JOIN example x ON x.entry_id = e.id "
            "WHERE x.counter = 0 ORDER BY x.id DESC"))
    except sqlite3.Error as e:
        print("cannot read the examples of %s: %s: skipped" % (db, e))
        return 77
    rc, out = run(lookup, ["--db", db, "--list", "--json"])
    ids = [e["id"] for e in json.loads(out)["entries"]]
    failures = 0
    for entry in ids:
        checks = [("--show", run(lookup, ["--db", db, "--format", "markdown", "--show", entry]))]
        if entry in examples:
            checks.append(("example", run(lookup, ["--db", db, "--format", "markdown",
                                                   "--all-providers", "--top", "3", "-"],
                                          examples[entry] + VALUES)))
        for what, (rc, md) in checks:
            if rc not in (0, 1) or not md:
                print("FAIL %s %s: exit %d, no output" % (entry, what, rc))
                failures += 1
                continue
            for problem in problems_of(md):
                print("FAIL %s %s: %s" % (entry, what, problem))
                failures += 1
    if not PROSE_MARKED[0]:
        print("FAIL no answer marked a value of the text in its prose: the check saw nothing")
        failures += 1
    print("%d entries checked, %d prose lines with a marked value, %d problem(s)"
          % (len(ids), PROSE_MARKED[0], failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
