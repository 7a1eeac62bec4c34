#!/usr/bin/env python3
"""Reads one secret from an external store and hands it to arca as a provided_by value.

Runs under arca-run as the service a secret names in `provided_by`. Its credentials for the
store (the Vault token) are themselves injected by arca into its environment, so nothing
secret is on the host. Sources:

  vault:PATH#KEY   GET $VAULT_ADDR/v1/secret/data/PATH with X-Vault-Token: $VAULT_TOKEN
                   (Vault's KV v2 read API); the value is data.data[KEY]
  file:PATH        the content of PATH (e.g. a file arca injected or a volume holds)

Usage: importer.py SECRET SOURCE   (uploads with `arca-run --provide SECRET=-`)

The value goes to arca-run on a pipe, never into argv, the environment or a log line.
"""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

MAX_ANSWER = 1 << 20


def fail(msg):
    print("importer: " + msg, file=sys.stderr)
    sys.exit(1)


def read_vault(spec):
    path, _, key = spec.partition("#")
    if not path or not key:
        fail("vault source: expected vault:PATH#KEY")
    addr = os.environ.get("VAULT_ADDR")
    token = os.environ.get("VAULT_TOKEN")
    if not addr or not token:
        fail("VAULT_ADDR and VAULT_TOKEN must be set (inject VAULT_TOKEN from an arca secret)")
    url = "%s/v1/secret/data/%s" % (addr.rstrip("/"), urllib.parse.quote(path))
    req = urllib.request.Request(url, headers={"X-Vault-Token": token})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            body = r.read(MAX_ANSWER + 1)
    except urllib.error.HTTPError as e:
        fail("vault: %s answered HTTP %d" % (path, e.code))
    except (urllib.error.URLError, OSError) as e:
        fail("vault: %s: %s" % (addr, getattr(e, "reason", e)))
    if len(body) > MAX_ANSWER:
        fail("vault: answer larger than %d bytes" % MAX_ANSWER)
    try:
        data = json.loads(body)["data"]["data"]
    except (ValueError, KeyError, TypeError):
        fail("vault: %s: not a KV v2 answer ({\"data\":{\"data\":{...}}})" % path)
    if not isinstance(data, dict) or not isinstance(data.get(key), str):
        fail("vault: %s has no string field %s" % (path, key))
    return data[key]


def read_file(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(MAX_ANSWER)
    except OSError as e:
        fail("file source %s: %s" % (path, e.strerror))


def main():
    if len(sys.argv) != 3:
        fail("usage: importer.py SECRET vault:PATH#KEY|file:PATH")
    secret, source = sys.argv[1], sys.argv[2]
    kind, _, spec = source.partition(":")
    if kind == "vault":
        value = read_vault(spec)
    elif kind == "file":
        value = read_file(spec)
    else:
        fail("unknown source %r (vault:... or file:...)" % kind)
    arca_run = os.environ.get("ARCA_RUN", "arca-run")
    p = subprocess.run([arca_run, "--provide", secret + "=-"], input=value.encode(),
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        fail("upload of %s refused: %s" % (secret, p.stderr.decode(errors="replace").strip()))
    print("importer: provided %s from %s" % (secret, kind), file=sys.stderr)


if __name__ == "__main__":
    main()
