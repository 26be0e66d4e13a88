#!/usr/bin/env python3
"""End-to-end tests of KB layers (issue 8) on the real binaries and fixture KBs compiled here.

A team's KB (org-kb) is compiled against the shipped one with kb-compile --base: it replaces a
shipped entry (ip-not-allowed), adds one (acme-relay-unknown-host) and hides one
(checklist-shared-mailbox). A third layer (team-kb) replaces the second layer's new entry and
adds another. A careless overlay (shadow-kb) outranks shipped examples: a warning, an error
with --strict. Then kb-lookup reads the stacks from --db, KB_DB and the site folder, and a
broken layer or one of another schema is an error naming it.

Usage: layers.py KB_COMPILE KB_LOOKUP SHIPPED_DB FIXTURE_DIR
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

compile_bin, lookup_bin, shipped_db, fixtures = sys.argv[1:5]
work = tempfile.mkdtemp(prefix="kb-layers-")
failures = []
passed = 0
# no site layers of the machine's own, no KB_DB of the caller's
base_env = {k: v for k, v in os.environ.items()
            if k not in ("KB_DB", "KB_SITE_DIR", "LC_ALL", "LC_MESSAGES", "LANG")}
base_env["KB_SITE_DIR"] = os.path.join(work, "no-site")


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(name)
        print(f"FAIL: {name}: {detail}", file=sys.stderr)


def run(args, text=None, env=None):
    e = dict(base_env)
    e.update(env or {})
    return subprocess.run(args, input=text.encode() if text is not None else None,
                          capture_output=True, env=e)


def lookup(*args, text=None, env=None):
    return run([lookup_bin, "--no-pager", *args], text=text, env=env)


def lookup_json(*args, env=None):
    r = lookup("--json", *args, env=env)
    return r.returncode, json.loads(r.stdout) if r.stdout else None


def compile_kb(name, *bases, strict=False):
    out = os.path.join(work, name + ".db")
    args = [compile_bin]
    for b in bases:
        args += ["--base", b]
    if strict:
        args.append("--strict")
    r = run(args + [os.path.join(fixtures, name), "-o", out])
    return r, out


# ---- kb-compile --base ------------------------------------------------------------------
r, org = compile_kb("org-kb", shipped_db)
err = r.stderr.decode()
check("org compiles", r.returncode == 0, err)
check("org: replaced id reported", "entry 'ip-not-allowed' replaces the base's entry" in err, err)
check("org: new id is no replacement", "'acme-relay-unknown-host' replaces" not in err, err)
check("org: links into the base accepted", "unknown entry" not in err, err)

r, team = compile_kb("team-kb", shipped_db, org)
err = r.stderr.decode()
check("team compiles on two layers", r.returncode == 0, err)
check("team: replaces the second layer's entry",
      "entry 'acme-relay-unknown-host' replaces" in err, err)

r, shadow = compile_kb("shadow-kb", shipped_db)
err = r.stderr.decode()
check("shadow compiles with warnings", r.returncode == 0 and "warning: example of the base's "
      "entry 'wrong-credentials' now ranks this KB's 'acme-sso-535' first" in err, err)
r, _ = compile_kb("shadow-kb", shipped_db, strict=True)
err = r.stderr.decode()
check("shadow --strict fails", r.returncode == 1 and "error: example of the base's entry "
      "'wrong-credentials'" in err and "nothing written" in err, err)

# the overlay is stored as one: its base's build and the ids it hides
code, shipped = lookup_json("--list")
shipped_build = shipped["kb"]["build"]
with sqlite3.connect(f"file:{org}?mode=ro", uri=True) as con:
    meta = dict(con.execute("SELECT key, value FROM meta"))
check("the overlay stores its base's build and the ids it hides",
      meta.get("base") == shipped_build and meta.get("hides") == "checklist-shared-mailbox", meta)

# ---- kb-lookup: replace, add, hide --------------------------------------------------------
replaced_text = "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP."
code, alone = lookup_json(replaced_text)
check("no overlay: shipped answer, no layer field",
      code == 0 and alone["matches"][0]["id"] == "ip-not-allowed"
      and "layer" not in alone["matches"][0] and "layers" not in alone["kb"], alone)
code, over = lookup_json("--db", org, replaced_text)
m = over["matches"][0]
check("replace: same id from layer 2 with the team's title",
      m["id"] == "ip-not-allowed" and m["layer"]["index"] == 2 and m["layer"]["label"] == org
      and "our allow-list" in m["title"], m)
check("replace: no duplicate", [x["id"] for x in over["matches"]].count("ip-not-allowed") == 1,
      over["matches"])
check("replace: the layer's build hash", m["layer"]["build"] == over["kb"]["layers"][1]["build"]
      and len(m["layer"]["build"]) == 64, m)

code, added = lookup_json("--db", org, "554 5.7.1 ACME-RELAY-4711 host 192.0.2.1 refused")
check("add: new id answers from layer 2",
      code == 0 and added["matches"][0]["id"] == "acme-relay-unknown-host"
      and added["matches"][0]["layer"]["index"] == 2, added and added["matches"])

r = lookup("--db", org, "--show", "checklist-shared-mailbox")
check("hide: --show says hidden", r.returncode == 1 and b"hidden by layer 2" in r.stderr,
      r.stderr)
r = lookup("--db", org, "--list")
out = r.stdout.decode()
check("hide: --list leaves it out, names the layers",
      "checklist-shared-mailbox " not in out and "hides: checklist-shared-mailbox" in out
      and "replaces: ip-not-allowed" in out and "[org-kb]" in out, out)
r = lookup("--db", org, "--version")
out = r.stdout.decode()
check("--version shows every layer", "layer 1: built-in knowledge base" in out
      and f"layer 2: {org}" in out and "replaces: ip-not-allowed" in out
      and "hides: checklist-shared-mailbox" in out, out)
r = lookup("--db", org, replaced_text)
check("text answer tags the layer", b"id: ip-not-allowed   layer: org-kb" in r.stdout, r.stdout)

# ---- three layers -------------------------------------------------------------------------
code, three = lookup_json("--db", org, "--db", team, "ACME-RELAY-4711 then ACME-QUEUE-FULL")
ids = [(x["id"], x["layer"]["index"]) for x in three["matches"]]
check("three layers: the top one wins, its new id adds",
      ("acme-relay-unknown-host", 3) in ids and ("acme-relay-queue-full", 3) in ids
      and len(ids) == len(set(ids)), ids)
layers = three["kb"]["layers"]
check("three layers: what each replaces", len(layers) == 3
      and layers[2]["replaces"] == ["acme-relay-unknown-host"]
      and layers[1]["hides"] == ["checklist-shared-mailbox"], layers)
code, same = lookup_json("ACME-RELAY-4711 then ACME-QUEUE-FULL",
                         env={"KB_DB": f"{org}:{team}"})
check("KB_DB is a colon-separated list of layers", same == three, same)

# ---- site layers --------------------------------------------------------------------------
site = os.path.join(work, "site")
os.mkdir(site)
shutil.copy(org, os.path.join(site, "10-org.db"))
code, sited = lookup_json(replaced_text, env={"KB_SITE_DIR": site})
check("site layer read when present", sited["matches"][0]["layer"]["label"]
      == os.path.join(site, "10-org.db"), sited["matches"][0])
code, nosite = lookup_json("--no-site", replaced_text, env={"KB_SITE_DIR": site})
check("--no-site leaves it out", "layer" not in nosite["matches"][0], nosite["matches"][0])
shutil.copy(team, os.path.join(site, "20-team.db"))
code, sited = lookup_json("ACME-RELAY-4711", env={"KB_SITE_DIR": site})
check("site layers in sorted order", sited["matches"][0]["layer"]["index"] == 3,
      sited["matches"][0])
# the site layers come after every --db: a site layer's entry replaces a --db layer's
only_team = os.path.join(work, "site-team")
os.mkdir(only_team)
shutil.copy(team, os.path.join(only_team, "20-team.db"))
code, order = lookup_json("--db", org, "ACME-RELAY-4711", env={"KB_SITE_DIR": only_team})
check("site layers are read after --db", order["matches"][0]["id"] == "acme-relay-unknown-host"
      and order["matches"][0]["layer"]["index"] == 3
      and order["matches"][0]["layer"]["label"] == os.path.join(only_team, "20-team.db")
      and order["kb"]["layers"][1]["label"] == org, order)
# a whole KB named with --db stands alone: the site layers (overlays of the installed KB) are
# not read on top of it
code, whole_site = lookup_json("--db", shipped_db, replaced_text, env={"KB_SITE_DIR": site})
check("a whole KB from --db: no site layers on it", "layers" not in whole_site["kb"]
      and "layer" not in whole_site["matches"][0], whole_site["kb"])

# ---- scores on one scale ------------------------------------------------------------------
code, only = lookup_json("--no-builtin", "--db", org, "554 5.7.1 ACME-RELAY-4711 refused")
code, both = lookup_json("--db", org, "554 5.7.1 ACME-RELAY-4711 refused")
check("--no-builtin: the overlay alone", only["kb"].get("layers") is None
      and only["kb"]["entries"] == 2, only["kb"])
check("an entry scores the same alone in its layer and in the stack",
      only["matches"][0]["score"] == both["matches"][0]["score"], (only, both))
# the shipped KB named as a whole KB replaces the built-in one, as --db always did
code, whole = lookup_json("--db", shipped_db, replaced_text)
check("a whole KB given with --db stands alone", "layers" not in whole["kb"]
      and whole["matches"] == alone["matches"], whole["kb"])

# ---- --serve -------------------------------------------------------------------------------
r = lookup("--db", org, "--serve", text=json.dumps({"id": 1, "text": replaced_text}) + "\n")
answer = json.loads(r.stdout.decode().splitlines()[0])
check("--serve answers from the layers", answer["matches"][0]["layer"]["index"] == 2, answer)

# ---- broken layers -------------------------------------------------------------------------
broken = os.path.join(work, "broken.db")
with open(org, "rb") as f:
    data = f.read()
with open(broken, "wb") as f:
    f.write(data[: len(data) // 2])
r = lookup("--db", broken, "--db", team, replaced_text)
err = r.stderr.decode()
check("a damaged layer: exit 2 naming it", r.returncode == 2 and "layer 2" in err
      and broken in err and not r.stdout, err)
other = os.path.join(work, "other-schema.db")
patched = bytearray(data)
patched[60:64] = (999).to_bytes(4, "big")  # PRAGMA user_version: the schema version
with open(other, "wb") as f:
    f.write(patched)
r = lookup("--db", org, "--db", other, replaced_text)
err = r.stderr.decode()
check("a layer of another schema: exit 2 naming it", r.returncode == 2 and "layer 3" in err
      and other in err, err)
r = lookup("--db", os.path.join(work, "missing.db"), replaced_text)
check("a missing layer: exit 2", r.returncode == 2 and b"missing.db" in r.stderr, r.stderr)
r = lookup("--no-builtin", replaced_text)
check("--no-builtin alone: exit 2", r.returncode == 2, r.stderr)
r = lookup("--db", org, "--check-db")
check("--check-db checks every layer", r.returncode == 0 and r.stdout.count(b"intact") == 2,
      r.stdout)

# ---- languages ----------------------------------------------------------------------------
r, lang_db = compile_kb("lang-kb")
err = r.stderr.decode()
check("a KB with translations compiles", r.returncode == 0, err)
check("untranslated entries counted per language",
      "de: 1 of 2 entries translated (1 reviewed), 1 untranslated" in err
      and "fr: 1 of 2 entries translated (0 reviewed), 1 untranslated" in err, err)
with sqlite3.connect(f"file:{lang_db}?mode=ro", uri=True) as con:
    meta = dict(con.execute("SELECT key, value FROM meta"))
check("the default language declared once, then the others", meta.get("language") == "en"
      and meta.get("languages") == "en,de,fr", meta)
r, _ = compile_kb("lang-bad")
err = r.stderr.decode()
check("a translation holds only ids of its original", r.returncode == 1
      and "quota.de.md:6:1: error: entry 'lx-unknown' is not in" in err, err)

german = "552 ZZQUOTA Postfach voll"


def answer(*args, env=None, text=german):
    code, d = lookup_json("--db", lang_db, *args, text, env=env)
    m = d["matches"][0] if d and d["matches"] else {}
    return m.get("id"), m.get("language"), m.get("title")


check("a translation's signature matches, answer in the default",
      answer() == ("lx-quota", "en", "The recipient's mailbox is over its quota"), answer())
check("--lang de", answer("--lang", "de")[1:] == (
    "de", "Das Postfach des Empfängers hat sein Kontingent überschritten"), answer("--lang", "de"))
check("--lang de_DE.UTF-8 falls back to de", answer("--lang", "de_DE.UTF-8")[1] == "de")
check("LANG picks the language", answer(env={"LANG": "fr_FR.UTF-8"})[1] == "fr")
check("LC_MESSAGES before LANG",
      answer(env={"LANG": "fr_FR.UTF-8", "LC_MESSAGES": "de_AT.UTF-8"})[1] == "de")
check("LC_ALL before both",
      answer(env={"LANG": "de_DE.UTF-8", "LC_MESSAGES": "de_AT", "LC_ALL": "fr_CA"})[1] == "fr")
check("--lang before the locale", answer("--lang", "de", env={"LC_ALL": "fr_FR"})[1] == "de")
check("LANG=C is the default", answer(env={"LANG": "C"})[1] == "en")
check("an unknown language is the default", answer("--lang", "xx")[1] == "en")
check("an untranslated entry stays in the default",
      answer("--lang", "de", text="550 ZZLIMIT daily limit reached")[:2] == ("lx-limit", "en"))
r = lookup("--db", lang_db, "--lang", "de", "--show", "lx-quota")
check("--show in the language", "Bitten Sie den Empfänger" in r.stdout.decode(), r.stdout)

r = lookup("--db", lang_db, "--explain", german)
check("--explain names the translation's file for its signature",
      "(weight 5, quota.de.md:19)" in r.stdout.decode(), r.stdout)

# --serve: each request's "lang" picks its answer's language, and none carries over
reqs = "".join(json.dumps(q) + "\n" for q in [
    {"id": 1, "text": german, "lang": "de"}, {"id": 2, "text": german},
    {"id": 3, "text": german, "lang": "fr_FR.UTF-8"}, {"id": 4, "text": german, "lang": None}])
r = lookup("--db", lang_db, "--serve", text=reqs)
served = [json.loads(x) for x in r.stdout.decode().splitlines()]
check("--serve: a request's lang, none carried over",
      [(a["id"], a["matches"][0]["language"]) for a in served]
      == [(1, "de"), (2, "en"), (3, "fr"), (4, "en")], served)
r = lookup("--db", lang_db, "--serve", "--lang", "de",
           text=json.dumps({"id": 5, "text": german}) + "\n")
check("--serve: --lang is the default of a request without lang",
      json.loads(r.stdout)["matches"][0]["language"] == "de", r.stdout)


def steps(*args):
    code, d = lookup_json("--db", lang_db, *args, german)
    m = d["matches"][0] if d and d["matches"] else {}
    return [s["text"] for s in m.get("solution", {}).get("steps", [])]


# the structure programs read is in the language of the text beside it, not the default's
check("solution.steps in the language", steps("--lang", "de") == [
    "Bitten Sie den Empfänger, alte E-Mails zu löschen."], steps("--lang", "de"))
check("solution.steps in the default", len(steps()) == 1
      and "Bitten" not in steps()[0], steps())

shutil.rmtree(work)
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
