#!/usr/bin/env python3
# A hostile relay between a real `phaul -t tcp` and a real agent, for
# tests/host/tcp-relay.sh. It accepts one connection on LISTEN, connects to
# TARGET and does to the session what an on-path attacker can:
#
#   record FILE          pass everything; save the client's bytes after the
#                        handshake (its session, to replay elsewhere)
#   hijack FILE OLD NEW  pass the handshake (the real client proves the
#                        secret), drop the client, send FILE with OLD
#                        replaced by NEW as its own session; save what the
#                        agent answers in FILE.resp
#   rewrite DIR OLD NEW  pass the handshake, then everything, replacing OLD
#                        by NEW (same length) in DIR (c2s or s2c); also
#                        save DIR's bytes in the file named by $RELAY_SPY
#   tamper DIR KIND N    pass the handshake, then parse DIR's sealed records
#                        (u32 length, ciphertext) and do KIND to record N:
#                        flip, drop, replay, swap (with N+1), trunc (half
#                        of it, then close), cut (close before it)
#
# Handshake sizes by version: AUTH1 44/76/32 bytes, AUTH2 45/77/32.
import socket
import sys
import threading

HS = {b"PHAUL-AUTH1\n": (44, 76, 32), b"PHAUL-AUTH2\n": (45, 77, 32)}


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError("short read: %d of %d" % (len(b), n))
        b += d
    return b


def handshake(cli, srv):
    magic = recv_exact(srv, 12)
    sizes = HS.get(magic)
    if not sizes:
        sys.exit("relay: unknown greeting %r" % magic)
    cli.sendall(magic + recv_exact(srv, sizes[0] - 12))
    srv.sendall(recv_exact(cli, sizes[1]))
    cli.sendall(recv_exact(srv, sizes[2]))
    return sizes


def pump(src, dst, sub=None, spy=None):
    """Copy src to dst until EOF; sub=(old, new) rewrites within each chunk
    (on loopback one write arrives as one chunk; holding bytes back to
    match across chunks would stall a peer waiting for them)."""
    try:
        while True:
            d = src.recv(65536)
            if not d:
                break
            if spy:
                spy.write(d)
                spy.flush()
            dst.sendall(d.replace(sub[0], sub[1]) if sub else d)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def record(cli, srv, path):
    handshake(cli, srv)
    with open(path, "wb") as f:
        t = threading.Thread(target=pump, args=(srv, cli))
        t.start()
        pump(cli, srv, spy=f)
        t.join()


def hijack(cli, srv, path, old, new):
    handshake(cli, srv)
    cli.close()  # the real client proved the secret; the session is ours now
    data = open(path, "rb").read().replace(old, new)
    srv.settimeout(10)
    with open(path + ".resp", "wb") as f:
        try:
            srv.sendall(data)
            while True:
                d = srv.recv(65536)
                if not d:
                    break
                f.write(d)
        except OSError:
            pass


def rewrite(cli, srv, direction, old, new):
    import os

    spy = open(os.environ["RELAY_SPY"], "wb") if os.environ.get("RELAY_SPY") else None
    handshake(cli, srv)
    c2s = direction == "c2s"
    t = threading.Thread(target=pump, args=(srv, cli, None if c2s else (old, new),
                                           None if c2s else spy))
    t.start()
    pump(cli, srv, (old, new) if c2s else None, spy if c2s else None)
    t.join()


def records(src, dst, kind, nth):
    held = None
    i = 0
    while True:
        try:
            hdr = recv_exact(src, 4)
        except EOFError:
            break
        rec = hdr + recv_exact(src, int.from_bytes(hdr, "big"))
        if i == nth:
            if kind == "flip":
                rec = rec[:-1] + bytes([rec[-1] ^ 1])
            elif kind == "drop":
                rec = b""
            elif kind == "replay":
                rec = rec + rec
            elif kind == "swap":
                held, rec = rec, b""
            elif kind == "trunc":
                dst.sendall(rec[: len(rec) // 2])
                break
            elif kind == "cut":
                break
        dst.sendall(rec)
        if held is not None and i == nth + 1:
            dst.sendall(held)
            held = None
        i += 1
    # Only this direction ends: the other keeps flowing, so the victim
    # reports what it read, not a write into a closed socket.
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def tamper(cli, srv, direction, kind, nth):
    handshake(cli, srv)
    src, dst = (cli, srv) if direction == "c2s" else (srv, cli)
    t = threading.Thread(target=pump, args=(dst, src))
    t.start()
    records(src, dst, kind, nth)
    t.join()


def main():
    listen, target, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    args = sys.argv[4:]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(listen)))
    ls.listen(1)
    ls.settimeout(60)
    print("ready", flush=True)
    cli, _ = ls.accept()
    srv = socket.create_connection(("127.0.0.1", int(target)), timeout=60)
    cli.settimeout(60)
    try:
        if mode == "record":
            record(cli, srv, args[0])
        elif mode == "hijack":
            hijack(cli, srv, args[0], args[1].encode(), args[2].encode())
        elif mode == "rewrite":
            rewrite(cli, srv, args[0], args[1].encode(), args[2].encode())
        elif mode == "tamper":
            tamper(cli, srv, args[0], args[1], int(args[2]))
        else:
            sys.exit("relay: unknown mode " + mode)
    except (EOFError, OSError) as e:
        print("relay: %s" % e, file=sys.stderr)


if __name__ == "__main__":
    main()
