"""The benchmark's figures: latencies per marker, CPU and memory, ratios, targets, table."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psutil
from _baseline import Notification
from _load import Marker
from _measure import Memory, percentiles

__all__ = [
    "CONFIG_NOTE",
    "baseline_figures",
    "daemon_idle_target",
    "one_n",
    "steward_figures",
    "table",
    "targets",
]

CONFIG_NOTE = (
    "defaults except: notify.rate_per_minute=10000, policy.cooldown=0, policy.group_wait=0, "
    "policy.group_interval=0, summary.interval=0"
)

TARGET_N = 50
# The performance issue's targets at N = 50 and the default settings.
TARGET_EVENT_P99 = 0.6
TARGET_NOTIFY_P99 = 0.7
TARGET_CPU = 12.0
TARGET_USS = 14.0
TARGET_TOTAL_MIB = 700.0
LINEAR_EXPONENT = 1.15
_MARK = "bench marker "
_MEM = ("uss", "pss", "rss")


def _first_hits(markers: Mapping[str, Marker], items: Iterable[tuple[float, str]]
                ) -> tuple[dict[str, float], dict[str, int]]:
    """uid -> earliest time an item mentioning it was seen, and how many items mention it."""
    first: dict[str, float] = {}
    count: dict[str, int] = {}
    for ts, text in items:
        for uid in _uids_in(text, markers):
            count[uid] = count.get(uid, 0) + 1
            first[uid] = min(ts, first.get(uid, ts))
    return first, count


def _uids_in(text: str, markers: Mapping[str, Marker]) -> list[str]:
    """The uids of the markers that `text` mentions."""
    at = text.find(_MARK)
    if at >= 0:
        uid = text[at + len(_MARK):at + len(_MARK) + 32]
        if uid in markers:
            return [uid]
    return [u for u in markers if u in text]


def _kind(pid: int) -> str:
    """What an unnamed Steward process is: a tmux client (control mode), or something else."""
    try:
        name = psutil.Process(pid).name()
    except psutil.Error:
        return "exited during the window"
    return "tmux clients" if name.startswith("tmux") else f"other ({name})"


def _latency(markers: Mapping[str, Marker], first: Mapping[str, float],
             phase: str | None = None) -> dict[str, Any]:
    values = [first[u] - m.t_write for u, m in markers.items()
              if u in first and (phase is None or m.phase == phase)]
    return percentiles(values)


def _mem_stats(mems: Sequence[Memory]) -> dict[str, Any]:
    if not mems:
        return {"count": 0}
    uss = [m.uss for m in mems]
    rss = [m.rss for m in mems]
    pss = [m.pss for m in mems]
    return {
        "count": len(mems),
        "uss_mean_mib": round(sum(uss) / len(uss), 2),
        "uss_max_mib": round(max(uss), 2),
        "rss_mean_mib": round(sum(rss) / len(rss), 2),
        "rss_max_mib": round(max(rss), 2),
        "uss_total_mib": round(sum(uss), 1),
        "pss_total_mib": round(sum(pss), 1),
        "rss_total_mib": round(sum(rss), 1),
    }


def steward_figures(*, plan_n: int, ready_seconds: float, cpu: Mapping[str, float],
                    window: float, tmux_runs_per_s: float, memory: Mapping[int, Memory],
                    tmux_memory: Mapping[int, Memory], watchers: Mapping[str, list[int]],
                    markers: Mapping[str, Marker], events: Sequence[Mapping[str, Any]],
                    calls: Sequence[tuple[float, str]], pm_seen: Mapping[str, float],
                    deliveries: Sequence[Mapping[str, Any]], mock_calls: int,
                    cpu_by_pid: Mapping[int, tuple[float, float]],
                    roots: Mapping[str, int], machine_cpu: float) -> dict[str, Any]:
    """Every figure of Steward's phase at one N."""
    ev_first, ev_count = _first_hits(markers, ((e["ts"], e["text"]) for e in events))
    st_first, _ = _first_hits(markers, ((e["stored_at"], e["text"]) for e in events))
    call_first, call_count = _first_hits(
        markers, calls)
    pm_first = {u: t for u, t in pm_seen.items() if u in markers}
    role_of = {pid: name for name, pids in watchers.items() for pid in pids}
    role_of.update({pid: name for name, pid in roots.items()})
    cpu_roles: dict[str, dict[str, float]] = {}
    for pid, (own, kids) in cpu_by_pid.items():
        role = role_of.get(pid) or _kind(pid)
        role = "session" if role.startswith("session:") else role
        acc = cpu_roles.setdefault(role, {"processes": 0, "own_pct": 0.0, "children_pct": 0.0})
        acc["processes"] += 1
        acc["own_pct"] += own
        acc["children_pct"] += kids
    by_role: dict[str, list[Memory]] = {}
    for pid, mem in memory.items():
        role = role_of.get(pid, "other")
        by_role.setdefault("session" if role.startswith("session:") else role, []).append(mem)
    marker_events = [e for e in events if _uids_in(e["text"], markers)]
    latency_markers = [u for u, m in markers.items() if m.phase == "steward-latency"]
    channels: dict[str, int] = {}
    for d in deliveries:
        channels[d["channel"]] = channels.get(d["channel"], 0) + 1
    return {
        "ready_seconds": round(ready_seconds, 1),
        "cpu_pct": round(cpu["steward"], 2),
        "tmux_cpu_pct": round(cpu["tmux"], 2),
        "cpu_window_s": window,
        "machine_cpu_pct": round(machine_cpu, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpu_by_role": {r: {k: round(v, 2) for k, v in acc.items()}
                        for r, acc in sorted(cpu_roles.items())},
        "tmux_runs_per_s": round(tmux_runs_per_s, 1),
        "memory": {
            "session_assistant": _mem_stats(by_role.get("session", [])),
            "by_role": {r: _mem_stats(m) for r, m in sorted(by_role.items())},
            "total": _mem_stats(list(memory.values())),
            "processes": len(memory),
            "tmux_server": _mem_stats(list(tmux_memory.values())),
        },
        "latency_s": {
            "write_to_event": _latency(markers, ev_first),
            "write_to_stored": _latency(markers, st_first),
            "write_to_notify": _latency(markers, call_first),
            "write_to_pm_pane": _latency(markers, pm_first, "steward-latency"),
        },
        "markers": {
            "written": len(markers),
            "caught": len(ev_first),
            "notified": len(call_first),
            "pm_pane_checked": len(latency_markers),
            "pm_pane_shown": sum(1 for u in latency_markers if u in pm_first),
            "events": len(marker_events),
            "extra_events": sum(c - 1 for c in ev_count.values()),
            "event_rules": sorted({f"{e['assistant']}/{e['rule']}" for e in marker_events}),
            "repeated_notifications": sum(c - 1 for c in call_count.values()),
        },
        "notify_calls": len(calls),
        "notify_calls_in_mock_since_window": mock_calls,
        "other_notify_calls": len(calls) - sum(call_count.values()),
        "events_total": len(events),
        "deliveries_by_channel": channels,
        "sessions": plan_n,
    }


def baseline_figures(*, cpu: Mapping[str, float], tmux_runs_per_s: float,
                     memory: Mapping[int, Memory], tmux_memory: Mapping[int, Memory],
                     markers: Mapping[str, Marker], notifications: Sequence[Notification],
                     loops: int, machine_cpu: float) -> dict[str, Any]:
    """Every figure of the baseline's phase at one N."""
    first, count = _first_hits(markers, ((n.ts, n.text) for n in notifications))
    return {
        "cpu_pct": round(cpu["baseline"], 2),
        "tmux_cpu_pct": round(cpu["tmux"], 2),
        "tmux_runs_per_s": round(tmux_runs_per_s, 1),
        "machine_cpu_pct": round(machine_cpu, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "loops": loops,
        "memory": {"loop": _mem_stats(list(memory.values())),
                   "total": _mem_stats(list(memory.values())),
                   "tmux_server": _mem_stats(list(tmux_memory.values()))},
        "latency_s": {"write_to_notify": _latency(markers, first)},
        "markers": {
            "written": len(markers),
            "caught": len(first),
            "notified": len(first),
            "repeated_notifications": sum(c - 1 for c in count.values()),
        },
        "notifications": len(notifications),
        "other_notifications": len(notifications) - sum(count.values()),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def one_n(*, plan: Mapping[str, Any], steward: dict[str, Any], baseline: dict[str, Any],
          wrapper_cpu_per_run: float, tmux_load_only: float) -> dict[str, Any]:
    """One N: both phases, CPU net of the counting wrapper, the cost each watcher adds, ratios.

    `tmux_load_only` is the tmux server's CPU with the workload running and nothing watching:
    what a watcher adds to the server is its CPU above that.
    """
    for side in (steward, baseline):
        wrapper = 100.0 * side["tmux_runs_per_s"] * wrapper_cpu_per_run
        side["wrapper_cpu_pct"] = round(wrapper, 2)
        side["total_cpu_pct"] = round(side["cpu_pct"] + side["tmux_cpu_pct"], 2)
        side["total_cpu_pct_net"] = round(max(0.0, side["total_cpu_pct"] - wrapper), 2)
        added = max(0.0, side["tmux_cpu_pct"] - tmux_load_only)
        side["added_cpu_pct"] = round(max(0.0, side["cpu_pct"] + added - wrapper), 2)
    s_lat, b_lat = steward["latency_s"], baseline["latency_s"]["write_to_notify"]
    ratios = {
        "cpu_with_tmux": _ratio(steward["total_cpu_pct"], baseline["total_cpu_pct"]),
        "cpu_with_tmux_net": _ratio(steward["total_cpu_pct_net"], baseline["total_cpu_pct_net"]),
        "cpu_own": _ratio(steward["cpu_pct"], baseline["cpu_pct"]),
        "cpu_added": _ratio(steward["added_cpu_pct"], baseline["added_cpu_pct"]),
        "tmux_runs_per_s": _ratio(steward["tmux_runs_per_s"], baseline["tmux_runs_per_s"]),
        "memory_rss_total": _ratio(steward["memory"]["total"].get("rss_total_mib"),
                                   baseline["memory"]["total"].get("rss_total_mib")),
        "memory_pss_total": _ratio(steward["memory"]["total"].get("pss_total_mib"),
                                   baseline["memory"]["total"].get("pss_total_mib")),
        "memory_uss_total": _ratio(steward["memory"]["total"].get("uss_total_mib"),
                                   baseline["memory"]["total"].get("uss_total_mib")),
        "notify_p50": _ratio(s_lat["write_to_notify"]["p50"], b_lat["p50"]),
        "notify_p99": _ratio(s_lat["write_to_notify"]["p99"], b_lat["p99"]),
        "event_p50": _ratio(s_lat["write_to_event"]["p50"], b_lat["p50"]),
        "event_p99": _ratio(s_lat["write_to_event"]["p99"], b_lat["p99"]),
        "repeated_notifications": _ratio(steward["markers"]["repeated_notifications"],
                                         baseline["markers"]["repeated_notifications"]),
    }
    return {"n": plan["n"], "panes": 2 * plan["n"], "plan": dict(plan),
            "tmux_load_only_cpu_pct": round(tmux_load_only, 2), "steward": steward,
            "baseline": baseline, "ratios": ratios}


def _exponent(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(cost) against log(N)."""
    pts = [(math.log(n), math.log(c)) for n, c in points if n > 0 and c > 0]
    if len({x for x, _ in pts}) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return round(sum((x - mx) * (y - my) for x, y in pts) / sxx, 3)


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "met" if ok else "MISSED"


def daemon_idle_target(idle: Mapping[str, Any]) -> dict[str, Any]:
    """The escalation daemon's idle CPU with the big store against its target."""
    store, full = idle["store"], idle["full"]["cpu_pct"]
    size = f"{store['events'] / 1000:g} k events, {store['open_errors'] / 1000:g} k open"
    return {"value": full, "target": f"<= {idle['target_pct']} ({size})",
            "empty_store": idle["empty"]["cpu_pct"], "ratio": idle["ratio"],
            "verdict": _verdict(full <= idle["target_pct"])}


def targets(runs: Sequence[Mapping[str, Any]],
            daemon_idle: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The targets at N=50, whether cost grows linearly or better in N (N >= 10), and the
    escalation daemon's idle CPU with a big store (when it was measured)."""
    out: dict[str, Any] = {}
    at = next((r for r in runs if r["n"] == TARGET_N), None)
    if at is not None:
        s, b = at["steward"], at["baseline"]
        p99 = s["latency_s"]["write_to_notify"]["p99"]
        uss = s["memory"]["session_assistant"].get("uss_max_mib")
        total = s["memory"]["total"].get("pss_total_mib")
        event_p99 = s["latency_s"]["write_to_event"]["p99"]
        out["event_p99_s"] = {"value": event_p99, "target": f"<= {TARGET_EVENT_P99}",
                              "verdict": _verdict(None if event_p99 is None
                                                  else event_p99 <= TARGET_EVENT_P99)}
        out["notify_p99_s"] = {"value": p99, "target": f"<= {TARGET_NOTIFY_P99}",
                               "verdict": _verdict(None if p99 is None
                                                   else p99 <= TARGET_NOTIFY_P99)}
        out["cpu_pct_with_tmux"] = {
            "value": s["added_cpu_pct"], "with_whole_tmux_server": s["total_cpu_pct_net"],
            "target": f"<= {TARGET_CPU} (own + what it adds to the tmux server)",
            "verdict": _verdict(s["added_cpu_pct"] <= TARGET_CPU)}
        out["cpu_below_baseline"] = {
            "value": s["added_cpu_pct"], "baseline": b["added_cpu_pct"],
            "verdict": _verdict(s["added_cpu_pct"] < b["added_cpu_pct"])}
        out["uss_per_session_assistant_mib"] = {
            "value": uss, "target": f"<= {TARGET_USS} (max over assistants)",
            "verdict": _verdict(None if uss is None else uss <= TARGET_USS)}
        out["total_memory_mib"] = {
            "value": total, "uss": s["memory"]["total"].get("uss_total_mib"),
            "rss": s["memory"]["total"].get("rss_total_mib"),
            "target": f"<= {TARGET_TOTAL_MIB:.0f} (sum of PSS: shared pages counted once)",
            "verdict": _verdict(None if total is None else total <= TARGET_TOTAL_MIB)}
    survived = [r["steward"].get("tmux_server_survived") for r in runs]
    out["tmux_server_survived"] = {
        "value": f"{sum(1 for v in survived if v)}/{len(survived)} runs",
        "verdict": _verdict(None if None in survived else all(survived))}
    big = [r for r in runs if r["n"] >= 10]
    cpu_exp = _exponent([(r["n"], r["steward"]["added_cpu_pct"]) for r in big])
    mem_exp = _exponent([(r["n"], r["steward"]["memory"]["total"].get("pss_total_mib", 0.0))
                         for r in big])
    ok = None if cpu_exp is None or mem_exp is None else max(cpu_exp, mem_exp) <= LINEAR_EXPONENT
    out["linear_in_n"] = {"cpu_exponent": cpu_exp, "memory_exponent": mem_exp,
                          "target": f"exponent <= {LINEAR_EXPONENT} over N >= 10",
                          "verdict": _verdict(ok)}
    if daemon_idle is not None:
        out["daemon_idle_cpu_pct"] = daemon_idle_target(daemon_idle)
    return out


def _f(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _pct(lat: Mapping[str, Any]) -> str:
    return "/".join(_f(lat.get(k)) for k in ("p50", "p95", "p99")) + f" (n={lat.get('n', 0)})"


def table(result: Mapping[str, Any]) -> str:
    """The printed report: one block per N, then the targets."""
    lines = [f"tmux wrapper ({result.get('wrapper')}) costs "
             f"{result.get('wrapper_cpu_ms_per_tmux_run')} ms CPU a run; 'net' CPU excludes it.",
             f"Steward config: {CONFIG_NOTE}."]
    row = "  {:<40} {:>26} {:>26} {:>8}"
    for r in result["runs"]:
        s, b, q = r["steward"], r["baseline"], r["ratios"]
        sm, bm = s["memory"], b["memory"]
        sl = s["latency_s"]
        lines += ["", f"N={r['n']} sessions ({r['panes']} panes), ready in "
                  f"{s['ready_seconds']} s", row.format("", "Steward", "baseline", "S/B")]
        lines += [
            row.format("write->event p50/p95/p99 s", _pct(sl["write_to_event"]),
                       _pct(b["latency_s"]["write_to_notify"]), _f(q["event_p99"])),
            row.format("write->stored p50/p95/p99 s", _pct(sl["write_to_stored"]), "", ""),
            row.format("write->Notify p50/p95/p99 s", _pct(sl["write_to_notify"]),
                       _pct(b["latency_s"]["write_to_notify"]), _f(q["notify_p99"])),
            row.format("write->PM pane p50/p95/p99 s", _pct(sl["write_to_pm_pane"]), "", ""),
            row.format("CPU % of a core, own processes", _f(s["cpu_pct"]), _f(b["cpu_pct"]),
                       _f(q["cpu_own"])),
            row.format("CPU % tmux server", _f(s["tmux_cpu_pct"]), _f(b["tmux_cpu_pct"]), ""),
            row.format("CPU % with tmux (raw)", _f(s["total_cpu_pct"]), _f(b["total_cpu_pct"]),
                       _f(q["cpu_with_tmux"])),
            row.format("CPU % with tmux (net of wrapper)", _f(s["total_cpu_pct_net"]),
                       _f(b["total_cpu_pct_net"]), _f(q["cpu_with_tmux_net"])),
            row.format("CPU % added (own + tmux above load-only, net)",
                       _f(s["added_cpu_pct"]), _f(b["added_cpu_pct"]), _f(q["cpu_added"])),
            row.format("  tmux server with the workload only", _f(r["tmux_load_only_cpu_pct"]),
                       _f(r["tmux_load_only_cpu_pct"]), ""),
            row.format("whole machine CPU % in the window (all load)",
                       _f(s["machine_cpu_pct"], 1), _f(b["machine_cpu_pct"], 1), ""),
            row.format("tmux processes started/s", _f(s["tmux_runs_per_s"], 1),
                       _f(b["tmux_runs_per_s"], 1), _f(q["tmux_runs_per_s"])),
            row.format("memory total USS/PSS/RSS MiB",
                       "/".join(_f(sm["total"].get(f"{k}_total_mib"), 0) for k in _MEM),
                       "/".join(_f(bm["total"].get(f"{k}_total_mib"), 0) for k in _MEM),
                       _f(q["memory_pss_total"])),
            row.format("per session assistant/loop USS mean/max",
                       f"{_f(sm['session_assistant'].get('uss_mean_mib'), 1)}/"
                       f"{_f(sm['session_assistant'].get('uss_max_mib'), 1)}",
                       f"{_f(bm['loop'].get('uss_mean_mib'), 1)}/"
                       f"{_f(bm['loop'].get('uss_max_mib'), 1)}", ""),
            row.format("per session assistant/loop RSS mean",
                       _f(sm["session_assistant"].get("rss_mean_mib"), 1),
                       _f(bm["loop"].get("rss_mean_mib"), 1), ""),
            row.format("tmux server RSS MiB", _f(sm["tmux_server"].get("rss_total_mib"), 1),
                       _f(bm["tmux_server"].get("rss_total_mib"), 1), ""),
            row.format("markers caught/written",
                       f"{s['markers']['caught']}/{s['markers']['written']}",
                       f"{b['markers']['caught']}/{b['markers']['written']}", ""),
            row.format("markers notified (desktop)", s["markers"]["notified"],
                       b["markers"]["notified"], ""),
            row.format("markers on PM pane/checked",
                       f"{s['markers']['pm_pane_shown']}/{s['markers']['pm_pane_checked']}",
                       "", ""),
            row.format("repeated notifications", s["markers"]["repeated_notifications"],
                       b["markers"]["repeated_notifications"], ""),
            row.format("extra events for one marker", s["markers"]["extra_events"], "", ""),
        ]
        roles = ", ".join(
            f"{role} {v['own_pct'] + v['children_pct']:.1f} ({v['processes']:.0f} proc, "
            f"{v['children_pct']:.1f} in children)" for role, v in s["cpu_by_role"].items())
        lines.append(f"  Steward CPU % by role: {roles}")
    idle = result.get("daemon_idle")
    if idle:
        st = idle["store"]
        lines += ["", f"Escalation daemon idle, % of a core over {idle['window_s']:g} s (own +"
                  f" children): empty store {_f(idle['empty']['cpu_pct'])}, {st['events']}"
                  f" events with {st['open_errors']} open errors {_f(idle['full']['cpu_pct'])},"
                  f" ratio {_f(idle['ratio'])} (store built in {st['build_seconds']} s)"]
    lines += ["", f"Targets at N={TARGET_N}:"]
    for name, t in result.get("targets_n50", {}).items():
        detail = ", ".join(f"{k}={v}" for k, v in t.items() if k != "verdict")
        lines.append(f"  {t['verdict']:<7} {name}: {detail}")
    return "\n".join(lines)
