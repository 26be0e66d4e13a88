#!/usr/bin/env python3
"""Runs kb-lookup end-to-end cases described as data (cases.jsonl), one JSON object a line:

  name         what the case checks (printed on failure)
  args         arguments after the program name; "{db}" is replaced by the fixture database
  stdin        text fed on standard input (default: nothing, stdin closed), or
  stdin_hex    bytes as hex, or
  stdin_repeat {"text": "a", "bytes": N}: N bytes made of text repeated, or
  stdin_file   a file's bytes (path relative to the cases file)
  env          extra environment; KB_DB is removed unless given here
  db_file      prepare a damaged database first: missing, truncated, not-sqlite, foreign-sqlite,
               wrong-version, corrupt; "{bad}" in args is replaced by its path
  stdout_to    "full" (/dev/full) or "closed"
  stdin_tty    true: standard input is a terminal (a pseudo-terminal) with nothing typed
  exit         expected exit status
  stdout       the whole expected stdout
  stdout_has / stdout_lacks / stderr_has / stderr_lacks: substrings
  stderr_empty: true when nothing may be written to stderr
  json         {"dotted.path[0].key": expected value} checked on the parsed stdout
  json_len     {"dotted.path": N}: that array or object has exactly N members

Exit status 0 when every case passed. Prints 'N passed, N failed'.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def lookup_path(doc, path):
    cur = doc
    for part in path.replace("]", "").replace("[", ".").split("."):
        if part == "":
            continue
        if isinstance(cur, list):
            cur = cur[int(part)]
        else:
            cur = cur[part]
    return cur


def damaged_db(kind, good, tmp):
    path = os.path.join(tmp, kind + ".db")
    if kind == "missing":
        return path
    data = bytearray(open(good, "rb").read())
    if kind == "truncated":
        data = data[: len(data) // 2]
    elif kind == "not-sqlite":
        data = b"this is a text file, not a database\n" * 10
    elif kind == "foreign-sqlite":
        data[68:72] = b"\0\0\0\0"          # application_id of an ordinary SQLite file
        data[20] = 0                           # which keeps no page checksums
    elif kind == "wrong-version":
        data[60:64] = (99).to_bytes(4, "big")  # user_version
        data[20] = 0                           # of a version without page checksums
    elif kind == "corrupt":
        for i in range(4096, len(data), 7):  # keep the header, scramble every page after it
            data[i] = (data[i] * 31 + 7) & 0xFF
    else:
        raise ValueError(kind)
    with open(path, "wb") as f:
        f.write(data)
    return path


def run_case(case, lookup, db, tmp):
    args = [a.replace("{db}", db) for a in case.get("args", [])]
    if "db_file" in case:
        bad = damaged_db(case["db_file"], db, tmp)
        args = [a.replace("{bad}", bad) for a in args]
    env = {k: v for k, v in os.environ.items() if k not in ("KB_DB", "NO_COLOR")}
    env.update({k: v.replace("{db}", db) for k, v in case.get("env", {}).items()})
    stdin = b""
    if "stdin" in case:
        stdin = case["stdin"].encode("utf-8", "surrogateescape")
    elif "stdin_hex" in case:
        stdin = bytes.fromhex(case["stdin_hex"])
    elif "stdin_file" in case:
        with open(os.path.join(case["_dir"], case["stdin_file"]), "rb") as f:
            stdin = f.read()
    elif "stdin_repeat" in case:
        r = case["stdin_repeat"]
        unit = r["text"].encode()
        stdin = (unit * (r["bytes"] // len(unit) + 1))[: r["bytes"]]
    out_target = case.get("stdout_to")
    stdout = subprocess.PIPE
    handle = None
    if out_target == "full":
        handle = open("/dev/full", "wb")
        stdout = handle
    elif out_target == "closed":
        stdout = subprocess.DEVNULL  # replaced below by closing fd 1 in the child
    tty = None
    if case.get("stdin_tty"):
        import pty
        master, tty = pty.openpty()
    proc = subprocess.run(
        [lookup] + args,
        input=None if tty is not None else stdin,
        stdin=tty if tty is not None else None,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=env,
        timeout=60,
        preexec_fn=(lambda: os.close(1)) if out_target == "closed" else None,
    )
    if handle:
        handle.close()
    if tty is not None:
        os.close(tty)
        os.close(master)
    out = proc.stdout.decode("utf-8", "replace") if proc.stdout is not None else ""
    err = proc.stderr.decode("utf-8", "replace")
    problems = []
    if "exit" in case and proc.returncode != case["exit"]:
        problems.append("exit %d, expected %d" % (proc.returncode, case["exit"]))
    if "stdout" in case and out != case["stdout"]:
        problems.append("stdout is %r, expected %r" % (out[:200], case["stdout"]))
    for s in case.get("stdout_has", []):
        if s not in out:
            problems.append("stdout lacks %r" % s)
    for s in case.get("stdout_lacks", []):
        if s in out:
            problems.append("stdout has %r" % s)
    for s in case.get("stderr_has", []):
        if s not in err:
            problems.append("stderr lacks %r" % s)
    for s in case.get("stderr_lacks", []):
        if s in err:
            problems.append("stderr has %r" % s)
    if case.get("stderr_empty") and err:
        problems.append("stderr not empty: %r" % err[:200])
    if "json" in case:
        try:
            doc = json.loads(out)
        except ValueError as e:
            problems.append("stdout is not JSON: %s" % e)
        else:
            for path, want in case["json"].items():
                try:
                    got = lookup_path(doc, path)
                except (KeyError, IndexError, TypeError, ValueError):
                    problems.append("JSON has no %s" % path)
                    continue
                if got != want:
                    problems.append("JSON %s = %r, expected %r" % (path, got, want))
            for path, want in case.get("json_len", {}).items():
                try:
                    got = len(lookup_path(doc, path))
                except (KeyError, IndexError, TypeError, ValueError):
                    problems.append("JSON has no %s" % path)
                    continue
                if got != want:
                    problems.append("JSON %s has %d members, expected %d" % (path, got, want))
    if problems:
        return "%s:\n    %s\n    stderr: %s\n    stdout: %s" % (
            case["name"], "\n    ".join(problems), err.strip()[:300], out.strip()[:300])
    return None


def main():
    if len(sys.argv) != 4:
        print("usage: run_cases.py KB_LOOKUP FIXTURE_DB CASES.jsonl", file=sys.stderr)
        return 2
    lookup, db, cases_path = sys.argv[1:]
    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="kb-cases-")
    try:
        with open(cases_path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip() or line.startswith("#"):
                    continue
                case = json.loads(line)
                case["_dir"] = os.path.dirname(os.path.abspath(cases_path))
                problem = run_case(case, lookup, db, tmp)
                if problem:
                    failed += 1
                    print("FAIL %s (line %d)" % (problem, number))
                else:
                    passed += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
