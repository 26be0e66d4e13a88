#!/usr/bin/env python3
"""docs/kb_client.py, the Python client of kb-lookup --serve, against the real binary:
answers equal kb-lookup --json's (with the id), top and explain, an error object raised as
KbError without ending the conversation, a clean exit at close, the chat loop of its main,
and a client over a Unix socket through systemd-socket-activate (Accept=yes) when installed.

Usage: client_test.py SOURCE_DIR KB_LOOKUP DB
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

src, lookup, db = sys.argv[1:4]
sys.path.insert(0, os.path.join(src, "docs"))
from kb_client import KbClient, KbError  # noqa: E402

failed = passed = 0


def check(name, cond, detail=""):
    global failed, passed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {name} {detail}", file=sys.stderr)


def as_json(text, *options):
    out = subprocess.run([lookup, "--json", "--db", db, *options],
                         input=text.encode("utf-8", "surrogateescape"),
                         stdout=subprocess.PIPE).stdout
    return json.loads(out)


texts = [
    "535-5.7.8 Username and Password not accepted. Learn more at\n535 5.7.8  https://support.google.com/mail/?p=BadCredentials",
    "Error: connect ECONNREFUSED 10.0.0.1:587",
    "hello, nothing to see here",
    "SmtpClientAuthentication is disabled \u00e9\u4e2d",
]
for name in sorted(os.listdir(os.path.join(src, "tests", "live", "captured")))[:12]:
    with open(os.path.join(src, "tests", "live", "captured", name), encoding="utf-8",
              errors="surrogateescape") as f:
        texts.append(f.read())

with KbClient([lookup], db=db, max_input=64 * 1024) as kb:
    for i, text in enumerate(texts):
        answer = kb.lookup(text)
        want = as_json(text)
        got = dict(answer)
        got.pop("id")
        check(f"text {i} as --json", got == want, f"{json.dumps(got)[:200]} != {json.dumps(want)[:200]}")
        check(f"text {i} id first", list(answer)[0] == "id")
    answer = kb.lookup(texts[0], top=1, explain=True, request_id="q-1")
    check("top and explain", answer["id"] == "q-1" and len(answer["matches"]) <= 1
          and "explain" in answer["matches"][0], json.dumps(answer)[:200])
    try:
        kb.lookup("x" * (64 * 1024 + 1))
        check("too large raises KbError", False)
    except KbError as e:
        check("too large raises KbError", e.code == "too_large", str(e))
    check("still answering after an error", kb.lookup(texts[1])["facts"]["port"] == 587)
    status = kb.close()
    check("exit status 0 at close", status == 0, str(status))

# The chat loop of kb_client.py's main.
run = subprocess.run([sys.executable, os.path.join(src, "docs", "kb_client.py"), "--kb-lookup",
                      lookup, "--db", db], input=texts[0].split("\n")[0] + "\nhello there\n\n",
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
check("chat loop", run.returncode == 0 and "match)" in run.stdout
      and "I do not know this one yet." in run.stdout, run.stdout + run.stderr)

# Over a Unix socket, as under systemd socket activation with Accept=yes.
activate = shutil.which("systemd-socket-activate")
if activate:
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "kb.sock")
    proc = subprocess.Popen([activate, "--inetd", "--accept", "--listen=" + path, lookup,
                             "--serve", "--db", db], stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            if os.path.exists(path):
                break
            time.sleep(0.05)
        with KbClient.connect(path) as kb:
            answer = kb.lookup(texts[0])
            got = dict(answer)
            got.pop("id")
            check("over a Unix socket", got == as_json(texts[0]))
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp)
else:
    print("systemd-socket-activate not installed: the socket client is not tested")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
