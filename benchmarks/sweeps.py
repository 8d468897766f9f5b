"""`make bench` (second part): what a sweep costs beyond its jobs' training, and what a
killed job costs, measured side by side with mnist-exp as it was at another commit.

- grid: `make sweep`'s command (8 jobs of +experiment=tutorial_sweep on the bundled
  digits, 3 epochs, one process): its wall time, the sum of its jobs' fits
  (metrics.json train/seconds), and the rest, the overhead a sweep adds.
- repeats: 4 seeds of one network in one process (jobs that share traced steps).
- joblib: 4 jobs on 2 joblib workers (data=mnist_5k, 4 epochs, units 64..512): wall.
- kill: the joblib sweep with one worker process killed with SIGKILL once a job is
  past its first checkpoint: how many jobs complete, and the wall time beside the
  joblib sweep's.

Every sweep is its own process; the systems take turns, round after round, so a busy
spell hits them alike; figures are medians over rounds. Report: benchmarks/results/
MACHINE-sweeps.md (and .json).

Usage: python -m benchmarks.sweeps [--rounds 3] [--compare GIT_REV] [--only grid,joblib,kill]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import machine
from benchmarks.run import RESULTS, ROOT, child_env, tree_at

GRID = ["+experiment=tutorial_sweep", "training.epochs=3", "training.batch_size=128"]
JOBLIB = ["data=mnist_5k", "training.progress=false", "training.epochs=4"]
JOBLIB += ["model.units=64,128,256,512", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
# 4 seeds of one network: jobs that can share their traced steps (training/reuse.py)
REPEATS = ["data=mnist_5k", "training.progress=false", "training.epochs=3"]
REPEATS += ["model=two_hidden", "training.seed=1,2,3,4"]
SCENARIOS = ("grid", "repeats", "joblib", "kill")
ARGS = {"grid": GRID, "repeats": REPEATS, "joblib": JOBLIB, "kill": JOBLIB}


def sweep(args: list[str], sweep_dir: Path, tree: Path | None, kill: bool = False) -> dict:
    """Run one sweep; with kill, SIGKILL the first job process seen past its first
    checkpoint. Returns its wall time and what its jobs' metrics.json say."""
    command = [sys.executable, "-m", "mnist_exp", "-m", *args, f"hydra.sweep.dir={sweep_dir}"]
    started = time.perf_counter()
    child = subprocess.Popen(
        command,
        cwd=tree or ROOT,
        env=child_env(tree),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    killed = None
    while kill and killed is None and child.poll() is None:
        killed = _kill_one(sweep_dir, child.pid)
        time.sleep(0.05)
    _, stderr = child.communicate()
    wall = time.perf_counter() - started
    jobs = [_read(p) for p in sorted(sweep_dir.glob("*/metrics.json"))]
    if not kill and child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr.decode()[-3000:]}")
    return {
        "wall_seconds": wall,
        "fit_seconds": sum(j.get("train/seconds") or 0.0 for j in jobs),
        "job_wall_seconds": sum(j.get("wall_seconds") or 0.0 for j in jobs),
        "completed": sum(j.get("status") == "completed" for j in jobs),
        "jobs": len(jobs),
        "killed_pid": killed,
        "returncode": child.returncode,
    }


def _this_tree() -> str:
    """This checkout's commit, as the report names it (+ when files differ from it)."""
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True)
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=ROOT).returncode != 0
    return rev.stdout.decode().strip() + ("+" if dirty else "")


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _kill_one(sweep_dir: Path, parent: int) -> int | None:
    """Once a job is past its first checkpoint, SIGKILL one of the sweep's joblib
    workers (read from /proc, so that any commit's mnist-exp is killed alike)."""
    if not any(
        _read(state.parent.parent / "metrics.json").get("status") == "running"
        for state in sweep_dir.glob("*/checkpoints/state.json")
    ):
        return None
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"popen_loky_posix" in cmdline:
            os.kill(int(stat.parent.name), signal.SIGKILL)
            return int(stat.parent.name)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare", metavar="GIT_REV", help="mnist-exp at this commit beside")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios to run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    options = parser.parse_args()
    chosen = [s for s in options.only.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="mnist-exp-sweep-bench-") as tmp:
        work = Path(tmp)
        systems = {_this_tree(): None}
        if options.compare:
            systems[options.compare] = tree_at(options.compare, work)
        results: dict[str, dict[str, list[dict]]] = {s: {k: [] for k in systems} for s in chosen}
        for r in range(options.rounds):
            for scenario in chosen:
                for name, tree in systems.items():
                    out = work / f"{scenario}-{name}-{r}"
                    measured = sweep(ARGS[scenario], out, tree, kill=scenario == "kill")
                    results[scenario][name].append(measured)
                    print(scenario, name, r, {k: round(v, 2) for k, v in _numbers(measured)})
    described = machine.describe(with_torch=False)
    report = {"machine": described, "rounds": options.rounds, "results": results}
    options.out.mkdir(parents=True, exist_ok=True)
    stem = options.out / f"{machine.slug(described)}-sweeps"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2))
    stem.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {stem}.md")


def _numbers(measured: dict):
    return [(k, v) for k, v in measured.items() if isinstance(v, (int, float)) and v is not None]


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def markdown(report: dict) -> str:
    results, lines = report["results"], []
    described = report["machine"]
    lines += ["# Sweep overhead and kills", ""]
    lines += [
        f"{described['cpu']}, {described['usable_cores']} cores; medians of "
        f"{report['rounds']} rounds, systems taking turns. `python -m benchmarks.sweeps`.",
        "",
    ]
    titles = {
        "grid": "`make sweep` (8 jobs, one process)",
        "repeats": "4 seeds of `model=two_hidden` (one process: jobs that share traced steps)",
    }
    for scenario in ("grid", "repeats"):
        if scenario not in results:
            continue
        lines += [f"## {titles[scenario]}", ""]
        lines += ["| mnist-exp | wall s | sum of fits s | beyond the fits s | sum of job walls s |"]
        lines += ["| --- | ---: | ---: | ---: | ---: |"]
        for name, runs in results[scenario].items():
            wall, fit = median(runs, "wall_seconds"), median(runs, "fit_seconds")
            beyond = statistics.median(r["wall_seconds"] - r["fit_seconds"] for r in runs)
            lines.append(
                f"| {name} | {wall:.1f} | {fit:.1f} | {beyond:.1f} | "
                f"{median(runs, 'job_wall_seconds'):.1f} |"
            )
        lines.append("")
    if "joblib" in results or "kill" in results:
        lines += ["## 4 jobs on 2 joblib workers, and one of them killed (SIGKILL)", ""]
        lines += ["| mnist-exp | sweep | wall s | jobs completed | exit |"]
        lines += ["| --- | --- | ---: | ---: | ---: |"]
        for scenario in ("joblib", "kill"):
            for name, runs in results.get(scenario, {}).items():
                completed = statistics.median(r["completed"] for r in runs)
                codes = sorted({r["returncode"] for r in runs})
                lines.append(
                    f"| {name} | {'one job killed' if scenario == 'kill' else 'no kill'} | "
                    f"{median(runs, 'wall_seconds'):.1f} | {completed:.0f} of 4 | "
                    f"{', '.join(map(str, codes))} |"
                )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
