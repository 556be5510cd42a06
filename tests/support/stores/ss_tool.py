#!/usr/bin/python3
"""Secret Service helper for tests/stores.rs, run with Debian's /usr/bin/python3 (python3-dbus).

  ss_tool.py mkcoll LABEL [PASSWORD]   create an unlocked collection without a prompt (gnome-keyring)
  ss_tool.py store-go PATH KEY JSON [LABEL]
                                       create an item the way the Go tool does (label=key,
                                       attribute profile=key, content type application/json);
                                       LABEL overrides the label (a renamed item)
  ss_tool.py lock PATH                 lock a collection
  ss_tool.py locked PATH               print true/false
"""
import sys
import dbus

bus = dbus.SessionBus()
SVC = "org.freedesktop.secrets"
obj = bus.get_object(SVC, "/org/freedesktop/secrets")
svc = dbus.Interface(obj, "org.freedesktop.Secret.Service")
cmd = sys.argv[1]

if cmd == "mkcoll":
    label = sys.argv[2]
    password = sys.argv[3] if len(sys.argv) > 3 else ""
    _, session = svc.OpenSession("plain", dbus.String("", variant_level=1))
    internal = dbus.Interface(obj, "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface")
    secret = dbus.Struct((session, dbus.ByteArray(b""), dbus.ByteArray(password.encode()), "text/plain"),
                         signature="oayays")
    print(internal.CreateWithMasterPassword({"org.freedesktop.Secret.Collection.Label": label}, secret))
elif cmd == "store-go":
    path, key, value = sys.argv[2], sys.argv[3], sys.argv[4]
    label = sys.argv[5] if len(sys.argv) > 5 else key
    _, session = svc.OpenSession("plain", dbus.String("", variant_level=1))
    coll = dbus.Interface(bus.get_object(SVC, path), "org.freedesktop.Secret.Collection")
    props = {
        "org.freedesktop.Secret.Item.Label": label,
        "org.freedesktop.Secret.Item.Attributes": dbus.Dictionary({"profile": key}, signature="ss"),
    }
    secret = dbus.Struct((session, dbus.ByteArray(b""), dbus.ByteArray(value.encode()), "application/json"),
                         signature="oayays")
    item, prompt = coll.CreateItem(props, secret, True)
    assert prompt == "/", prompt
    print(item)
elif cmd == "lock":
    _, prompt = svc.Lock([dbus.ObjectPath(sys.argv[2])])
    assert prompt == "/", prompt
elif cmd == "locked":
    props = dbus.Interface(bus.get_object(SVC, sys.argv[2]), "org.freedesktop.DBus.Properties")
    print("true" if props.Get("org.freedesktop.Secret.Collection", "Locked") else "false")
else:
    sys.exit("unknown command " + cmd)
