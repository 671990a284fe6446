#!/usr/bin/python3
# Crash client of scripts/bench-events.sh: CLIENTS threads post REQUESTS
# batches of 10 events (items "c<request>-<event>", unique), each on a
# keep-alive connection, and write the items of every batch answered 202
# to ACKED.  When a third of the requests are answered the nginx helper
# ("cache manager process") is killed with SIGKILL, at two thirds every
# worker; a request whose connection dies is retried never (its events
# may or may not be stored: not acknowledged).  Prints "KILL ..." lines
# and one "ANSWERS <status>:<count> ..." line.
#
#   events-crash.py URL REQUESTS CLIENTS NGINX_PID_FILE ACKED
import collections
import http.client
import json
import os
import signal
import sys
import threading
import urllib.parse

url, total, clients, pid_file, acked_path = sys.argv[1:6]
total, clients = int(total), int(clients)
u = urllib.parse.urlparse(url)

lock = threading.Lock()
answers = collections.Counter()
acked = []
next_req = 0
done = 0
killed = []


def children(name):
    master = int(open(pid_file).read().split()[0])
    pids = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            stat = open('/proc/%s/stat' % d).read()
            ppid = int(stat.rsplit(')', 1)[1].split()[1])
            cmd = open('/proc/%s/cmdline' % d).read()
        except OSError:
            continue
        if ppid == master and name in cmd:
            pids.append(int(d))
    return pids


def shipping():
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        c.request('GET', '/admin/index/status')
        e = json.loads(c.getresponse().read())['events']
        c.close()
        return 'spooled %d shipped %d ready_segments %d' % (
            e['spooled'], e['shipped'], e['ready_segments'])
    except (OSError, ValueError, KeyError, http.client.HTTPException):
        return 'status unknown'


def kill(name):
    state = shipping()
    pids = children(name)
    for p in pids:
        os.kill(p, signal.SIGKILL)
    killed.append('KILL %s %s at %d answers (%s)' % (name, pids, done,
                                                      state))


def body(i):
    ev = ['{"user":"u%d","item":"c%d-%d","type":"view"}' % (j, i, j)
          for j in range(10)]
    return '{"events":[' + ','.join(ev) + ']}'


def client():
    global next_req, done
    conn = None
    while True:
        with lock:
            if next_req >= total:
                break
            i = next_req
            next_req += 1
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port,
                                                  timeout=30)
            conn.request('POST', u.path, body(i),
                         {'Content-Type': 'application/json'})
            r = conn.getresponse()
            r.read()
            status = str(r.status)
        except (OSError, http.client.HTTPException):
            status = 'conn_error'
            conn.close()
            conn = None
        with lock:
            answers[status] += 1
            if status == '202':
                acked.extend('c%d-%d' % (i, j) for j in range(10))
            done += 1
            if done == total // 3:
                kill('cache manager process')
            elif done == 2 * total // 3:
                kill('worker process')


threads = [threading.Thread(target=client) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()

with open(acked_path, 'w') as f:
    f.write('\n'.join(acked) + '\n')

for k in killed:
    print(k)
print('ANSWERS ' + ' '.join('%s:%d' % kv for kv in sorted(answers.items())))
