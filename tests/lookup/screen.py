#!/usr/bin/env python3
"""kb-lookup in a real pseudo-terminal, as a support agent runs it (issue 14).

  screen.py KB_LOOKUP FIXTURE_DB

At 80 and 120 columns (24 rows), for the Gmail 535 of the issue on the shipped KB and for the
fixture KB: every line fits the terminal (at most 100 columns), except code, which is never
broken (the Markdown answer says which lines are code); continuation lines are indented under
their step; the step for the provider the text shows is on the first screen, the other
providers' steps are left out and named in one line; colour is on, unless NO_COLOR. Then the
pager: a long answer goes to $PAGER (with LESS=FRX), not with --no-pager, not a short one,
and when the pager cannot be run the answer is still shown. Standard output is the terminal;
the window size is set on it before kb-lookup starts, so nothing here waits or times.
"""
import fcntl
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import termios

ROWS = 24
GMAIL = ("Error: Invalid login: 535-5.7.8 Username and Password not accepted. Learn more at "
         "535 5.7.8 https://support.google.com/mail/?p=BadCredentials")
FIXTURE_TEXT = ("535-5.7.8 Username and Password not accepted. Learn more at\n"
                "535 5.7.8  https://support.google.com/mail/?p=BadCredentials")
SGR = re.compile(r"\x1b\[[0-9;]*m")

failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL: " + msg)


def run_tty(argv, cols, env):
    """Runs argv with its standard output (and input) a terminal of cols x ROWS."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, cols, 0, 0))
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    out = b""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return out.decode("utf-8", "replace").replace("\r\n", "\n"), os.waitstatus_to_exitcode(status)


def base_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("KB_DB", "NO_COLOR", "PAGER", "KB_PAGER", "LESS", "COLUMNS", "LINES")}
    env["TERM"] = "xterm"
    env.update(extra)
    return env


def code_lines(lookup, args, text):
    """The lines of code in the Markdown answer: fenced blocks and code spans."""
    md = subprocess.run([lookup] + args + ["--format", "markdown", text], capture_output=True,
                        text=True).stdout
    code, fence = set(), False
    for line in md.split("\n"):
        if line.strip().startswith("```"):
            fence = not fence
            continue
        if fence:
            code.add(line.strip())
        for span in re.findall(r"`([^`]+)`", line):
            code.add(span.strip())
    return code


def joined(lines):
    return re.sub(r"\s+", " ", " ".join(lines))


def check_screen(name, lookup, args, text, cols, step, folded, absent):
    out, rc = run_tty([lookup] + args + ["--no-pager", text], cols, base_env())
    if rc != 0:
        fail("%s at %d columns: exit %d" % (name, cols, rc))
    if "\x1b[" not in out:
        fail("%s at %d columns: no colour on a terminal" % (name, cols))
    plain = SGR.sub("", out)
    lines = plain.rstrip("\n").split("\n")
    width = min(cols, 100)
    code = code_lines(lookup, args, text)
    widest = 0
    for line in lines:
        widest = max(widest, len(line))
        if len(line) > width and line.strip() not in code:
            fail("%s at %d columns: a line of %d columns that is not code: %r"
                 % (name, cols, len(line), line))
    if widest < width - 20:
        fail("%s at %d columns: nothing was wrapped near the width (widest line %d)"
             % (name, cols, widest))
    first_screen = joined(lines[:ROWS - 1])
    if step not in first_screen:
        fail("%s at %d columns: the provider's step %r is not on the first screen:\n%s"
             % (name, cols, step, "\n".join(lines[:ROWS - 1])))
    if folded not in joined(lines):
        fail("%s at %d columns: the other providers are not named in one line (%r)"
             % (name, cols, folded))
    for a in absent:
        if a in joined(lines):
            fail("%s at %d columns: %r is shown" % (name, cols, a))
    # continuation rows of a numbered step start under its text
    for i, line in enumerate(lines[:-1]):
        m = re.match(r"^( +)(\d+\. )\S", line)
        nxt = lines[i + 1]
        if m and nxt.strip() and not re.match(r"^ *(\d+\.|-) ", nxt):
            want = len(m.group(1)) + len(m.group(2))
            got = len(nxt) - len(nxt.lstrip(" "))
            if got != want:
                fail("%s at %d columns: %r continues at column %d, not %d"
                     % (name, cols, line, got, want))
    out, _ = run_tty([lookup] + args + ["--no-pager", text], cols, base_env(NO_COLOR="1"))
    if "\x1b[" in out:
        fail("%s at %d columns: colour despite NO_COLOR" % (name, cols))


def check_pager(lookup, db, tmp):
    paged = os.path.join(tmp, "paged")
    less = os.path.join(tmp, "less-env")
    pager = "echo \"LESS=$LESS\" > %s; cat > %s" % (less, paged)
    out, rc = run_tty([lookup, GMAIL], 80, base_env(PAGER=pager))
    if rc != 0 or not os.path.exists(paged):
        fail("a long answer on a terminal did not go to $PAGER (exit %d)" % rc)
    else:
        got = open(paged).read()
        if "Fix for Gmail" not in SGR.sub("", got) or "Fix for Gmail" in SGR.sub("", out):
            fail("the pager did not get the answer, or the terminal got it too")
        if open(less).read().strip() != "LESS=FRX":
            fail("the pager runs without LESS=FRX: %r" % open(less).read())
        os.remove(paged)
    run_tty([lookup, "--no-pager", GMAIL], 80, base_env(PAGER=pager))
    if os.path.exists(paged):
        fail("--no-pager still ran the pager")
        os.remove(paged)
    # KB_PAGER before PAGER; an empty one means none
    run_tty([lookup, GMAIL], 80, base_env(PAGER="exit 3", KB_PAGER=pager))
    if not os.path.exists(paged):
        fail("KB_PAGER is not preferred to PAGER")
    else:
        os.remove(paged)
    out, _ = run_tty([lookup, GMAIL], 80, base_env(PAGER=""))
    if "Fix for Gmail" not in SGR.sub("", out):
        fail("PAGER='' should mean no pager")
    # a short answer is not paged
    out, rc = run_tty([lookup, "--db", db, "hello there"], 80, base_env(PAGER=pager))
    if os.path.exists(paged) or "No matching entry" not in out:
        fail("a short answer went through the pager")
    # a pager that cannot be run: the answer is shown all the same
    out, rc = run_tty([lookup, GMAIL], 80, base_env(PAGER=os.path.join(tmp, "no-such-pager")))
    if "Fix for Gmail" not in SGR.sub("", out) or rc != 0:
        fail("with a pager that cannot run, the answer was lost (exit %d)" % rc)


def main():
    if len(sys.argv) != 3:
        print("usage: screen.py KB_LOOKUP FIXTURE_DB", file=sys.stderr)
        return 2
    lookup, db = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    for cols in (80, 120):
        check_screen("the Gmail 535 of issue 14", lookup, [], GMAIL, cols,
                     "Gmail / Google Workspace: when the account uses 2-Step Verification, a "
                     "normal password never works here; create an app password",
                     "Steps for Microsoft 365, Amazon SES, SendGrid, Mailgun, cPanel / Exim "
                     "hosting, Own Postfix / Dovecot server: --all-providers",
                     ["Mailgun: use the SMTP login", "IAM secret key", "doveadm auth test",
                      "Why it happens"])
        check_screen("the fixture KB", lookup, ["--db", db], FIXTURE_TEXT, cols,
                     "Gmail: create an app password at https://myaccount.google.com/apppasswords",
                     "Steps for Microsoft 365, SendGrid: --all-providers",
                     ["Outlook on the web", "apikey"])
    tmp = tempfile.mkdtemp(prefix="kb-tty-")
    try:
        check_pager(lookup, db, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
