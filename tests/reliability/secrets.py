#!/usr/bin/env python3
"""secrets.py - no credential of a paste ever comes out of kb-lookup (issue 12).

Pastes that carry credentials the way real ones do (AUTH PLAIN and AUTH LOGIN transcripts in
the notations clients print, URLs with a password, settings dumps in .env, YAML, Java
properties, .NET connection strings and XML, JSON configs, the source line of a login() call
that a traceback shows) are looked up in every output format (text with colour, Markdown,
JSON), with --explain and many matches, through arguments and through stdin. Neither the
secret nor its base64 may appear on stdout or stderr; each paste must still be answered
(the masking must not hide the error itself).

Then the table of secret_forms.py (issue 17: every form real pastes show, from URLs whose user
holds an unencoded '@' to API keys of mail services), each in every output format (text with
colour, Markdown, JSON, text with --explain) and in the miss log (--log-misses, the paste with
its error replaced by one nothing answers): the secret must be absent from all five. Ordinary
text of the same shapes (a UUID that is a message id, a port after -p) must still come out.

Usage: secrets.py KB_LOOKUP
"""
import base64
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from secret_forms import ERR, FORMS, KEEP  # noqa: E402

LOOKUP = sys.argv[1]
SECRET = "Hunter2-Secret!"
USER = "john@example.com"
B64_PASS = base64.b64encode(SECRET.encode()).decode()
B64_USER = base64.b64encode(USER.encode()).decode()
B64_PLAIN = base64.b64encode(f"\0{USER}\0{SECRET}".encode()).decode()

CASES = {
    "AUTH PLAIN, S:/C: transcript":
        f"S: 250-AUTH PLAIN LOGIN\nC: AUTH PLAIN {B64_PLAIN}\n"
        "S: 535 5.7.8 Authentication credentials invalid",
    "AUTH LOGIN, 334 challenges":
        f"C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: {B64_USER}\nS: 334 UGFzc3dvcmQ6\n"
        f"C: {B64_PASS}\nS: 535 5.7.8 Error: authentication failed: UGFzc3dvcmQ6",
    "AUTH LOGIN with the user inline, <</>> notation":
        f">>> AUTH LOGIN {B64_USER}\n<<< 334 UGFzc3dvcmQ6\n>>> {B64_PASS}\n"
        "<<< 535 Incorrect authentication data",
    "swaks arrows":
        f" -> AUTH LOGIN\n<-  334 VXNlcm5hbWU6\n -> {B64_USER}\n<-  334 UGFzc3dvcmQ6\n"
        f" -> {B64_PASS}\n<** 535 5.7.139 Authentication unsuccessful",
    "URL with a password":
        f"Error: connect ECONNREFUSED smtp://john:{SECRET}@smtp.example.com:587",
    "URL-encoded user in a URL":
        f'createTransport("smtps://john%40example.com:{SECRET}@smtp.gmail.com:465")\n'
        "Error: Invalid login: 535-5.7.8 Username and Password not accepted",
    ".env dump":
        f"MAIL_HOST=smtp.office365.com\nMAIL_PORT=587\nMAIL_USERNAME={USER}\n"
        f"MAIL_PASSWORD={SECRET}\n535 5.7.139 Authentication unsuccessful",
    "YAML settings":
        f"mail:\n  smtp:\n    host: smtp.gmail.com\n    password: {SECRET}\n"
        "Net::SMTPAuthenticationError: 535-5.7.8 Username and Password not accepted",
    "Java properties":
        f"spring.mail.host=smtp.gmail.com\nspring.mail.password={SECRET}\n"
        "javax.mail.AuthenticationFailedException: 535-5.7.8 Username and Password not accepted",
    ".NET connection string":
        f"Server=smtp.example.com;Port=587;User Id=john;Password={SECRET};EnableSsl=true\n"
        "System.Net.Mail.SmtpException: The SMTP server requires a secure connection or the "
        "client was not authenticated. The server response was: 5.7.0 Authentication Required",
    "XML settings":
        f"<smtp host=\"smtp.example.com\" port=\"587\"><user>john</user>"
        f"<password>{SECRET}</password></smtp>\n535 5.7.3 Authentication unsuccessful",
    "JSON config":
        f'{{"mail": {{"host": "smtp.gmail.com", "port": 587, "user": "{USER}", '
        f'"password": "{SECRET}"}}}}\n535 5.7.8 Username and Password not accepted',
    "JSON log line with an escaped config":
        f'{{"level":"error","msg":"send failed","config":"{{\\"smtp_pass\\":\\"{SECRET}\\"}}",'
        '"err":"Error: Invalid login: 535 Authentication failed"}',
    "traceback with a login() call":
        "Traceback (most recent call last):\n  File \"send.py\", line 9, in <module>\n"
        f"    server.login('{USER}', '{SECRET}')\nsmtplib.SMTPAuthenticationError: (535, "
        "b'5.7.8 Username and Password not accepted')",
    "curl with --user":
        f"curl --ssl-reqd --url smtps://smtp.gmail.com:465 --user {USER}:{SECRET}\n"
        "curl: (67) Login denied",
}
FORMATS = [["--format", "text", "--color", "always"], ["--format", "markdown"],
           ["--json"]]
LEAKS = [SECRET, B64_PASS, B64_PLAIN, SECRET.replace("!", "%21")]


def main():
    failures = runs = 0
    for name, paste in CASES.items():
        answered = False
        for fmt in FORMATS:
            for how in ("stdin", "args"):
                cmd = [LOOKUP, *fmt, "--explain", "--top", "10"]
                p = subprocess.run(cmd + ([paste] if how == "args" else []),
                                   input=paste.encode() if how == "stdin" else None,
                                   capture_output=True)
                runs += 1
                text = (p.stdout + p.stderr).decode(errors="replace")
                leaked = [s for s in LEAKS if s in text]
                if leaked:
                    failures += 1
                    line = next(l for l in text.splitlines() if any(s in l for s in leaked))
                    print(f"FAIL {name} ({' '.join(fmt)}, {how}): {leaked[0]!r} in: {line[:200]}")
                if p.returncode not in (0, 1):
                    failures += 1
                    print(f"FAIL {name} ({' '.join(fmt)}, {how}): exit {p.returncode}")
                answered |= p.returncode == 0
        if not answered and name != "curl with --user":
            failures += 1
            print(f"FAIL {name}: never answered (is the error itself masked?)")
    print(f"{len(CASES)} pastes x {len(FORMATS)} formats x 2 inputs = {runs} runs, "
          f"{failures} failure(s)")
    failures += forms()
    return 1 if failures else 0


FORM_FORMATS = [["--format", "text", "--color", "always"], ["--format", "markdown"], ["--json"],
                ["--format", "text", "--explain", "--top", "10"]]


def forms():
    """The table of forms: five outputs each (four formats and the miss log)."""
    failures = runs = 0
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, paste, secret) in enumerate(FORMS):
            outputs = []
            for fmt in FORM_FORMATS:
                p = subprocess.run([LOOKUP, *fmt, "-"], input=paste.encode(), capture_output=True)
                outputs.append((" ".join(fmt), (p.stdout + p.stderr).decode(errors="replace")))
            log = os.path.join(tmp, f"misses-{k}.jsonl")
            miss = paste.replace(ERR, "zzqx frobnication failed")
            p = subprocess.run([LOOKUP, "--json", "--log-misses", log, "-"], input=miss.encode(),
                               capture_output=True)
            logged = open(log, encoding="utf-8").read() if os.path.exists(log) else ""
            if not logged:
                failures += 1
                print(f"FAIL {name}: nothing in the miss log (exit {p.returncode})")
            outputs.append(("miss log", logged + (p.stdout + p.stderr).decode(errors="replace")))
            for where, text in outputs:
                runs += 1
                if secret in text:
                    failures += 1
                    line = next(l for l in text.splitlines() if secret in l)
                    print(f"FAIL {name} ({where}): secret in: {line[:200]}")
        for name, paste, keep in KEEP:
            p = subprocess.run([LOOKUP, "--json", "-"], input=paste.encode(), capture_output=True)
            runs += 1
            if keep not in p.stdout.decode(errors="replace"):
                failures += 1
                print(f"FAIL {name}: {keep!r} masked")
    print(f"{len(FORMS)} credential forms x {len(FORM_FORMATS) + 1} outputs, {len(KEEP)} ordinary "
          f"texts: {runs} runs, {failures} failure(s)")
    return failures


sys.exit(main())
