"""Turns a bench/run results object into the targets list, a markdown report and an SVG plot."""
from __future__ import annotations

import html
import math

ALLOCATORS = ["glibc", "jemalloc", "tcmalloc", "mimalloc", "agent", "agent-nopools", "agent-nopin"]
COLUMN_TITLES = {"agent-nopools": "agent, pools=0", "agent-nopin": "agent, pin=none"}
COLORS = {"glibc": "#4e79a7", "jemalloc": "#f28e2b", "tcmalloc": "#59a14f", "mimalloc": "#b07aa1",
          "agent": "#e15759", "agent-nopools": "#ff9d9a", "agent-nopin": "#9c755f"}

# (workload, metric, label) shown in the main table and the plot, in this order.
HEADLINE = [
    ("pair_latency", "pair_ns_geomean", "malloc+free pair, 1 thread (geomean 16..1024 B, fastest chunk)"),
    ("pair_latency", "pair_mean_ns_geomean", "malloc+free pair, 1 thread (geomean, mean of all chunks)"),
    ("pool_figure", "acquire_ns", "pool figure: acquire (64 B, batch 256)"),
    ("pool_figure", "release_ns", "pool figure: release (64 B, batch 256)"),
    ("pool_figure", "ops_per_s", "pool figure: acquire+release ops/s"),
    ("cross_free", "cross_free_ns", "producer/consumer cross-thread free"),
    ("larson", "larson_mops_per_s", "larson-style server churn"),
    ("rss", "peak_rss_kib", "peak RSS, fixed live set"),
    ("larson", "larson_peak_rss_kib", "peak RSS, larson"),
    ("thread_create", "thread_create_join_ns", "pthread_create + join"),
    ("thread_create", "thread_create_first_ns", "first pthread_create + join (the agent reads the topology then)"),
    ("startup", "startup_ms", "process start + exit (exec of an empty program)"),
    ("startup", "footprint_peak_rss_kib", "fixed footprint: peak RSS of an empty program"),
    ("exec_storm", "exec_storm_ms", "exec storm: bash starting /bin/true, every process preloaded (wall)"),
    ("exec_storm", "exec_storm_cpu_ms", "exec storm: CPU time of the whole process tree"),
    ("thread_waves", "thread_waves_seconds", "shape: thread waves (mixed sizes, cross-thread frees)"),
    ("prodcons", "prodcons_mobj_per_s", "shape: producer/consumer batches"),
    ("medium_sizes", "medium_sizes_mops_per_s", "shape: medium sizes (65 % of calls 1..32 KiB)"),
    ("server_churn", "server_churn_mops_per_s", "shape: server churn (workers replaced)"),
]

# The shapes of issue 20: workload -> (headline metric, label).
SHAPES = {
    "thread_waves": ("thread_waves_seconds", "thread waves"),
    "prodcons": ("prodcons_mobj_per_s", "producer/consumer batches"),
    "medium_sizes": ("medium_sizes_mops_per_s", "medium sizes"),
    "server_churn": ("server_churn_mops_per_s", "server churn"),
}
SHAPE_LIMIT = 1.15        # no shape worse than this against the fastest anchor
SHAPE_GEOMEAN_LIMIT = 1.0
SYS_LIMIT_VS_MIMALLOC = 2.0


def _rows(results: dict, workload: str) -> dict:
    return results.get("workloads", {}).get(workload, {}).get("rows", {})


def _metric(results: dict, workload: str, allocator: str, metric: str) -> dict | None:
    row = _rows(results, workload).get(allocator)
    if not row or row.get("status") != "ok":
        return None
    return row["metrics"].get(metric)


def _target(what, value, goal, met, note=""):
    return {"what": what, "measured": value, "goal": goal, "met": met, "note": note}


def evaluate_targets(results: dict) -> list[dict]:
    """Every ratio the issue sets a target for, for the agent with pools."""
    targets = []

    def ratio_target(what, workload, metric, ref, limit):
        m = _metric(results, workload, "agent", metric)
        if m is None or ref not in m.get("ratio_vs", {}):
            targets.append(_target(what, None, f"<= {limit:.2f}x {ref.replace('_', ' ')}", None, "not measured"))
            return
        r = m["ratio_vs"][ref]
        anchor = results["workloads"][workload]["fastest_anchor"].get(metric, {}).get("anchor", "")
        note = f"fastest anchor: {anchor}" if ref == "fastest_anchor" else ""
        targets.append(_target(what, round(r, 3), f"<= {limit:.2f}x {ref.replace('_', ' ')}", r <= limit, note))

    ratio_target("single-thread pair latency (geomean of size classes)", "pair_latency", "pair_ns_geomean",
                 "fastest_anchor", 1.0)
    sizes = sorted({m for row in _rows(results, "pair_latency").values() if row.get("status") == "ok"
                    for m in row["metrics"] if m.startswith("pair_ns@")}, key=lambda m: int(m.split("@")[1]))
    for m in sizes:
        ratio_target(f"single-thread pair latency, {m.split('@')[1]} B", "pair_latency", m, "fastest_anchor", 1.0)
    ratio_target("cross-thread free", "cross_free", "cross_free_ns", "mimalloc", 1.0)
    ratio_target("peak RSS, fixed live set", "rss", "peak_rss_kib", "glibc", 1.15)
    ratio_target("peak RSS, larson", "larson", "larson_peak_rss_kib", "glibc", 1.15)
    ratio_target("exec storm (bash starting /bin/true, every process preloaded)", "exec_storm", "exec_storm_ms", "glibc", 1.3)
    for pname, prog in results.get("real_programs", {}).items():
        if not isinstance(prog, dict) or "rows" not in prog:
            continue
        if "overhead_percent" in prog:
            o = prog["overhead_percent"]
            targets.append(_target(f"real program: {pname} ({prog['metric']})", round(o, 2), "<= 2 % overhead", o <= 2.0))
        else:
            targets.append(_target(f"real program: {pname}", None, "<= 2 % overhead", None, "a run failed"))
    shape_ratios = []
    for workload, (metric, label) in SHAPES.items():
        if workload not in results.get("workloads", {}):
            continue
        ratio_target(f"shape: {label}", workload, metric, "fastest_anchor", SHAPE_LIMIT)
        if targets[-1]["measured"] is not None:
            shape_ratios.append(targets[-1]["measured"])
        if workload == "thread_waves":   # the shape whose system time the issue measured (1.6 s vs 0.02 s)
            ratio_target(f"shape: {label}, system time", workload, f"{workload}_sys_s", "mimalloc", SYS_LIMIT_VS_MIMALLOC)
    if shape_ratios:
        g = math.prod(shape_ratios) ** (1.0 / len(shape_ratios))
        complete = len(shape_ratios) == len(SHAPES)
        targets.append(_target("shapes: geometric mean of the agent's ratios", round(g, 3),
                               f"<= {SHAPE_GEOMEAN_LIMIT:.2f}x fastest anchor", g <= SHAPE_GEOMEAN_LIMIT if complete else None,
                               "" if complete else f"only {len(shape_ratios)} of {len(SHAPES)} shapes measured"))
    seed = results.get("seed", {})
    for metric, better in (("acquire_ns", "lower"), ("release_ns", "lower"), ("ops_per_s", "higher")):
        m = _metric(results, "pool_figure", "agent", metric)
        goal = seed[metric]
        shown = f"{goal / 1e6:.0f} M" if metric == "ops_per_s" else f"{goal} ns"
        if m is None:
            targets.append(_target(f"seed figure: {metric}", None, f"{'<=' if better == 'lower' else '>='} {shown} (seed)",
                                   None, "not measured"))
            continue
        v = m["median"]
        met = v <= goal if better == "lower" else v >= goal
        targets.append(_target(f"seed figure: {metric}", round(v, 3), f"{'<=' if better == 'lower' else '>='} {shown} (seed)", met))
    return targets


# ---------------------------------------------------------------------------------------------
def _fmt(value: float, unit: str) -> str:
    if unit == "ops/s":
        return f"{value / 1e6:.1f} M"
    if unit == "KiB":
        return f"{value / 1024:.1f} MiB"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def _cell(results, workload, allocator, metric, unit) -> str:
    row = _rows(results, workload).get(allocator)
    if row is None:
        return "–"
    if row.get("status") != "ok":
        return row.get("status", "?")
    m = row["metrics"].get(metric)
    return _fmt(m["median"], unit) if m else "–"


def _unit(results, workload, metric) -> str:
    return results["workloads"].get(workload, {}).get("fastest_anchor", {}).get(metric, {}).get("unit", "")


def _ratio(results, workload, allocator, metric) -> str:
    m = _metric(results, workload, allocator, metric)
    if not m or "ratio_vs" not in m:
        return "–"
    return f"{m['ratio_vs']['fastest_anchor']:.2f}x"


def markdown(results: dict) -> str:
    mach = results["machine"]
    out = [f"# numa-agent benchmarks ({results['mode']} run)", ""]
    out.append(f"`{results['command']}` on {results['date_utc']}, {results['repetitions']} repetitions per "
               f"allocator, interleaved; medians shown (min/median/max in results.json).")
    out.append("")
    out.append(f"Machine: {mach['cpu_model']}, {mach['cpus']} CPUs, {mach['numa_nodes']} NUMA node(s), "
               f"{mach['memory_gib']} GiB, {mach['kernel']}, {mach['os']}"
               f"{', ' + mach['virtualization'] + ' guest' if mach.get('virtualization') and mach['virtualization'] != 'none' else ''}"
               f"; load average {mach.get('loadavg_start', '?')} at the start, {mach.get('loadavg_end', '?')} at the end"
               f"; numa-agent {mach['git_commit']}{' (uncommitted agent changes)' if mach.get('git_dirty') else ''}.")
    out.append("")
    # Targets
    out += ["## Targets (agent with pools)", "", "| What | Measured | Goal | Met |", "|---|---|---|---|"]
    for t in results.get("targets", []):
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        measured = "–" if t["measured"] is None else (f"{t['measured']:+.2f} %" if "overhead" in t["goal"] else
                                                       f"{t['measured']:.3g}" + ("x" if "x " in t["goal"] else ""))
        note = f" ({t['note']})" if t.get("note") else ""
        out.append(f"| {t['what']}{note} | {measured} | {t['goal']} | {met} |")
    out.append("")
    # Main table
    header = ["What", "unit"] + [COLUMN_TITLES.get(a, a) for a in ALLOCATORS] + ["agent ÷ fastest anchor"]
    out += ["## Allocator workloads", "",
            "Cost ratios: above 1.0 is slower (or bigger) than the fastest of glibc, jemalloc, tcmalloc and mimalloc.",
            "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def table_row(workload, metric, label):
        unit = _unit(results, workload, metric) or ""
        cells = [_cell(results, workload, a, metric, unit) for a in ALLOCATORS]
        shown_unit = {"KiB": "MiB", "ops/s": "ops/s"}.get(unit, unit)
        out.append(f"| {label} | {shown_unit} | " + " | ".join(cells) + f" | {_ratio(results, workload, 'agent', metric)} |")

    for workload, metric, label in HEADLINE:
        table_row(workload, metric, label)
    scaling = sorted({m for r in _rows(results, "scaling").values() if r.get("status") == "ok" for m in r["metrics"]},
                     key=lambda m: int(m.split("@")[1]))
    for m in scaling:
        table_row("scaling", m, f"{m.split('@')[1]}-thread scaling, aggregate")
    for m in _callgrind_metrics(results):
        kind, size = m.split("@")
        table_row("fastpath_callgrind", m, f"callgrind: {kind.split('_')[0]}({size}) instructions, fast path")
    for m in sorted({m for r in _rows(results, "pair_latency").values() if r.get("status") == "ok"
                     for m in r["metrics"] if "@" in m}, key=lambda m: int(m.split("@")[1])):
        table_row("pair_latency", m, f"pair latency {m.split('@')[1]} B")
    out.append("")
    out += _shape_table(results)
    if results.get("fastpath_callgrind_skipped"):
        out += [f"callgrind: skipped ({results['fastpath_callgrind_skipped']})", ""]
    # Real programs
    out += ["## Real programs, with and without the agent", ""]
    progs = results.get("real_programs", {})
    if "skipped" in progs:
        out += [f"Skipped: {progs['skipped']}.", ""]
    else:
        out += ["Overhead: the agent's median against glibc's (the target), then best run against best run, then "
                "median CPU time (user + system, less disturbed by other work on the machine); `pin=none` is the agent with NUMA_AGENT_PIN=none, to tell the cost of pinning from the cost of the pools.",
                "", "| Program | metric | glibc (min / median / max) | agent (min / median / max) | agent overhead "
                "| best runs | CPU time | agent, pin=none (median) | its overhead |", "|---|---|---|---|---|---|---|---|---|"]
        for pname, p in progs.items():
            if "rows" not in p:
                out.append(f"| {pname} | | skipped: {p.get('skipped', '')} | | | | | | |")
                continue
            f = (lambda v: f"{v / 1000:.1f} k") if p["metric"] == "requests_per_s" else (lambda v: f"{v:.3f}")
            cells = []
            for a in ("glibc", "agent", "agent-nopin"):
                row = p["rows"].get(a)
                if row is None:
                    cells.append("–")
                elif row["status"] != "ok":
                    cells.append(f"failed: {row['reason']}")
                else:
                    s_ = row["metrics"][p["metric"]]
                    cells.append(f"{f(s_['median'])}" if a == "agent-nopin" else
                                 f"{f(s_['min'])} / **{f(s_['median'])}** / {f(s_['max'])}")
            pct = lambda k: f"{p[k]:+.2f} %" if k in p else "–"  # noqa: E731
            out.append(f"| {pname}: {p['what']} | {p['metric'].replace('_', ' ')} | {cells[0]} | {cells[1]} | "
                       f"{pct('overhead_percent')} | {pct('overhead_percent_best_runs')} | {pct('overhead_percent_cpu')} | "
                       f"{cells[2]} | {pct('overhead_percent_nopin')} |")
        out.append("")
    # Locality
    out += ["## Locality in a 2-node guest", ""]
    loc = results.get("locality", {})
    if "skipped" in loc:
        out += [f"Skipped: {loc['skipped']}.", ""]
    else:
        out += [f"Scenario: {loc['scenario']}.", "",
                "| Run | pages on the thread's node after allocation | after the work phase | hint faults | local hint faults | local share |",
                "|---|---|---|---|---|---|"]
        for name, row in loc["rows"].items():
            who = "with the agent" if name == "agent" else "without (glibc)"
            if row["status"] != "ok":
                out.append(f"| {who} | failed: {row['reason']} | | | | |")
                continue
            pct = lambda v: "–" if v is None else f"{v * 100:.1f} %"  # noqa: E731
            frac, end = pct(row["local_page_fraction"]), pct(row["local_page_fraction_after_work"])
            share = pct(row["hint_fault_local_share"])
            out.append(f"| {who} | {frac} | {end} | {row['hint_faults']:.0f} | "
                       f"{row['hint_faults_local']:.0f} | {share} |")
        out.append("")
    big = results.get("big_machines", {})
    out += ["## Per-process cost on big machines (recorded sysfs trees, HWLOC_FSROOT)", ""]
    if "rows" not in big:
        out += [f"Skipped: {big.get('skipped', 'not run')}.", ""]
    else:
        out += [f"The agent with `NUMA_AGENT_PIN=none` (a recorded machine's CPUs are not this one's); medians of {big['runs']} runs. "
                "hwloc's opens are what the agent's start-up did before issue 16 (`lstopo-no-graphics` on the same tree).", "",
                "| Machine | nodes | CPUs | sysfs files at start-up | ... at the first thread | hwloc's discovery | start-up ms (min / median / max) | first pthread_create + join µs |",
                "|---|---|---|---|---|---|---|---|"]
        for name, row in big["rows"].items():
            if row["status"] != "ok":
                out.append(f"| {name} | failed: {row['reason']} | | | | | | |")
                continue
            st, fc = row["startup_ms"], row["first_create_join_us"]
            out.append(f"| {name} | {row['nodes']} | {row['cpus']} | {row['startup_sysfs_opens']} | {row['first_thread_sysfs_opens']} | "
                       f"{row.get('hwloc_sysfs_opens', '–')} | {st['min']:.2f} / {st['median']:.2f} / {st['max']:.2f} | "
                       f"{fc['median']:.0f} |")
        out.append("")
    unavailable = [a for a in results["allocators"] if not a["available"]]
    if unavailable:
        out += ["Not measured: " + "; ".join(f"{a['name']} ({a['reason']})" for a in unavailable) + ".", ""]
    failed = [(w, a, r["reason"]) for w, wl in results["workloads"].items() for a, r in wl["rows"].items()
              if r.get("status") == "failed"]
    if failed:
        out += ["Failed runs:", ""] + [f"- {w} under {a}: {reason}" for w, a, reason in failed] + [""]
    sections = ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in results.get("section_seconds", {}).items())
    out.append(f"Total time: {results.get('elapsed_s', 0):.0f} s ({sections}).")
    return "\n".join(out) + "\n"


def _shape_table(results) -> list[str]:
    """Per shape and allocator: headline, user and system CPU seconds, CPUs kept busy, voluntary
    context switches (waits) and peak RSS, medians."""
    present = [w for w in SHAPES if w in results.get("workloads", {})]
    if not present:
        return []
    out = ["## Shapes (issue 20): where the time goes", "",
           "Medians. user/sys: CPU seconds of the whole process (getrusage); busy: CPU seconds per wall second; "
           "waits: voluntary context switches.", "",
           "| Shape | allocator | headline | ÷ fastest anchor | user s | sys s | sys ÷ mimalloc | busy CPUs | waits | peak RSS |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for w in present:
        metric, label = SHAPES[w]
        unit = _unit(results, w, metric)
        for a in ALLOCATORS:
            row = _rows(results, w).get(a)
            if not row or row.get("status") != "ok":
                out.append(f"| {label} | {COLUMN_TITLES.get(a, a)} | {row.get('status', '–') if row else '–'} | | | | | | | |")
                continue
            m = row["metrics"]
            med = lambda k: m[k]["median"] if k in m else float("nan")  # noqa: E731
            sys_ratio = m.get(f"{w}_sys_s", {}).get("ratio_vs", {}).get("mimalloc")
            out.append(f"| {label} | {COLUMN_TITLES.get(a, a)} | {_fmt(med(metric), unit)} {unit} | {_ratio(results, w, a, metric)} | "
                       f"{med(w + '_user_s'):.3f} | {med(w + '_sys_s'):.3f} | "
                       f"{'–' if sys_ratio is None else f'{sys_ratio:.2f}x'} | {med(w + '_cpus_busy'):.2f} | "
                       f"{med(w + '_voluntary_switches'):.0f} | {med(w + '_peak_rss_kib') / 1024:.1f} MiB |")
    out.append("")
    return out


def _callgrind_metrics(results):
    ms = {m for r in _rows(results, "fastpath_callgrind").values() if r.get("status") == "ok"
          for m in r["metrics"] if not m.startswith("loop_")}
    return sorted(ms, key=lambda m: (int(m.split("@")[1]), m))


# ---------------------------------------------------------------------------------------------
def svg(results: dict) -> str:
    """Grouped horizontal bars: each allocator's cost ratio against the fastest anchor, per metric."""
    short = {"pair_ns_geomean": "1-thread pair latency, fastest chunk", "pair_mean_ns_geomean": "1-thread pair latency, all chunks"}
    groups = [(w, m, short.get(m, label.split(" (")[0])) for w, m, label in HEADLINE if w in results["workloads"]]
    groups += [("scaling", m, f"{m.split('@')[1]}-thread scaling")
               for m in sorted({m for r in _rows(results, "scaling").values() if r.get("status") == "ok"
                                for m in r["metrics"]}, key=lambda m: int(m.split("@")[1]))]
    groups += [("fastpath_callgrind", m, f"callgrind {m.split('_')[0]}({m.split('@')[1]} B)")
               for m in _callgrind_metrics(results) if m.endswith("@64")]
    bar_h, gap, left, right, top = 9, 14, 300, 60, 70
    max_ratio = 3.0
    plot_w = 520
    height = top + len(groups) * (len(ALLOCATORS) * bar_h + gap) + 40
    width = left + plot_w + right + 150
    mach = results["machine"]
    x_of = lambda r: left + plot_w * min(r, max_ratio) / max_ratio  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="10" y="20" font-size="14" font-weight="bold">numa-agent vs glibc, jemalloc, tcmalloc, mimalloc: '
             f'cost ratio vs the fastest anchor (lower is better)</text>',
             f'<text x="10" y="38">{html.escape(mach["cpu_model"])}, {mach["cpus"]} CPUs, {mach["numa_nodes"]} NUMA node(s), '
             f'{html.escape(mach["kernel"])}; {results["mode"]} run, median of {results["repetitions"]}, {results["date_utc"]}</text>']
    for tick in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0):
        x = x_of(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{height - 35}" '
                     f'stroke="{"#333" if tick == 1.0 else "#ddd"}" stroke-width="{1.5 if tick == 1.0 else 1}"/>')
        parts.append(f'<text x="{x:.1f}" y="{top - 12}" text-anchor="middle">{tick:.1f}x</text>')
    y = top
    for workload, metric, label in groups:
        parts.append(f'<text x="{left - 8}" y="{y + len(ALLOCATORS) * bar_h / 2 + 4:.1f}" text-anchor="end">{html.escape(label)}</text>')
        for a in ALLOCATORS:
            m = _metric(results, workload, a, metric)
            if m and "ratio_vs" in m:
                r = m["ratio_vs"]["fastest_anchor"]
                parts.append(f'<rect x="{left}" y="{y}" width="{x_of(r) - left:.1f}" height="{bar_h - 1}" fill="{COLORS[a]}">'
                             f'<title>{a}: {r:.2f}x</title></rect>')
                parts.append(f'<text x="{x_of(r) + 3:.1f}" y="{y + bar_h - 1}" font-size="8">{r:.2f}x</text>')
            y += bar_h
        y += gap
    lx = left + plot_w + 20
    for i, a in enumerate(ALLOCATORS):
        ly = top + i * 18
        parts.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{COLORS[a]}"/>')
        parts.append(f'<text x="{lx + 18}" y="{ly + 10}">{html.escape(COLUMN_TITLES.get(a, a))}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
