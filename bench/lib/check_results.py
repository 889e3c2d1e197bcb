#!/usr/bin/env python3
"""Checks a bench/run result directory: every allocator row present and measured, the summaries
consistent with their samples, every ratio recomputed from the raw medians, the targets taken from
those ratios, and the markdown table and SVG plot written. Exit 0 when all holds, 1 otherwise.

  check_results.py RESULT_DIR [--require-ok]
"""
from __future__ import annotations

import math
import os
import pathlib
import statistics
import sys
import xml.etree.ElementTree as ET

ALLOCATORS = ["glibc", "jemalloc", "tcmalloc", "mimalloc", "agent", "agent-nopools", "agent-nopin"]
ANCHORS = ALLOCATORS[:4]
WORKLOADS = ["pair_latency", "pool_figure", "scaling", "cross_free", "larson", "thread_create", "startup", "rss",
             "thread_waves", "prodcons", "medium_sizes", "server_churn", "exec_storm"]


class Checker:
    def __init__(self):
        self.errors: list[str] = []
        self.checks = 0

    def expect(self, cond: bool, what: str) -> bool:
        self.checks += 1
        if not cond:
            self.errors.append(what)
        return cond


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def check(result_dir: pathlib.Path, require_ok: bool) -> Checker:
    import json

    c = Checker()
    data = json.loads((result_dir / "results.json").read_text())
    c.expect(data.get("schema") == "numa-agent-bench/1", f"schema is {data.get('schema')!r}")
    reps = data["repetitions"]
    c.expect(isinstance(reps, int) and reps >= 1, "repetitions is a positive integer")
    c.expect([a["name"] for a in data["allocators"]] == ALLOCATORS, "allocator list is the seven rows in order")
    mach = data["machine"]
    c.expect(mach["numa_nodes"] >= 1 and mach["cpus"] >= 1 and mach["kernel"].startswith("Linux"),
             "machine description has nodes, CPUs and kernel")
    workloads = data["workloads"]
    expected = WORKLOADS + (["fastpath_callgrind"] if "fastpath_callgrind_skipped" not in data else [])
    if "--workloads" in data.get("command", ""):   # a subset run: check what it ran
        expected = [w for w in expected if w in workloads]
    for w in expected:
        if not c.expect(w in workloads, f"workload {w} present"):
            continue
        rows = workloads[w]["rows"]
        for a in ALLOCATORS:
            if not c.expect(a in rows, f"{w}: row {a} present"):
                continue
            row = rows[a]
            if require_ok:
                c.expect(row["status"] == "ok", f"{w}/{a}: status ok (is {row['status']}: {row.get('reason', '')})")
            if row["status"] != "ok":
                c.expect(bool(row.get("reason")), f"{w}/{a}: a row that is not ok says why")
                continue
            c.expect(len(row["metrics"]) > 0, f"{w}/{a}: has metrics")
            for m, s in row["metrics"].items():
                n = 1 if w == "fastpath_callgrind" else reps
                c.expect(len(s["samples"]) == n, f"{w}/{a}/{m}: {n} samples (has {len(s['samples'])})")
                c.expect(s["min"] == min(s["samples"]) and s["max"] == max(s["samples"])
                         and close(s["median"], statistics.median(s["samples"])),
                         f"{w}/{a}/{m}: min/median/max match the samples")
                c.expect(all(v > 0 and math.isfinite(v) for v in s["samples"]), f"{w}/{a}/{m}: positive finite samples")
        # Ratios, recomputed from the medians.
        for m, best in workloads[w].get("fastest_anchor", {}).items():
            lower = best["better"] == "lower"
            medians = {a: rows[a]["metrics"][m]["median"] for a in ANCHORS
                       if rows.get(a, {}).get("status") == "ok" and m in rows[a]["metrics"]}
            pick = min(medians.values()) if lower else max(medians.values())
            c.expect(close(best["median"], pick) and close(medians[best["anchor"]], pick),
                     f"{w}/{m}: fastest anchor is {best['anchor']} at {pick}")
            for a, row in rows.items():
                if row.get("status") != "ok" or m not in row["metrics"]:
                    continue
                med = row["metrics"][m]["median"]
                want = med / pick if lower else pick / med
                got = row["metrics"][m]["ratio_vs"]["fastest_anchor"]
                c.expect(close(got, want), f"{w}/{a}/{m}: ratio {got} == {want} from the medians")
                if "glibc" in medians:
                    g = medians["glibc"]
                    c.expect(close(row["metrics"][m]["ratio_vs"]["glibc"], med / g if lower else g / med),
                             f"{w}/{a}/{m}: ratio vs glibc from the medians")
            own = rows.get(best["anchor"], {}).get("metrics", {}).get(m, {}).get("ratio_vs", {}).get("fastest_anchor")
            c.expect(own is not None and close(own, 1.0), f"{w}/{m}: the fastest anchor's own ratio is 1")
    # Size classes and thread counts the harness promises.
    pair = workloads.get("pair_latency", {}).get("rows", {}).get("glibc", {})
    if pair.get("status") == "ok":
        sizes = sorted(int(m.split("@")[1]) for m in pair["metrics"] if m.startswith("pair_ns@"))
        c.expect(sizes and sizes[0] == 16 and sizes[-1] == 1024, f"pair latency covers 16..1024 B (has {sizes})")
    scal = workloads.get("scaling", {}).get("rows", {}).get("glibc", {})
    if scal.get("status") == "ok":
        counts = sorted(int(m.split("@")[1]) for m in scal["metrics"])
        c.expect(counts == list(range(1, mach["cpus_allowed"] + 1)), f"scaling covers 1..cores threads (has {counts})")
    # Targets quote the rows' ratios.
    targets = {t["what"]: t for t in data["targets"]}
    agent_pair = workloads["pair_latency"]["rows"]["agent"]
    t = targets.get("single-thread pair latency (geomean of size classes)")
    if c.expect(t is not None, "pair-latency target present") and agent_pair.get("status") == "ok":
        c.expect(close(t["measured"], round(agent_pair["metrics"]["pair_ns_geomean"]["ratio_vs"]["fastest_anchor"], 3)),
                 "pair-latency target quotes the agent's ratio")
        c.expect(t["met"] == (t["measured"] <= 1.0), "pair-latency target met iff ratio <= 1")
    agent_rss = workloads["rss"]["rows"]["agent"]
    t = targets.get("peak RSS, fixed live set")
    if c.expect(t is not None, "RSS target present") and agent_rss.get("status") == "ok":
        c.expect(close(t["measured"], round(agent_rss["metrics"]["peak_rss_kib"]["ratio_vs"]["glibc"], 3)),
                 "RSS target quotes the agent's ratio against glibc")
    for w, metric in (("thread_waves", "thread_waves_seconds"), ("prodcons", "prodcons_mobj_per_s"),
                      ("medium_sizes", "medium_sizes_mops_per_s"), ("server_churn", "server_churn_mops_per_s")):
        row = workloads.get(w, {}).get("rows", {}).get("agent", {})
        t = targets.get({"thread_waves": "shape: thread waves", "prodcons": "shape: producer/consumer batches",
                         "medium_sizes": "shape: medium sizes", "server_churn": "shape: server churn"}[w])
        if c.expect(t is not None, f"shape target for {w} present") and row.get("status") == "ok":
            c.expect(close(t["measured"], round(row["metrics"][metric]["ratio_vs"]["fastest_anchor"], 3)),
                     f"shape target for {w} quotes the agent's ratio")
    for name in ("seed figure: acquire_ns", "seed figure: release_ns", "seed figure: ops_per_s", "cross-thread free",
                 "shapes: geometric mean of the agent's ratios"):
        c.expect(name in targets, f"target '{name}' present")
    # The human-readable outputs.
    md = (result_dir / "results.md").read_text()
    c.expect("| What | unit | glibc | jemalloc | tcmalloc | mimalloc | agent | agent, pools=0 |" in md,
             "results.md has the allocator table header")
    c.expect(mach["cpu_model"] in md, "results.md names the machine")
    svg = ET.parse(result_dir / "comparison.svg").getroot()
    bars = [r for r in svg.iter("{http://www.w3.org/2000/svg}rect") if r.find("{http://www.w3.org/2000/svg}title") is not None]
    ok_rows = sum(1 for w in ("pair_latency",) for r in workloads[w]["rows"].values() if r["status"] == "ok")
    c.expect(len(bars) >= ok_rows, f"comparison.svg has bars ({len(bars)}) for every measured allocator")
    return c


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    result_dir = pathlib.Path(args[0])
    if not (result_dir / "results.json").is_file():
        print(f"check_results: {result_dir}/results.json not found", file=sys.stderr)
        return 1
    try:
        c = check(result_dir, "--require-ok" in sys.argv)
    except (KeyError, TypeError, ValueError, IndexError, ET.ParseError) as e:
        print(f"FAILED: malformed results in {result_dir}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    for e in c.errors:
        print(f"FAILED: {e}", file=sys.stderr)
    print(f"check_results: {c.checks - len(c.errors)}/{c.checks} checks passed in {os.fspath(result_dir)}")
    return 1 if c.errors else 0


if __name__ == "__main__":
    sys.exit(main())
