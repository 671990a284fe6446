#!/usr/bin/env python3
"""The served half of scripts/eval-movielens.sh: asks nginx for each
evaluated user's top 10 (POST /v1/recommendations with the user's
training positives as the history) and scores the answers against the
held-out positives exactly as recsys-eval does (Recall@10 over
min(10, |held out|), NDCG@10).

    movielens-served.py HOST PORT TEST.JSONL LABEL PARAMS TRAIN_S

History is limited to 1000 ids per request (the API's limit): a user
with more training positives sends the first 1000 as the history and
the rest as "exclude", so that none of them is recommended; the count
of such users is printed.  Prints one row in recsys-eval's table format.
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
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    recall = ndcg = 0.0
    users = cut = errors = 0
    start = time.time()

    with open(test) as f:
        for line in f:
            t = json.loads(line)
            hist = t["history"]
            body = {"history": hist[:MAX_IDS], "k": K}
            if len(hist) > MAX_IDS:
                body["exclude"] = hist[MAX_IDS:2 * MAX_IDS]
                cut += 1
            conn.request("POST", "/v1/recommendations", json.dumps(body),
                         {"Content-Type": "application/json"})
            res = conn.getresponse()
            data = res.read()
            if res.status != 200:
                errors += 1
                continue
            got = [it["id"] for it in json.loads(data)["items"]][:K]
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
    print("%-16s %u users, %u non-200 answers, %u histories over %u ids"
          " (rest sent as exclude), %.0f requests/s" % (
              "", users, errors, cut, MAX_IDS, users / elapsed))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
