#!/usr/bin/env python3
"""Stand-in for the 1Password CLI `op` in the aws-vault tests. Installed as `op` on a test PATH.

Follows the documented command line and JSON of 1Password CLI 2 (developer.1password.com/docs/
cli/reference/management-commands/item and /docs/cli/item-template-json):
  op --version
  op item list   [--vault V] [--tags a,b] [--categories c] --format json
  op item get    ITEM [--vault V] [--reveal] --format json
  op item create [--vault V] [--tags a,b] [--title T] [--category C] --format json -   (item JSON on stdin)
  op item edit   ITEM [--vault V] [--tags a,b] [--title T] --format json               (item JSON piped on stdin)
  op item delete ITEM [--vault V]
  global: --account ACCOUNT, --format json
Item JSON as `op item get --format json` prints it: id, title, version, vault{id,name}, category
(API_CREDENTIAL, ...), last_edited_by, created_at, updated_at, tags, fields[]{id,type,label,value,
reference}. Errors: `[ERROR] YYYY/MM/DD HH:MM:SS <message>` on stderr, exit status 1, with op's
wording for a missing item (`"x" isn't an item in the "V" vault...`) or vault.

State and settings come from the JSON file named by FAKE_OP_STATE:
  {"vaults": [{"id","name"}], "items": [...], "token": accepted OP_SERVICE_ACCOUNT_TOKEN or null,
   "account": account required with --account (desktop mode) or null,
   "version": "2.30.0", "delay": seconds to sleep before answering}
With "token" set, a run must carry exactly that OP_SERVICE_ACCOUNT_TOKEN; with "account" set, a
run must name that --account. Each run is appended to FAKE_OP_LOG as one JSON line:
  {"argv": [...], "stdin": "<what was piped>", "env": {"OP_SERVICE_ACCOUNT_TOKEN": bool, ...}}
The env entry records only whether each variable was present, never its value.
"""
import json
import os
import secrets
import string
import sys
import time

STATE_FILE = os.environ["FAKE_OP_STATE"]
LOG = os.environ.get("FAKE_OP_LOG")
WATCHED = ["OP_SERVICE_ACCOUNT_TOKEN", "OP_CONNECT_HOST", "OP_CONNECT_TOKEN",
           "AWS_VAULT_OP_SERVICE_ACCOUNT_TOKEN", "AWS_VAULT_OP_CONNECT_TOKEN", "OP_ACCOUNT"]


def fail(msg):
    sys.stderr.write("[ERROR] %s %s\n" % (time.strftime("%Y/%m/%d %H:%M:%S"), msg))
    sys.exit(1)


def new_id():
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26))


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def version_tuple(v):
    return tuple(int(p) for p in v.split("-")[0].split(".")[:3])


with open(STATE_FILE) as f:
    state = json.load(f)

argv = sys.argv[1:]
stdin_text = ""
if not sys.stdin.isatty():
    try:
        stdin_text = sys.stdin.read()
    except (OSError, ValueError):
        stdin_text = ""
if LOG:
    with open(LOG, "a") as log:
        log.write(json.dumps({"argv": argv, "stdin": stdin_text,
                              "env": {k: k in os.environ for k in WATCHED}}) + "\n")
if state.get("delay"):
    time.sleep(state["delay"])

version = state.get("version", "2.30.0")
if argv == ["--version"]:
    print(version)
    sys.exit(0)

# Flags (values) and positional arguments.
VALUE_FLAGS = {"--vault", "--tags", "--format", "--account", "--title", "--category", "--categories"}
BOOL_FLAGS = {"--reveal", "--include-archive", "--dry-run"}
flags, pos = {}, []
i = 0
while i < len(argv):
    a = argv[i]
    if a.startswith("--") and "=" in a:
        k, v = a.split("=", 1)
        flags[k] = v
    elif a in VALUE_FLAGS:
        if i + 1 >= len(argv):
            fail("flag needs an argument: %s" % a)
        flags[a] = argv[i + 1]
        i += 1
    elif a in BOOL_FLAGS:
        if a == "--reveal" and version_tuple(version) < (2, 25, 0):
            fail("unknown flag: --reveal")
        flags[a] = True
    elif a.startswith("--"):
        fail("unknown flag: %s" % a)
    else:
        pos.append(a)
    i += 1

if pos[:1] != ["item"] or len(pos) < 2:
    fail("unknown command %r for \"op\"" % " ".join(pos))

# Authentication: a service-account token, or the desktop app for one account.
token = os.environ.get("OP_SERVICE_ACCOUNT_TOKEN")
if state.get("token") is not None:
    if token != state["token"]:
        fail("invalid service account token" if token else
             "You are not currently signed in. Please run `op signin --help` for instructions")
elif state.get("account") is not None:
    if token:
        fail("a service account token is set: op would not use the desktop app")
    if flags.get("--account") != state["account"]:
        fail("No accounts configured for use with 1Password CLI matching %r" % flags.get("--account"))

vaults = state.get("vaults", [{"id": "vvvvvvvvvvvvvvvvvvvvvvvvvv", "name": "Automation"}])
items = state.setdefault("items", [])


def find_vault(spec):
    if spec is None:
        if token:
            fail("a vault query must be specified when using a service account")
        return vaults[0]
    for v in vaults:
        if spec in (v["id"], v["name"]):
            return v
    fail('"%s" isn\'t a vault in this account. Specify the vault with its ID or name.' % spec)


def find_item(spec, v):
    matches = [it for it in items if it["vault"]["id"] == v["id"] and spec in (it["id"], it["title"])]
    if not matches:
        fail('"%s" isn\'t an item in the "%s" vault. Specify the item with its UUID, name, or domain.' % (spec, v["name"]))
    if len(matches) > 1:
        fail('More than one item matches "%s". Try again and specify the item by its ID' % spec)
    return matches[0]


def save():
    with open(STATE_FILE + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(STATE_FILE + ".tmp", STATE_FILE)


def public(it, reveal_fields=True):
    out = {k: it[k] for k in ("id", "title", "version", "vault", "category", "last_edited_by",
                              "created_at", "updated_at") if k in it}
    if it.get("tags"):
        out["tags"] = it["tags"]
    if reveal_fields:
        out["fields"] = [dict(f, reference="op://%s/%s/%s" % (it["vault"]["name"], it["title"], f.get("label", "")))
                         for f in it.get("fields", [])]
    return out


def tags_flag():
    t = flags.get("--tags")
    return None if t is None else [x for x in t.split(",") if x]


def template():
    if not stdin_text.strip():
        return {}
    try:
        return json.loads(stdin_text)
    except ValueError:
        fail("couldn't parse the item template: invalid JSON")


verb = pos[1]
if verb == "list":
    v = find_vault(flags.get("--vault"))
    found = [it for it in items if it["vault"]["id"] == v["id"]]
    if tags_flag():
        found = [it for it in found if any(t in it.get("tags", []) for t in tags_flag())]
    print(json.dumps([public(it, False) for it in found], indent=2))
elif verb == "get":
    if len(pos) < 3:
        fail("an item must be specified")
    v = find_vault(flags.get("--vault"))
    print(json.dumps(public(find_item(pos[2], v)), indent=2))
elif verb == "create":
    if pos[2:3] != ["-"] and stdin_text.strip():
        fail("piped input requires '-' as the first argument")
    t = template()
    v = find_vault(flags.get("--vault"))
    cat = flags.get("--category", t.get("category", ""))
    if cat.replace(" ", "").upper() in ("APICREDENTIAL", "API_CREDENTIAL"):
        cat = "API_CREDENTIAL"
    else:
        fail("unknown category %r" % cat)
    it = {"id": new_id(), "title": flags.get("--title", t.get("title", "Untitled API Credential item")),
          "version": 1, "vault": {"id": v["id"], "name": v["name"]}, "category": cat,
          "last_edited_by": "FAKEUSER", "created_at": now(), "updated_at": now(),
          "tags": tags_flag() if tags_flag() is not None else t.get("tags", []),
          "fields": [dict(f, id=f.get("id") or new_id()) for f in t.get("fields", [])]}
    items.append(it)
    save()
    print(json.dumps(public(it), indent=2))
elif verb == "edit":
    if len(pos) < 3:
        fail("an item must be specified")
    v = find_vault(flags.get("--vault"))
    it = find_item(pos[2], v)
    t = template()
    if "title" in t:
        it["title"] = t["title"]
    if "fields" in t:
        it["fields"] = [dict(f, id=f.get("id") or new_id()) for f in t["fields"]]
    if "--title" in flags:
        it["title"] = flags["--title"]
    if tags_flag() is not None:
        it["tags"] = tags_flag()
    it["version"] += 1
    it["updated_at"] = now()
    save()
    print(json.dumps(public(it), indent=2))
elif verb == "delete":
    if len(pos) < 3:
        fail("an item must be specified")
    v = find_vault(flags.get("--vault"))
    it = find_item(pos[2], v)
    items.remove(it)
    save()
else:
    fail("unknown command \"%s\" for \"op item\"" % verb)
