"""`make bench`: the tutorial's raw Keras script, a plain PyTorch loop and mnist-exp
(its default path and each speed option), timed side by side on this machine; and
keras-io's mnist_convnet the same three ways (`model=cnn`).

Every run is its own process, measured from outside (wall time, peak RSS); the
systems take turns, round after round, so that a busy spell on the machine hits
them alike, and each figure is the median over rounds with the spread beside it.
The Markdown report goes to benchmarks/results/; see benchmarks/README.md.

Usage: python -m benchmarks.run [--rounds 3] [--data PATH] [--skip-profile]
                                [--systems KEY,...] [--compare GIT_REV] [--cnn-epochs 3]

--compare adds mnist-exp's default as it was at GIT_REV (any commit of this
repository; give it more than once for more), run from a copy of that tree in the
same rounds: a change measured before and after, side by side.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import datasets, machine, measure, report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
EPOCHS, BATCH = 5, 128
CNN_EPOCHS = 3  # keras-io's example trains 15; a few time each system's epochs as well


@dataclass
class System:
    key: str
    label: str
    kind: str  # script | mnist-exp
    args: list[str] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)
    tree: Path | None = None  # mnist-exp from this copy of another commit's tree
    group: str = "mlp"  # mlp: the tutorial's network; cnn: keras-io's convnet


def systems(data: datasets.Choice, with_torch: bool, cnn_epochs: int = CNN_EPOCHS) -> list[System]:
    """What is timed. mnist-exp runs the tutorial's preset: all 60k images trained on,
    the test set as validation data, as the raw script does, so the work is the same.
    For the CNN, every system trains on 54,000 images and validates on 6,000, as
    keras-io's validation_split=0.1 does (mnist-exp's holdout is stratified)."""
    tutorial = ["+experiment=tutorial", f"data={data.name}", f"data.path={data.path}"]
    found = [
        System("raw", "raw Keras script (the tutorial)", "script", ["benchmarks.raw_keras"]),
        System("mnist_exp", "mnist-exp (default)", "mnist-exp", tutorial),
        System(
            "keras_loop",
            "mnist-exp, training.loop=keras",
            "mnist-exp",
            [*tutorial, "training.loop=keras"],
        ),
        System(
            "keras_defaults",
            "mnist-exp, speed options off",
            "mnist-exp",
            [
                *tutorial,
                "training.loop=keras",
                "training.steps_per_execution=1",
                "training.jit_compile=false",
                "training.sparse_labels=false",
            ],
        ),
        System(
            "no_xla_cache",
            "mnist-exp, xla_cache=false",
            "mnist-exp",
            [*tutorial, "training.xla_cache=false"],
        ),
        System(
            "no_xla",
            "mnist-exp, jit_compile=false",
            "mnist-exp",
            [*tutorial, "training.jit_compile=false"],
        ),
    ]
    if with_torch:
        found.insert(1, System("torch", "PyTorch loop", "script", ["benchmarks.torch_loop"]))
    if cnn_epochs > 0:
        found += cnn_systems(data, with_torch, cnn_epochs)
    return found


def cnn_systems(data: datasets.Choice, with_torch: bool, epochs: int) -> list[System]:
    cnn = [
        f"data={data.name}",
        f"data.path={data.path}",
        "model=cnn",
        "optimizer=adam",
        f"training.epochs={epochs}",
        "validation.size=6000",
    ]
    found = [
        System(
            "cnn_raw",
            "keras-io mnist_convnet script",
            "script",
            ["benchmarks.raw_cnn_keras", str(epochs)],
            group="cnn",
        ),
        System("cnn_mnist_exp", "mnist-exp model=cnn", "mnist-exp", cnn, group="cnn"),
        System(
            "cnn_keras_loop",
            "mnist-exp model=cnn, training.loop=keras",
            "mnist-exp",
            [*cnn, "training.loop=keras"],
            group="cnn",
        ),
    ]
    if with_torch:
        found.insert(
            1,
            System(
                "cnn_torch",
                "convnet, PyTorch loop",
                "script",
                ["benchmarks.torch_cnn", str(epochs)],
                group="cnn",
            ),
        )
    return found


def tree_at(revision: str, work: Path) -> Path:
    """The repository's files at `revision`, importable as they were: `mnist_exp` and
    its configs (`mnist_exp.conf`, a link to the tree's conf/ as the wheel maps it)."""
    tree = work / f"tree-{revision}"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "archive", revision], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    if not (tree / "mnist_exp" / "conf").exists():
        (tree / "mnist_exp" / "conf").symlink_to(tree / "conf", target_is_directory=True)
    (tree / "sitecustomize.py").write_text(ISOLATE)
    return tree


# Run from a tree (PYTHONPATH=tree), Python still finds this checkout's editable install:
# its finder serves `mnist_exp` and adds its folder to the `hydra_plugins` namespace.
# The tree's sitecustomize.py (run at start, after site-packages' .pth files) drops it,
# so that a tree's run imports that tree's code alone.
ISOLATE = """\
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path_hooks[:] = [h for h in sys.path_hooks if "editable" not in repr(h).lower()]
sys.path[:] = [p for p in sys.path if "__editable__" not in p]
sys.path_importer_cache.clear()
"""


def child_env(tree: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if tree is not None:  # its mnist_exp before the installed one
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    env.update(COLUMNS="120", TERM=env.get("TERM", "xterm-256color"), PYTHONUNBUFFERED="1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.pop("KERAS_BACKEND", None)
    env.pop("TF_XLA_FLAGS", None)
    return env


def run_once(system: System, data: datasets.Choice, work: Path, index: int) -> dict:
    out = work / f"{system.key}-{index}"
    if system.kind == "script":
        module, *script_args = system.args
        command = [sys.executable, "-m", module, str(data.path), f"{out}.json", *script_args]
    else:
        command = [sys.executable, "-m", "mnist_exp", *system.args, f"hydra.run.dir={out}"]
    measured = measure.run(command, system.tree or ROOT, child_env(system.tree))
    if measured.returncode != 0:
        raise SystemExit(
            f"{system.label} failed (exit {measured.returncode}):\n{measured.output_tail}"
        )
    if system.kind == "script":
        inner = json.loads(Path(f"{out}.json").read_text())
        fit, accuracy = inner["fit_seconds"], inner["test_accuracy"]
        samples = inner["train_samples"] * inner["epochs"]
    else:
        metrics = json.loads((out / "metrics.json").read_text())
        fit, accuracy = metrics["train/seconds"], metrics["test/accuracy"]
        samples = metrics["data"]["train"] * metrics["epochs"]
        lines = (out / "history.csv").read_text().splitlines()[1:]  # after the header
        epochs = [float(line.rsplit(",", 1)[1]) for line in lines]  # its last column
        shutil.rmtree(out, ignore_errors=True)
    return {
        # mnist-exp: the first epoch's extra time over the later ones' median (tracing
        # Keras' train and test functions, compiling XLA), and the time of the run
        # itself from its start after the imports (metrics.json's wall_seconds)
        **(
            {
                "first_epoch_extra": epochs[0] - statistics.median(epochs[1:]),
                "inner_wall_seconds": metrics["wall_seconds"],
            }
            if system.kind == "mnist-exp"
            else {}
        ),
        "fit_seconds": fit,
        "samples_per_second": samples / fit,
        "test_accuracy": accuracy,
        "wall_seconds": measured.wall_seconds,
        "peak_rss_mb": measured.peak_rss_mb,
        "cpu_seconds": measured.cpu_seconds,
        "others_busy": measured.others_busy,
    }


def time_help(rounds: int) -> list[float]:
    """`mnist-exp --help`, start to exit, as a user types it."""
    script = Path(sys.executable).with_name("mnist-exp")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "mnist_exp"]
    times = []
    for _ in range(rounds):
        measured = measure.run([*command, "--help"], ROOT, child_env())
        times.append(measured.wall_seconds)
    return times


IMPORTS = {
    # the floor under any TensorFlow program's start
    "tensorflow": "import tensorflow",
    # mnist-exp's way: Keras' unused extras refused, the garbage collector paused
    "mnist_exp": "from mnist_exp.app import startup; startup.import_keras()",
}


def time_import(rounds: int) -> dict[str, list[float]]:
    """Each of IMPORTS in a fresh process, alternately, `rounds` times."""
    times: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for _ in range(rounds):
        for name, statement in IMPORTS.items():
            code = (
                f"import os, time; t = time.perf_counter(); {statement}; "
                "print(time.perf_counter() - t, flush=True); os._exit(0)"
            )
            measured = measure.run([sys.executable, "-c", code], ROOT, child_env())
            times[name].append(float(measured.output_tail.strip().splitlines()[-1]))
    return times


def warm_up(with_torch: bool) -> None:
    """Read the libraries once, so that the first timed run does not pay for the disk."""
    modules = "tensorflow, keras" + (", torch" if with_torch else "")
    measure.run([sys.executable, "-c", f"import {modules}"], ROOT, child_env())


def profile(data: datasets.Choice, work: Path) -> dict | None:
    out = work / "profile.json"
    command = [sys.executable, "-m", "benchmarks.profile_step", str(data.path), str(out)]
    measured = measure.run(command, ROOT, child_env())
    if measured.returncode != 0:
        print(f"profile failed (exit {measured.returncode}):\n{measured.output_tail}")
        return None
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each system (default 3)")
    parser.add_argument("--data", help="an npz (Keras layout) or IDX folder to use instead")
    parser.add_argument("--skip-profile", action="store_true", help="no per-step profile")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the report")
    parser.add_argument("--systems", help="only these systems, by key (raw is always timed)")
    parser.add_argument(
        "--cnn-epochs", type=int, default=CNN_EPOCHS, help="the CNN's epochs; 0: no CNN"
    )
    parser.add_argument(
        "--compare", metavar="GIT_REV", action="append", help="also mnist-exp's default at REV"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    with_torch = importlib.util.find_spec("torch") is not None
    work = Path(tempfile.mkdtemp(prefix="mnist-exp-bench-"))
    # mnist-exp's XLA cache starts empty: the first round of the default compiles.
    os.environ["MNIST_EXP_CACHE"] = str(work / "cache")
    try:
        data = datasets.choose(work, args.data)
        print(f"data: {data.description}")
        if not with_torch:
            print("torch is not installed: the PyTorch loop is skipped (pip install torch==2.13.0)")
        described = machine.describe(with_torch)
        warm_up(with_torch)
        timed = systems(data, with_torch, args.cnn_epochs)
        if args.systems:  # and the baselines of their groups, which the ratios need
            wanted = set(args.systems.split(","))
            groups = {s.group for s in timed if s.key in wanted} | (
                {"mlp"} if args.compare else set()
            )
            baselines = {report.BASELINES[group][0] for group in groups}
            timed = [s for s in timed if s.key in wanted | baselines]
        default = next(s for s in systems(data, with_torch) if s.key == "mnist_exp")
        for revision in args.compare or []:
            timed.append(
                System(
                    f"mnist_exp_at_{revision}",
                    f"mnist-exp (default) at {revision}",
                    "mnist-exp",
                    default.args,
                    tree=tree_at(revision, work),
                )
            )
        for round_index in range(args.rounds):
            turn = round_index % len(timed)  # each round starts with another system
            for system in timed[turn:] + timed[:turn]:
                result = run_once(system, data, work, round_index)
                system.runs.append(result)
                print(
                    f"round {round_index + 1}/{args.rounds}  {system.label:32s} "
                    f"fit {result['fit_seconds']:6.2f} s  wall {result['wall_seconds']:6.2f} s  "
                    f"acc {result['test_accuracy']:.4f}  "
                    f"others {result['others_busy']:.0%}",
                    flush=True,
                )
        help_times = time_help(max(3, args.rounds))
        import_times = time_import(max(3, args.rounds))
        step_profile = None if args.skip_profile else profile(data, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results = {
        "machine": described,
        "data": data.description,
        "epochs": EPOCHS,
        "batch_size": BATCH,
        "rounds": args.rounds,
        "systems": {
            s.key: {"label": s.label, "args": s.args, "runs": s.runs, "group": s.group}
            for s in timed
        },
        "cnn_epochs": args.cnn_epochs,
        "help_seconds": help_times,
        "import_tensorflow_seconds": import_times["tensorflow"],
        "import_keras_mnist_exp_seconds": import_times["mnist_exp"],
        "profile": step_profile,
        "bench_seconds": time.perf_counter() - started,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    name = machine.slug(described)
    (args.out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    markdown = report.markdown(results)
    (args.out / f"{name}.md").write_text(markdown)
    report.print_rich(results)
    print(f"\nreport: {args.out / (name + '.md')}")
    print(f"benchmark took {results['bench_seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
