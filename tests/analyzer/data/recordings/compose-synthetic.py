#!/usr/bin/env python3
"""compose-synthetic.py BASE.rec.json OUT_DIR: the recordings no guest here can make, composed on the
machine, probes and kernel of a real 2-node guest recording (BASE):

  pmu-2-nodes.rec.json          PMU memory samples (data sources and latency weights, as AMD IBS or
                                Intel mem-loads give them; TCG has no PMU): a read-mostly array shared
                                by both nodes (replicate), a bound array used from the other node
                                (colocate), a heap first-touched by the main thread on node 0 and used
                                from node 1 (first-touch), program-wide locality below 70 % (use-agent)
  task-faults-2-nodes.rec.json  no sampled addresses, only /proc/PID/task/TID/sched numa_faults
                                (a thread whose memory is on the other node: per-thread colocate)
"""
import copy, json, sys

base = json.load(open(sys.argv[1]))
out_dir = sys.argv[2]
MIB = 1 << 20

def recording(command, pid):
    r = copy.deepcopy(base)
    r.update(command=command, pid=pid, duration_s=10.0, stop_reason="exited", exit_code=0, exit_signal=0,
             agent=False, agent_profile=None, threads=[], mappings=[], accesses=[], first_touch=[],
             fault_samples=0, migration_samples=0, pmu_samples=0, lost_records=0, unresolved_pages=0)
    r["counters"] = {"available": False, "node_loads": 0, "node_load_misses": 0}
    return r

def probe(r, source, used, detail, error=0, error_name=""):
    for p in r["evidence"]:
        if p["source"] == source:
            p.update(used=used, detail=detail, error=error, error_name=error_name)
            return
    r["evidence"].append(dict(source=source, used=used, detail=detail, error=error, error_name=error_name))

def thread(r, tid, name, node, migrations=0, faults=()):
    r["threads"].append(dict(tid=tid, name=name, first_seen_s=0.0, last_seen_s=r["duration_s"],
                             residency=[[node, 100]], cpu_migrations=migrations + 3, node_migrations=migrations,
                             numa_faults=[dict(node=n, task_private=p, task_shared=s) for n, p, s in faults]))

def mapping(r, start, mib, name, policy, pages):
    r["mappings"].append(dict(start=start, end=start + mib * MIB, name=name, policy=policy, page_kb=4,
                              pages_by_node=[[n, p] for n, p in pages.items()]))

def pmu(r, tid, cpu_node, memory_node, start, mem_class, count, loads, latency):
    r["accesses"].append(dict(source="pmu", tid=tid, cpu_node=cpu_node, memory_node=memory_node, mapping=start,
                              mem_class=mem_class, count=count, loads=loads, weight_sum=count * latency))
    r["pmu_samples"] += count

# ---- PMU samples ----
r = recording(["./stream-pairs", "--threads", "3"], 4242)
probe(r, "pmu-memory-sampling", True, "ibs_op (AMD IBS op sampling, per process): data source and latency per sampled load/store")
SHARED, BOUND, HEAP, LIBS = 0x7f3a40000000, 0x7f3a00000000, 0x55d0c8a00000, 0x7f3b10000000
thread(r, 4242, "stream-pairs", 0)
thread(r, 4243, "reader-0", 0)
thread(r, 4244, "reader-1", 1)
thread(r, 4245, "writer-1", 1)
mapping(r, SHARED, 64, "", "default", {0: 16384})
mapping(r, BOUND, 32, "", "bind:0", {0: 8192})
mapping(r, HEAP, 16, "[heap]", "default", {0: 4000, 1: 96})
mapping(r, LIBS, 2, "/usr/lib/x86_64-linux-gnu/libc.so.6", "default", {0: 300, 1: 200})
pmu(r, 4243, 0, 0, SHARED, "local-dram", 4000, 3990, 180)
pmu(r, 4244, 1, 0, SHARED, "remote-dram", 3800, 3780, 320)
pmu(r, 4244, 1, 0, SHARED, "remote-cache", 120, 120, 210)
pmu(r, 4243, 0, 0, SHARED, "local-cache", 9000, 8900, 40)
pmu(r, 4245, 1, 0, BOUND, "remote-dram", 2500, 1200, 340)
pmu(r, 4245, 1, 0, BOUND, "remote-hitm", 60, 20, 400)
pmu(r, 4244, 1, 0, HEAP, "remote-dram", 1500, 1400, 330)
pmu(r, 4244, 1, 1, HEAP, "local-dram", 40, 40, 175)
pmu(r, 4242, 0, 0, LIBS, "local-dram", 20, 20, 170)
r["first_touch"] = [dict(tid=4242, cpu_node=0, memory_node=0, mapping=HEAP, site="stream-pairs+0x1a2b", pages=3900),
                    dict(tid=4243, cpu_node=0, memory_node=0, mapping=SHARED, site="stream-pairs+0x1c40", pages=16384),
                    dict(tid=4245, cpu_node=1, memory_node=0, mapping=BOUND, site="stream-pairs+0x1d08", pages=8192)]
r["fault_samples"] = 28476
json.dump(r, open(out_dir + "/pmu-2-nodes.rec.json", "w"), indent=1)

# ---- per-task NUMA faults only ----
r = recording(["./solver", "-n", "2"], 3100)
for source in ("page-fault-sampling", "numa-hint-faults", "move-pages"):
    probe(r, source, False, "perf_event_open: Permission denied (perf_event_paranoid 3 without CAP_PERFMON)", 13, "EACCES")
probe(r, "task-numa-faults", True, "numa_faults of 2 threads in /proc/PID/task/TID/sched")
thread(r, 3100, "solver", 0, faults=[(0, 120, 0)])
thread(r, 3101, "solver-w1", 1, faults=[(0, 2700, 0), (1, 300, 0)])
mapping(r, 0x7f5500000000, 48, "", "default", {0: 12288})
json.dump(r, open(out_dir + "/task-faults-2-nodes.rec.json", "w"), indent=1)
