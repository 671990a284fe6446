#!/usr/bin/env python3
"""The served half of scripts/eval-movielens.sh: asks nginx for each
evaluated user's top 10 and scores the answers against the held-out
positives exactly as recsys-eval does (Recall@10 over min(10, |held
out|), NDCG@10).

    movielens-served.py HOST PORT TEST.JSONL LABEL PARAMS TRAIN_S
                        [history|user [PATH]]

history (the default): POST PATH with the user's training positives as
the history.  History is limited to 1000 ids per request (the API's
limit): a user with more training positives sends the first 1000 as
the history and the rest as "exclude", so that none of them is
recommended; the count of such users is printed.  user: POST PATH with
{"user": id} only, answered from the user's stored vector (ALS), its
seen list keeping the training positives out; the answers' fallback
levels are counted.  PATH defaults to /v1/recommendations.  Prints one
row in recsys-eval's table format.
"""

import http.client
import json
import math
import sys
import time

MAX_IDS = 1000
K = 10


def main():
    host, port, test, label, params, train_s = sys.argv[1:7]
    mode = sys.argv[7] if len(sys.argv) > 7 else "history"
    path = sys.argv[8] if len(sys.argv) > 8 else "/v1/recommendations"
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    recall = ndcg = 0.0
    users = cut = errors = 0
    levels = {}
    start = time.time()

    with open(test) as f:
        for line in f:
            t = json.loads(line)
            hist = t["history"]
            if mode == "user":
                body = {"user": t["user"], "k": K}
            else:
                body = {"history": hist[:MAX_IDS], "k": K}
                if len(hist) > MAX_IDS:
                    body["exclude"] = hist[MAX_IDS:2 * MAX_IDS]
                    cut += 1
            conn.request("POST", path, json.dumps(body),
                         {"Content-Type": "application/json"})
            res = conn.getresponse()
            data = res.read()
            if res.status != 200:
                errors += 1
                continue
            answer = json.loads(data)
            level = answer.get("fallback_level", "none")
            levels[level] = levels.get(level, 0) + 1
            got = [it["id"] for it in answer["items"]][:K]
            truth = set(t["truth"])
            n = min(K, len(truth))
            hits = [r for r, i in enumerate(got) if i in truth]
            recall += len(hits) / n
            ndcg += (sum(1 / math.log2(r + 2) for r in hits)
                     / sum(1 / math.log2(r + 2) for r in range(n)))
            users += 1

    elapsed = time.time() - start
    if users == 0:
        print("movielens-served: no answer", file=sys.stderr)
        return 1
    print("%-16s %-32s %9.4f %9.4f %8.2f %8.2f" % (
        label, params, recall / users, ndcg / users, float(train_s),
        elapsed))
    if mode == "user":
        print("%-16s %u users, %u non-200 answers, fallback levels %s,"
              " %.0f requests/s" % (
                  "", users, errors,
                  " ".join("%s %u" % kv for kv in sorted(levels.items())),
                  users / elapsed))
    else:
        print("%-16s %u users, %u non-200 answers, %u histories over %u"
              " ids (rest sent as exclude), %.0f requests/s" % (
                  "", users, errors, cut, MAX_IDS, users / elapsed))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
