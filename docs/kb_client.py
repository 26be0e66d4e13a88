#!/usr/bin/env python3
"""A chatbot backend's client of kb-lookup's persistent mode, standard library only.

One `kb-lookup --serve` process answers every question: the knowledge base is opened once.
Requests and answers are JSON lines (docs/json-schema.md, "Persistent mode"); each answer
is the object `kb-lookup --json` prints, with the request's id first.

    from kb_client import KbClient

    with KbClient() as kb:                       # starts kb-lookup --serve
        answer = kb.lookup(customer_text, top=3)
        for match in answer["matches"]:
            print(match["confidence"], match["title"])
            print(match["solution"]["markdown"])

Over a socket instead of a child process (kb-lookup --serve under systemd socket activation,
README "Running it under a supervisor"):

    with KbClient.connect("/run/kb-lookup.sock") as kb: ...

A client is for one thread at a time (requests and answers are matched by order); give each
thread its own, or guard one with a lock. Run as a program it is a small chat loop:

    python3 kb_client.py [--kb-lookup PATH] [--db KB.db]
"""
import itertools
import json
import socket
import subprocess
import sys


class KbError(Exception):
    """kb-lookup answered with an error object: code is "bad_json", "bad_request",
    "too_large" or "internal" (docs/json-schema.md)."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class KbClient:
    def __init__(self, argv=("kb-lookup",), *, db=None, max_input=None, log_misses=None,
                 _streams=None):
        """Starts `argv --serve` (argv: the program and any options before --serve)."""
        self._ids = itertools.count(1)
        self._proc = None
        if _streams is not None:
            self._out, self._in = _streams
            return
        cmd = list(argv) + ["--serve"]
        if db:
            cmd += ["--db", db]
        if max_input:
            cmd += ["--max-input", str(max_input)]
        if log_misses:
            cmd += ["--log-misses", log_misses]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._out, self._in = self._proc.stdin, self._proc.stdout

    @classmethod
    def connect(cls, address):
        """A client of a kb-lookup --serve listening through a supervisor: a Unix socket path,
        or a (host, port) pair."""
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.connect(address)
        client = cls(_streams=(sock.makefile("wb"), sock.makefile("rb")))
        client._sock = sock
        return client

    def lookup(self, text, *, top=None, explain=False, request_id=None):
        """The answer to one text: a dict as `kb-lookup --json` prints it. Raises KbError
        for an error object, EOFError when kb-lookup is gone."""
        request = {"id": next(self._ids) if request_id is None else request_id, "text": text}
        if top is not None:
            request["top"] = top
        if explain:
            request["explain"] = True
        line = json.dumps(request, ensure_ascii=False).encode("utf-8", "surrogateescape")
        self._out.write(line + b"\n")
        self._out.flush()
        reply = self._in.readline()
        if not reply:
            raise EOFError("kb-lookup --serve ended")
        answer = json.loads(reply)
        if answer.get("id") != request["id"]:
            raise RuntimeError(f"answer {answer.get('id')!r} to request {request['id']!r}")
        if "error" in answer:
            raise KbError(answer["error"]["code"], answer["error"]["message"])
        return answer

    def close(self):
        """Ends the conversation: kb-lookup sees the end of its input and exits 0. Returns
        its exit status (None over a socket)."""
        for stream in (self._out, self._in):
            try:
                stream.close()
            except OSError:
                pass
        if getattr(self, "_sock", None):
            self._sock.close()
        return self._proc.wait() if self._proc else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main(args):
    argv, db = ["kb-lookup"], None
    while args:
        if args[0] == "--kb-lookup" and len(args) > 1:
            argv = [args[1]]
            args = args[2:]
        elif args[0] == "--db" and len(args) > 1:
            db = args[1]
            args = args[2:]
        else:
            print(__doc__.split("\n\n")[-1].strip(), file=sys.stderr)
            return 2
    with KbClient(argv, db=db) as kb:
        print("Paste an error (one line), or an empty line to quit.")
        for line in sys.stdin:
            if not line.strip():
                break
            answer = kb.lookup(line.rstrip("\n"), top=1)
            if not answer["matches"]:
                print("I do not know this one yet.")
                continue
            match = answer["matches"][0]
            print(f"{match['title']} ({match['confidence']} match)\n")
            print(match["solution"]["text"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
