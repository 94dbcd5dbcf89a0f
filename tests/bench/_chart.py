"""The benchmark's chart: latency p50/p99, CPU and total memory against N, Steward and baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after matplotlib.use: the backend comes first
from matplotlib.ticker import NullFormatter, ScalarFormatter

__all__ = ["draw"]


def _series(runs: Sequence[Mapping[str, Any]], *path: str) -> list[float]:
    out = []
    for r in runs:
        v: Any = r
        for key in path:
            v = v.get(key) if isinstance(v, Mapping) else None
        out.append(float("nan") if v is None else float(v))
    return out


def draw(runs: Sequence[Mapping[str, Any]], png: Path) -> None:
    """Three panels against N: latency, CPU % of one core, total memory; ValueError if no runs."""
    if not runs:
        raise ValueError("no runs to draw")
    ns = [r["n"] for r in runs]
    fig, (lat, cpu, mem) = plt.subplots(1, 3, figsize=(16, 5))
    for pct, style in (("p50", "-"), ("p99", "--")):
        lat.plot(ns, _series(runs, "steward", "latency_s", "write_to_notify", pct), "o" + style,
                 color="tab:blue", label=f"Steward write->Notify {pct}")
        lat.plot(ns, _series(runs, "steward", "latency_s", "write_to_event", pct), "^" + style,
                 color="tab:cyan", label=f"Steward write->event {pct}")
        lat.plot(ns, _series(runs, "steward", "latency_s", "write_to_pm_pane", pct),
                 "v" + style, color="tab:purple", label=f"Steward write->PM pane {pct}")
        lat.plot(ns, _series(runs, "baseline", "latency_s", "write_to_notify", pct), "s" + style,
                 color="tab:orange", label=f"baseline write->notify {pct}")
    lat.axhline(1.5, color="grey", lw=0.8, ls=":", label="target p99 1.5 s")
    lat.set(title="Detection latency", xlabel="sessions (N)", ylabel="seconds", xscale="log")
    lat.legend(fontsize=7)
    cpu.plot(ns, _series(runs, "steward", "total_cpu_pct_net"), "o-", color="tab:blue",
             label="Steward + tmux server")
    cpu.plot(ns, _series(runs, "steward", "added_cpu_pct"), "o:", color="tab:blue",
             label="Steward, own + added to tmux")
    cpu.plot(ns, _series(runs, "baseline", "added_cpu_pct"), "s:", color="tab:orange",
             label="baseline, own + added to tmux")
    cpu.plot(ns, _series(runs, "baseline", "total_cpu_pct_net"), "s-", color="tab:orange",
             label="baseline + tmux server")
    cpu.axhline(10.0, color="grey", lw=0.8, ls=":", label="target 10 %")
    cpu.set(title="CPU (net of the counting wrapper)", xlabel="sessions (N)",
            ylabel="% of one core", xscale="log")
    cpu.legend(fontsize=7)
    mem.plot(ns, _series(runs, "steward", "memory", "total", "rss_total_mib"), "o-",
             color="tab:blue", label="Steward, sum of RSS")
    mem.plot(ns, _series(runs, "steward", "memory", "total", "pss_total_mib"), "o--",
             color="tab:blue", label="Steward, sum of PSS")
    mem.plot(ns, _series(runs, "steward", "memory", "total", "uss_total_mib"), "o:",
             color="tab:blue", label="Steward, sum of USS")
    mem.plot(ns, _series(runs, "baseline", "memory", "total", "rss_total_mib"), "s-",
             color="tab:orange", label="baseline loops, sum of RSS")
    mem.plot(ns, _series(runs, "baseline", "memory", "total", "pss_total_mib"), "s--",
             color="tab:orange", label="baseline loops, sum of PSS")
    mem.axhline(1024.0, color="grey", lw=0.8, ls=":", label="target 1 GiB")
    mem.set(title="Total memory", xlabel="sessions (N)", ylabel="MiB", xscale="log",
            yscale="log")
    mem.legend(fontsize=7)
    for ax in (lat, cpu, mem):
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
