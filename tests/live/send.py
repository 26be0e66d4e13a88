#!/usr/bin/python3
"""The python3 smtplib client of the live bench: sends one message the way an application
does, and lets an exception end it with its traceback, as an unhandled error in an app would.

Settings come from the environment (set by run.sh): HOST PORT TLS (none|starttls|implicit)
USER PASS FROM TO (space-separated) HELO CAFILE TLSMAX TLSMIN MSG TIMEOUT DEBUGLEVEL (0: none;
1: smtplib's own set_debuglevel(1) transcript on stderr, from the connection on)."""
import os
import smtplib
import ssl
import sys

env = os.environ
host, port = env["HOST"], int(env["PORT"])
tls = env.get("TLS", "none")
timeout = float(env.get("TIMEOUT", "10"))
helo = env.get("HELO") or None
recipients = env["TO"].split()
with open(env["MSG"], "rb") as f:
    message = f.read()

context = ssl.create_default_context(cafile=env.get("CAFILE") or None)
versions = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
if env.get("TLSMAX"):
    context.maximum_version = versions[env["TLSMAX"]]
if env.get("TLSMIN"):
    context.minimum_version = versions[env["TLSMIN"]]

if tls == "implicit":
    server = smtplib.SMTP_SSL(local_hostname=helo, timeout=timeout, context=context)
else:
    server = smtplib.SMTP(local_hostname=helo, timeout=timeout)
# connecting apart from the constructor lets the debug transcript start with the greeting
server.set_debuglevel(int(env.get("DEBUGLEVEL") or 0))
server._host = host  # what the constructor would have set: the name TLS checks
# and what the constructor does with the greeting
code, msg = server.connect(host, port)
if code != 220:
    server.close()
    raise smtplib.SMTPConnectError(code, msg)
server.ehlo()
if tls == "starttls":
    server.starttls(context=context)
    server.ehlo()
if env.get("USER"):
    server.login(env["USER"], env["PASS"])
refused = server.sendmail(env["FROM"], recipients, message)
if refused:
    print("Some recipients were refused:", refused)
    sys.exit(1)
server.quit()
print("Message sent")
