#!/usr/bin/env bash
# python3: 8 threads build and hash dicts/lists of small objects, and hand them through a queue to
# consumer threads that free them (cross-thread frees). Rule: stdout byte-identical.
. "$(dirname "$0")/common.sh"
cat >"$WORK/work.py" <<'PY'
import hashlib, queue, threading
results = {}
q = queue.Queue(maxsize=64)
def produce(i):
    for batch in range(40):
        d = {f"key-{i}-{batch}-{k}": [k, str(k * i), (k, i, "x" * (k % 40))] for k in range(1500)}
        q.put(d)
def consume(j):
    h = hashlib.sha256()
    n = 0
    while True:
        d = q.get()
        if d is None:
            break
        n += len(d)
        h.update(str(sum(len(v[1]) + len(v[2][2]) for v in d.values())).encode())
        del d
    results[j] = n
producers = [threading.Thread(target=produce, args=(i,)) for i in range(6)]
consumers = [threading.Thread(target=consume, args=(j,)) for j in range(2)]
for t in producers + consumers: t.start()
for t in producers: t.join()
for _ in consumers: q.put(None)
for t in consumers: t.join()
print("objects consumed:", sum(results.values()))
def digest(i):
    h = hashlib.sha256()
    words = sorted(str(k * k % 9973) + "-" + str(i) for k in range(60000))
    for w in words: h.update(w.encode())
    results[("d", i)] = h.hexdigest()
ts = [threading.Thread(target=digest, args=(i,)) for i in range(8)]
for t in ts: t.start()
for t in ts: t.join()
for i in range(8): print(i, results[("d", i)])
PY
run_both "$PY" "$WORK/work.py"
same_stdout
same_stderr
agent_ran threads
