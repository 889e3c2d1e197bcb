#!/usr/bin/env bash
# python3 forks and execs while threads allocate: 4 threads each run sha256sum/sort through
# subprocess, and a multiprocessing pool (fork start method) does allocation-heavy work in children.
# Rule: stdout byte-identical.
. "$(dirname "$0")/common.sh"
cat >"$WORK/work.py" <<'PY'
import multiprocessing as mp, subprocess, threading
out = {}
def shell(i):
    data = "\n".join(str(k * (i + 3) % 1009) for k in range(20000)).encode()
    for r in range(5):
        s = subprocess.run(["sort", "-n"], input=data, capture_output=True, check=True).stdout
        out[(i, r)] = subprocess.run(["sha256sum"], input=s, capture_output=True, check=True).stdout.split()[0].decode()
def churn():
    junk = []
    for k in range(200000):
        junk.append(str(k))
        if len(junk) > 1000: junk.clear()
def work(n):
    return sum(len(str(k) * (k % 7)) for k in range(n))
if __name__ == "__main__":
    mp.set_start_method("fork")
    ts = [threading.Thread(target=shell, args=(i,)) for i in range(4)] + [threading.Thread(target=churn)]
    for t in ts: t.start()
    with mp.Pool(2) as pool:
        print("pool", pool.map(work, [20000 + k for k in range(16)]))
    for t in ts: t.join()
    for key in sorted(out): print(key, out[key])
PY
run_both "$PY" "$WORK/work.py"
same_stdout
same_stderr
agent_ran threads
