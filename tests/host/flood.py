#!/usr/bin/env python3
# flood.py PORT N same|spread SECONDS: open N silent tcp connections to
# 127.0.0.1:PORT (all from 127.0.0.1, or each from its own 127.0.x.y), hold
# them SECONDS, close them. Prints how many connected.
import socket
import sys
import time

port, n, spread, hold = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "spread", float(sys.argv[4])
socks = []
for i in range(n):
    s = socket.socket()
    if spread:
        s.bind(("127.0.%d.%d" % (1 + i // 250, 2 + i % 250), 0))
    try:
        s.connect(("127.0.0.1", port))
        socks.append(s)
    except OSError:
        s.close()
print("connected", len(socks), flush=True)
time.sleep(hold)
