#!/usr/bin/python3
"""KWallet helper for tests/stores.rs (Debian's /usr/bin/python3 with python3-dbus).

  kw_tool.py start                      start kwalletd5 the pam_kwallet5 way (wallet created and
                                        opened without a dialog); prints its PID
  kw_tool.py write-go WALLET KEY JSON   write an entry the way the Go tool does
  kw_tool.py read WALLET KEY            print an entry
"""
import os, socket, subprocess, sys, tempfile
import dbus

cmd = sys.argv[1]
if cmd == "start":
    r, w = os.pipe()
    sockdir = tempfile.mkdtemp(prefix="kw"); sp = os.path.join(sockdir, "kwallet5.socket")
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); ls.bind(sp); ls.listen(1)
    env = dict(os.environ, PAM_KWALLET5_LOGIN=sp, QT_QPA_PLATFORM="offscreen")
    log = open(os.environ.get("KWLOG", os.devnull), "w")
    p = subprocess.Popen(["kwalletd5", "--pam-login", str(r), str(ls.fileno())], pass_fds=(r, ls.fileno()),
                         env=env, stdout=log, stderr=log, start_new_session=True)
    os.close(r); ls.close()
    os.write(w, b"\x01" * 56); os.close(w)
    c = socket.socket(socket.AF_UNIX); c.connect(sp)
    c.sendall(("DBUS_SESSION_BUS_ADDRESS=%s\n" % os.environ["DBUS_SESSION_BUS_ADDRESS"]).encode()); c.close()
    os.unlink(sp); os.rmdir(sockdir)
    print(p.pid)
    sys.exit(0)

bus = dbus.SessionBus()
def kw(method, sig, *args):
    return bus.call_blocking("org.kde.kwalletd5", "/modules/kwalletd5", "org.kde.KWallet", method, sig, args)
app = "aws-vault"
h = kw("open", "sxs", sys.argv[2], 0, app)
if cmd == "write-go":
    print(kw("writeEntry", "issays", h, "aws-vault", sys.argv[3], dbus.ByteArray(sys.argv[4].encode()), app))
elif cmd == "read":
    sys.stdout.write(bytes(kw("readEntry", "isss", h, "aws-vault", sys.argv[3], app)).decode())
else:
    sys.exit("unknown command " + cmd)
