"""Issue 9, items 5 and 2 (client API): no existence oracle for strangers; per-session cost
limits, per-client quotas (sessions created, requests per second) and a paginated listing.

Every test starts its own arcad (arcad_factory) so that its limits and its names are its own.
"""
import json

from conftest import https, make_identity, run_cli

SECRET_SESSION = """name: {name}
version: "0.3"
secrets:
  - name: hidden
    kind: ascii
    size: 16
access_policy:
  read: [CREATOR]
  update: [CREATOR]
"""


def probes(arcad, who, name):
    """Everything a stranger can ask about name; (status, body bytes) per probe."""
    guessed = "11" * 32
    upd = SECRET_SESSION.format(name=name) + 'predecessor: "%s"\n' % guessed
    return {
        "read": https(arcad, who, "GET", "/v1/sessions/" + name),
        "read_hash": https(arcad, who, "GET", "/v1/sessions/%s?hash=%s" % (name, guessed)),
        "history": https(arcad, who, "GET", "/v1/history/" + name),
        "update_guessed_predecessor": https(arcad, who, "POST", "/v1/sessions", upd),
        "values": https(arcad, None, "GET", "/v1/values/session=" + name),
        "value_not_exported": https(arcad, None, "GET",
                                    "/v1/values/session=%s,secret=hidden" % name),
        "value_missing": https(arcad, None, "GET", "/v1/values/session=%s,secret=nope" % name),
    }


def test_stranger_cannot_tell_existing_from_missing(arcad_factory, tmp_path):
    arcad = arcad_factory(["--allow-simulation"])
    creator = make_identity(tmp_path, "creator", arcad)
    stranger = make_identity(tmp_path, "stranger", arcad)
    before = probes(arcad, stranger, "secretive")
    st, body = https(arcad, creator, "POST", "/v1/sessions", SECRET_SESSION.format(name="secretive"))
    assert st == 201, body
    active = json.loads(body)["hash"]
    after = probes(arcad, stranger, "secretive")
    for k in before:
        assert before[k] == after[k], (k, before[k], after[k])
        assert before[k][0] == 404, (k, before[k])
    # the right predecessor changes nothing either: access is decided first
    upd = SECRET_SESSION.format(name="secretive") + 'predecessor: "%s"\n' % active
    assert https(arcad, stranger, "POST", "/v1/sessions", upd) == \
        before["update_guessed_predecessor"]
    # a create of the existing name is refused, but without its hash
    st, body = https(arcad, stranger, "POST", "/v1/sessions",
                     SECRET_SESSION.format(name="secretive"))
    assert st == 409 and active.encode() not in body
    # the creator is still told the whole story
    st, body = https(arcad, creator, "POST", "/v1/sessions", upd.replace(active, "22" * 32))
    assert st == 409 and active.encode() in body
    # the denials are audited as before
    audit = open(arcad.data + "/audit.log").read()
    assert audit.count('"access_denied"') >= 4


def test_cost_limits_refused_413(arcad_factory, tmp_path):
    arcad = arcad_factory(["--allow-simulation", "--max-keys-per-session", "2",
                           "--max-keygen-ms", "500"])
    c = make_identity(tmp_path, "c", arcad)
    keys = "".join("  - name: k%d\n    kind: private-key\n" % i for i in range(3))
    y = 'name: many\nversion: "0.3"\nsecrets:\n' + keys
    st, body = https(arcad, c, "POST", "/v1/sessions", y)
    assert st == 413, body
    assert "--max-keys-per-session" in json.loads(body)["msg"][0]
    y = ('name: rsa\nversion: "0.3"\nsecrets:\n  - name: k\n    kind: private-key\n'
         '    key_type: RSA-3072\n')
    st, body = https(arcad, c, "POST", "/v1/sessions", y)
    assert st == 413 and b"--max-keygen-ms" in body, body
    # within the limits: created
    y = 'name: few\nversion: "0.3"\nsecrets:\n' + keys.replace("  - name: k2\n    kind: private-key\n", "")
    st, body = https(arcad, c, "POST", "/v1/sessions", y)
    assert st == 201, body


def test_sessions_per_client_quota_429(arcad_factory, tmp_path):
    arcad = arcad_factory(["--allow-simulation", "--max-sessions-per-client", "2"])
    a = make_identity(tmp_path, "a", arcad)
    b = make_identity(tmp_path, "b", arcad)
    for i in range(2):
        st, body = https(arcad, a, "POST", "/v1/sessions", 'name: q%d\nversion: "0.3"\n' % i)
        assert st == 201, body
    st, body = https(arcad, a, "POST", "/v1/sessions", 'name: q9\nversion: "0.3"\n')
    assert st == 429 and b"--max-sessions-per-client" in body, body
    # updates are not creates, and other clients have quotas of their own
    st, body = https(arcad, b, "POST", "/v1/sessions", 'name: q9\nversion: "0.3"\n')
    assert st == 201, body
    # the count survives a restart (it is in the sealed store)
    arcad.restart()
    st, body = https(arcad, a, "POST", "/v1/sessions", 'name: q8\nversion: "0.3"\n')
    assert st == 429, body


def test_request_quota_per_client_429(arcad_factory, tmp_path):
    arcad = arcad_factory(["--allow-simulation", "--client-rate", "1", "--client-burst", "2"])
    a = make_identity(tmp_path, "a", arcad)
    b = make_identity(tmp_path, "b", arcad)
    answers = [https(arcad, a, "GET", "/v1/sessions") for _ in range(10)]
    limited = [body for st, body in answers if st == 429]
    assert limited, [st for st, _ in answers]
    assert b"--client-rate" in limited[0]
    # another key is not affected
    st, body = https(arcad, b, "GET", "/v1/sessions")
    assert st == 200, body


def test_pagination(arcad_factory, tmp_path):
    arcad = arcad_factory(["--allow-simulation"])
    c = make_identity(tmp_path, "c", arcad)
    other = make_identity(tmp_path, "o", arcad)
    names = ["p%02d" % i for i in range(7)]
    for n in names:
        st, body = https(arcad, c, "POST", "/v1/sessions", 'name: %s\nversion: "0.3"\n' % n)
        assert st == 201, body
    # sessions the client may not list do not take places in its pages
    st, body = https(arcad, other, "POST", "/v1/sessions", 'name: p03x\nversion: "0.3"\n')
    assert st == 201
    seen, after, pages = [], None, 0
    while True:
        q = "/v1/sessions?prefix=p&limit=3" + ("&after=" + after if after else "")
        st, body = https(arcad, c, "GET", q)
        assert st == 200, body
        j = json.loads(body)
        assert len(j["sessions"]) <= 3
        seen += [s["name"] for s in j["sessions"]]
        pages += 1
        after = j["next"]
        if after is None:
            break
    assert seen == names and pages == 3
    for bad in ("0", "1001", "x", "-1"):
        st, body = https(arcad, c, "GET", "/v1/sessions?limit=" + bad)
        assert st == 400, (bad, body)
    # the CLI follows the pages
    p = run_cli(c, "-o", "json", "session", "list", "p", "--page-size", "2")
    assert p.returncode == 0, p.stderr
    assert [s["name"] for s in json.loads(p.stdout)["sessions"]] == names
    # the index survives a restart and follows updates
    arcad.restart()
    st, body = https(arcad, c, "GET", "/v1/sessions?prefix=p0&limit=1000")
    assert [s["name"] for s in json.loads(body)["sessions"]] == names
