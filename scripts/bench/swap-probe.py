#!/usr/bin/python3
# Probe client of scripts/bench-swap.sh: one keep-alive connection to each
# nginx worker, one request at a time, round robin, every INTERVAL ms;
# prints one line per request (monotonic ns, phase, worker pid, index
# generation, status, latency us) until the stop file exists.
#
#   swap-probe.py HOST PORT WORKERS N INTERVAL_MS PHASE_FILE STOP_FILE
#
# A connection belongs to the worker that accepted it (the bench listens
# with reuseport), which the X-Worker header names; connections are
# opened until every worker has one.  The latency is the client's: from
# sending the request to the last byte of the answer.
import http.client
import os
import random
import sys
import time

host, port, workers, n, interval, phase_file, stop_file = sys.argv[1:8]
port, workers, n = int(port), int(workers), int(n)
interval = float(interval) / 1000.0

conns = {}
for _ in range(workers * 64):
    if len(conns) == workers:
        break
    c = http.client.HTTPConnection(host, port, timeout=30)
    c.request("GET", "/v1/items/item-0/similar?k=10")
    r = c.getresponse()
    r.read()
    pid = r.getheader("X-Worker")
    if pid in conns:
        c.close()
    else:
        conns[pid] = c
if len(conns) < workers:
    sys.exit("swap-probe: reached %d of %d workers" % (len(conns), workers))

phase, checked = "steady", 0.0
out = sys.stdout
pids = sorted(conns)
i = 0
while True:
    now = time.monotonic()
    if now - checked > 0.1:
        checked = now
        if os.path.exists(stop_file):
            break
        try:
            with open(phase_file) as f:
                phase = f.read().strip() or phase
        except OSError:
            pass
    pid = pids[i % len(pids)]
    i += 1
    c = conns[pid]
    path = "/v1/items/item-%d/similar?k=10" % random.randrange(n)
    t0 = time.perf_counter_ns()
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    us = (time.perf_counter_ns() - t0) // 1000
    out.write("%d\t%s\t%s\t%s\t%d\t%d\n" % (
        time.monotonic_ns(), phase, r.getheader("X-Worker"),
        r.getheader("X-Index-Generation") or "-", r.status, us))
    time.sleep(interval)
out.flush()
