#!/usr/bin/env python3
"""The README's capture of the default answer is what kb-lookup prints today (issue 14).

  readme_capture.py KB_LOOKUP README

The README shows the answer to a Gmail 535 in an 80-column terminal: a fenced block after
"What it answers with", whose first line is the command ("$ kb-lookup '...'") and whose lines
that are only "..." stand for lines left out. The command is run with the embedded (shipped)
database at --width 80, without colour; every run of lines between two "..." must appear in
its output as written, in order. A change of the answer (a score, a step, the wrapping) then
fails here until the README is brought up to date.
"""
import os
import re
import shlex
import subprocess
import sys


def capture(readme):
    text = open(readme, encoding="utf-8").read()
    m = re.search(r"What it answers with[^\n]*\n\n```\n(.*?)\n```", text, re.S)
    if not m:
        sys.exit("FAIL: no capture of the default answer in " + readme)
    lines = m.group(1).split("\n")
    if not lines[0].startswith("$ kb-lookup "):
        sys.exit("FAIL: the capture does not start with '$ kb-lookup ...': " + lines[0])
    return shlex.split(lines[0][2:])[1:], lines[1:]


def chunks(lines):
    out, cur = [], []
    for line in lines:
        if line.strip() == "...":
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append(line)
    if cur:
        out.append(cur)
    return out


def main():
    lookup, readme = sys.argv[1], sys.argv[2]
    args, shown = capture(readme)
    env = {k: v for k, v in os.environ.items() if k not in ("KB_DB", "KB_LOG_MISSES")}
    env["NO_COLOR"] = "1"
    got = subprocess.run([lookup, "--width", "80", "--color", "never", "--no-pager"] + args,
                         capture_output=True, env=env, check=False)
    if got.returncode != 0:
        sys.exit("FAIL: kb-lookup exit status %d: %s" % (got.returncode, got.stderr.decode()))
    out = got.stdout.decode("utf-8").split("\n")
    at, failures = 0, 0
    for chunk in chunks(shown):
        n = len(chunk)
        found = next((i for i in range(at, len(out) - n + 1) if out[i:i + n] == chunk), None)
        if found is None:
            failures += 1
            print("FAIL: these README lines are not in the answer (after line %d):" % at)
            print("\n".join("    " + line for line in chunk))
            continue
        at = found + n
    if failures:
        print("the answer now reads:")
        print("\n".join("    " + line for line in out))
        sys.exit(1)
    print("ok: the README's capture matches the answer (%d parts)" % len(chunks(shown)))


if __name__ == "__main__":
    main()
