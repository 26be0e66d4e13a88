#!/usr/bin/env python3
"""values.py - how often kb-lookup gives the customer's own values right (issue 17, item 1).

tests/eval/values.jsonl holds real traces and logs (.NET, Java, Python, PHP, Node, Go, Ruby and
command-line tools; each line's "source" says where it was found), collected by someone who did
not see the engine, with the host, port and user a support agent would put in a command
(null where the text names none). Each text is looked up with --json and its facts compared:

  right   the value expected (null when null was expected)
  wrong   a value, but another one than expected: the figure that matters, a wrong host in
          a command costs more than none
  missed  null where a value was expected

  values.py [--min-right R] [--max-wrong W] SET.jsonl PATH/TO/kb-lookup

Exit 1 when the share of right values is under R or the share of wrong ones over W.
"""

import argparse
import json
import subprocess
import sys


def same(field, want, got):
    if want is None or got is None:
        return want is None and got is None
    if field == "port":
        return int(want) == int(got)
    return str(want).lower() == str(got).lower()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--min-right", type=float, default=0.0)
    ap.add_argument("--max-wrong", type=float, default=1.0)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("set")
    ap.add_argument("lookup")
    args = ap.parse_args()
    counts = {f: {"right": 0, "wrong": 0, "missed": 0} for f in ("host", "port", "user")}
    cases = whole = 0
    with open(args.set, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            case = json.loads(line)
            run = subprocess.run([args.lookup, "--json", "-"], input=case["text"].encode(),
                                 capture_output=True, timeout=60, check=False)
            if run.returncode not in (0, 1):
                print(f"{case['id']}: exit {run.returncode}: {run.stderr.decode()!r}")
                return 2
            facts = json.loads(run.stdout)["facts"]
            cases += 1
            all_right = True
            for field in counts:
                want, got = case["expect"].get(field), facts.get(field)
                if same(field, want, got):
                    counts[field]["right"] += 1
                    continue
                all_right = False
                kind = "missed" if got is None else "wrong"
                counts[field][kind] += 1
                if args.verbose:
                    print(f"{case['id']} ({case['lang']}) {field}: {kind}, want {want!r} got {got!r}")
            whole += all_right
    total = 3 * cases
    right = sum(c["right"] for c in counts.values())
    wrong = sum(c["wrong"] for c in counts.values())
    for field, c in counts.items():
        print(f"{field:5} right {c['right']}/{cases}  wrong {c['wrong']}  missed {c['missed']}")
    print(f"cases {cases}: all three right {whole}/{cases} ({whole / cases:.3f}); "
          f"values right {right / total:.3f}, wrong {wrong / total:.3f}")
    if right / total < args.min_right or wrong / total > args.max_wrong:
        print(f"below the bar: right >= {args.min_right}, wrong <= {args.max_wrong}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
