"""The benchmark's report: a Markdown file, and the same tables printed with rich."""

from __future__ import annotations

import statistics

from rich.console import Console
from rich.table import Table

TARGET_RATIO_RAW = 2.0  # mnist-exp's fit throughput over the raw script's
TARGET_RATIO_TORCH = 1.0  # ... over the PyTorch loop's
TARGET_ACCURACY_POINTS = 0.5  # test accuracy within this many points of the raw script
TARGET_OVERHEAD_SECONDS = 6.0  # end-to-end wall time minus fit time
TARGET_HELP_SECONDS = 1.0
TARGET_PROGRESS_SHARE = 0.02  # the rich progress display, as a share of fit time
# Each group's systems are compared with its plain Keras script and its PyTorch loop.
BASELINES = {"mlp": ("raw", "torch"), "cnn": ("cnn_raw", "cnn_torch")}
GROUP_TITLES = {
    "mlp": "The tutorial's MLP (784-512-10)",
    "cnn": "keras-io's mnist_convnet (model=cnn)",
}

PROFILE_PARTS = {
    "matmul": "the two big matrix products (layer 1 forward, its weight gradient), XLA",
    "step_xla": "the whole train step (forward, loss, gradients, RMSprop, metrics), XLA",
    "step_graph": "the same step as plain TensorFlow graph ops (Keras' CPU default)",
    "pipeline": "Keras' input pipeline alone: shuffled batches gathered by tf.data",
    "fit_keras_defaults": "fit, one epoch, Keras' defaults (1 step per call, no XLA)",
    "fit_keras_options": "fit, one epoch, with mnist-exp's options (training.loop=keras)",
    "fit_mnist_exp": "one epoch of mnist-exp's default loop (training.loop=tensors)",
    "fit_mnist_exp_progress": "the same with the rich progress display, live",
}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(system: dict) -> dict:
    runs = system["runs"]

    def pick(key):
        return [run[key] for run in runs]

    fits = pick("fit_seconds")
    overheads = [run["wall_seconds"] - run["fit_seconds"] for run in runs]
    return {
        "label": system["label"],
        "fit": median(fits),
        "fit_min": min(fits),
        "fit_max": max(fits),
        "rate": median(pick("samples_per_second")),
        "accuracy": median(pick("test_accuracy")),
        "wall": median(pick("wall_seconds")),
        "overhead": median(overheads),
        "rss": median(pick("peak_rss_mb")),
        "others": median(pick("others_busy")),
    }


def rows(results: dict) -> dict[str, dict]:
    """Every system's figures, its ratios to the baselines of its group."""
    table = {key: summarize(system) for key, system in results["systems"].items()}
    for key, system in results["systems"].items():
        group = system.get("group", "mlp")
        raw_key, torch_key = BASELINES[group]
        row, raw, torch = table[key], table.get(raw_key), table.get(torch_key)
        row["group"] = group
        row["x_raw"] = row["rate"] / raw["rate"] if raw else float("nan")
        row["x_torch"] = row["rate"] / torch["rate"] if torch else None
    return table


def targets(results: dict, table: dict[str, dict]) -> list[tuple[str, str, bool | None]]:
    if "mnist_exp" not in table:  # --systems left it out
        return []
    ours, raw, torch = table["mnist_exp"], table["raw"], table.get("torch")
    found = [
        (
            f"fit throughput >= {TARGET_RATIO_RAW:.1f}x the raw Keras script",
            f"{ours['x_raw']:.2f}x ({ours['rate']:,.0f} vs {raw['rate']:,.0f} samples/s)",
            ours["x_raw"] >= TARGET_RATIO_RAW,
        ),
        (
            f"fit throughput >= {TARGET_RATIO_TORCH:.1f}x the PyTorch loop",
            f"{ours['x_torch']:.2f}x ({ours['rate']:,.0f} vs {torch['rate']:,.0f} samples/s)"
            if torch
            else "PyTorch not installed",
            ours["x_torch"] >= TARGET_RATIO_TORCH if torch else None,
        ),
        (
            f"test accuracy within {TARGET_ACCURACY_POINTS} point of the raw script",
            f"{ours['accuracy']:.2%} vs {raw['accuracy']:.2%}",
            abs(ours["accuracy"] - raw["accuracy"]) * 100 <= TARGET_ACCURACY_POINTS,
        ),
        (
            f"end-to-end wall time <= fit time + {TARGET_OVERHEAD_SECONDS:.0f} s",
            f"{ours['wall']:.1f} s = fit {ours['fit']:.1f} s + {ours['overhead']:.1f} s",
            ours["overhead"] <= TARGET_OVERHEAD_SECONDS,
        ),
        (
            f"`mnist-exp --help` <= {TARGET_HELP_SECONDS:.1f} s",
            f"{median(results['help_seconds']):.2f} s (median of {len(results['help_seconds'])})",
            median(results["help_seconds"]) <= TARGET_HELP_SECONDS,
        ),
        (
            "peak RSS <= the raw script's",
            f"{ours['rss']:,.0f} MB vs {raw['rss']:,.0f} MB",
            ours["rss"] <= raw["rss"],
        ),
    ]
    profile = results.get("profile") or {}
    if "progress_hooks_ms" in profile:
        share, per_run, per_epoch = progress_share(results)
        found.append(
            (
                f"rich progress display <= {TARGET_PROGRESS_SHARE:.0%} of fit time",
                f"{share:.2%} of a {results['epochs']}-epoch run's fit: {per_epoch:.1f} ms an "
                f"epoch inside its hooks, where it draws, and {per_run:.1f} ms a run to start "
                f"and stop, of {epoch_ms(profile):.0f} ms epochs",
                share <= TARGET_PROGRESS_SHARE,
            )
        )
    return found


def epoch_ms(profile: dict) -> float:
    """One epoch of the default loop with the display on (the least disturbed round)."""
    return profile["ms_per_step"]["fit_mnist_exp_progress"]["min"] * profile["steps"]


def progress_share(results: dict) -> tuple[float, float, float]:
    """The display's share of a tutorial run's fit, from the time inside its hooks:
    (share, ms per run for start and stop, ms per epoch for the rest)."""
    profile, epochs = results["profile"], results["epochs"]
    hooks = profile["progress_hooks_ms"]
    per_run = hooks.get("on_train_begin", 0.0) + hooks.get("on_train_end", 0.0)
    per_epoch = sum(hooks.values()) - per_run
    return (per_run / epochs + per_epoch) / epoch_ms(profile), per_run, per_epoch


def markdown(results: dict) -> str:
    table = rows(results)
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    lines = [
        f"# mnist-exp speed: {m['cpu']}, {m['usable_cores']} cores",
        "",
        "Written by `make bench` (`python -m benchmarks.run`); see benchmarks/README.md.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        f"| CPU | {m['cpu']} ({m['cpu_family_model']}, {m['cpu_mhz']} MHz, "
        f"{m['cache']} cache, {m['simd']}) |",
        f"| cores | {m['usable_cores']} usable of {m['logical_cpus']} logical |",
        f"| memory | {m['memory_gib']} GiB |",
        f"| OS | {m['os']}, kernel {m['kernel']} |",
        f"| software | {versions} |",
        f"| load average at start | {', '.join(map(str, m['load_average_at_start']))} |",
        "",
        "## Setup",
        "",
        f"- Data: {results['data']}.",
        f"- Every system: 784-512-10, RMSprop (lr 1e-3, rho 0.9), {results['epochs']} epochs "
        f"of batch {results['batch_size']} on all training images, the test set evaluated "
        "after each epoch (the tutorial's validation), then a final evaluation; mnist-exp "
        "runs `+experiment=tutorial` and writes its whole run directory (plots, model, "
        "reload check).",
        f"- {results['rounds']} rounds; in each, every system runs once in its own process, "
        "in turn (each round starts with the next system). Figures are medians over "
        "rounds, fit time with its range. Fit time is measured inside each program around "
        "training (fit and its validation); wall time and peak RSS from outside, process "
        "start to exit.",
        "- `others` is the share of the machine's CPU that other processes used during "
        "the runs (median): above a few percent, every figure is slower and noisier than "
        "on an idle machine.",
        f"- The CNN ({results.get('cnn_epochs', 0)} epochs of batch 128, Adam): keras-io's "
        "mnist_convnet as its example writes it, the same network as a PyTorch loop, and "
        "mnist-exp's `model=cnn optimizer=adam`; each trains on 54,000 images and validates "
        "on 6,000 after every epoch, then tests on the 10,000.",
        "",
        "## Results",
    ]
    for group, title in GROUP_TITLES.items():
        members = {k: r for k, r in table.items() if r["group"] == group}
        if members:
            lines += ["", f"### {title}", "", *results_table(members)]
    lines += ["", "## Targets", "", "| target | measured | met |", "| --- | --- | --- |"]
    for name, figure, met in targets(results, table):
        verdict = "n/a" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {name} | {figure} | {verdict} |")
    lines += fixed_costs_section(results)
    lines += profile_section(results.get("profile"))
    lines += ["", f"Benchmark wall time: {results['bench_seconds'] / 60:.1f} min.", ""]
    return "\n".join(lines)


def results_table(table: dict[str, dict]) -> list[str]:
    """One group's systems, their ratios to the group's script and PyTorch loop."""
    has_torch = any(row["x_torch"] is not None for row in table.values())
    lines = [
        "| system | fit s (range) | samples/s | x script | "
        + ("x PyTorch | " if has_torch else "")
        + "test acc | wall s | wall - fit s | peak RSS MB | others |",
        "| --- | ---: | ---: | ---: | "
        + ("---: | " if has_torch else "")
        + "---: | ---: | ---: | ---: | ---: |",
    ]
    for row in table.values():
        torch_cell = f"{row['x_torch']:.2f} | " if row["x_torch"] else ("- | " if has_torch else "")
        lines.append(
            f"| {row['label']} | {row['fit']:.2f} ({row['fit_min']:.2f}-{row['fit_max']:.2f}) "
            f"| {row['rate']:,.0f} | {row['x_raw']:.2f} | {torch_cell}{row['accuracy']:.2%} "
            f"| {row['wall']:.1f} | {row['overhead']:.1f} | {row['rss']:,.0f} "
            f"| {row['others']:.0%} |"
        )
    return lines


def fixed_costs_section(results: dict) -> list[str]:
    """Where mnist-exp's time outside the steady epochs goes (medians over rounds)."""
    runs = results["systems"].get("mnist_exp", {}).get("runs")
    if not runs or "first_epoch_extra" not in runs[0]:
        return []
    wall = median([r["wall_seconds"] for r in runs])
    inner = median([r["inner_wall_seconds"] for r in runs])
    fit = median([r["fit_seconds"] for r in runs])
    first = median([r["first_epoch_extra"] for r in runs])
    imported = median(results.get("import_tensorflow_seconds") or [])
    ours = results.get("import_keras_mnist_exp_seconds")
    return [
        "",
        "## mnist-exp's fixed costs (default path, medians)",
        "",
        "| part | seconds |",
        "| --- | ---: |",
        f"| start to exit (wall) | {wall:.2f} |",
        f"| before the run starts: interpreter, Hydra, data, TensorFlow import | "
        f"{wall - inner:.2f} |",
        f"| `import tensorflow` alone, in a fresh process | {imported:.2f} |",
        *(
            [
                "| mnist-exp's import of Keras and TensorFlow, in a fresh process "
                f"(speed.import_keras: no unused extras, garbage collector paused) | "
                f"{median(ours):.2f} |"
            ]
            if ours
            else []
        ),
        f"| fit | {fit:.2f} |",
        f"| of which the first epoch's extra over later epochs (tracing the train and "
        f"test functions, compiling XLA or loading it from the cache) | {first:.2f} |",
        f"| after fit: evaluate, save, reload, predict, plots, files | {inner - fit:.2f} |",
    ]


def profile_section(profile: dict | None) -> list[str]:
    if not profile:
        return []
    ms = {name: part["min"] for name, part in profile["ms_per_step"].items()}
    med = {name: part["median"] for name, part in profile["ms_per_step"].items()}
    lines = [
        "",
        "## Where a step's time goes (TensorFlow)",
        "",
        f"Milliseconds per training step (batch 128), each part timed over {profile['steps']} "
        f"steps, {profile['rounds']} rounds round-robin in one process, "
        f"{profile['threads']} threads; min is the least disturbed figure. "
        f"mnist-exp's defaults here: steps_per_execution={profile['steps_per_execution']}, "
        f"jit_compile={profile['jit_compile']}.",
        "",
        "| part | ms/step (min) | median |",
        "| --- | ---: | ---: |",
    ]
    for name, text in PROFILE_PARTS.items():
        if name in ms:
            lines.append(f"| {text} | {ms[name]:.3f} | {med[name]:.3f} |")
    keras_loop = ms["fit_keras_defaults"] - ms["step_graph"] - ms["pipeline"]
    options_loop = ms["fit_keras_options"] - ms["step_xla"] - ms["pipeline"]
    ours_loop = ms["fit_mnist_exp"] - ms["step_xla"]
    lines += [
        f"| Keras' loop around the step, its defaults (fit - step - pipeline) "
        f"| {keras_loop:.3f} | |",
        f"| the same with mnist-exp's options (training.loop=keras) | {options_loop:.3f} | |",
        f"| mnist-exp's tensor loop around the step (epoch - step, batch gathers included) "
        f"| {ours_loop:.3f} | |",
    ]
    if "progress_hooks_ms" in profile:
        per_step = sum(profile["progress_hooks_ms"].values()) / profile["steps"]
        lines.append(f"| the progress display, inside its hooks | {per_step:.4f} | |")
    return lines


def print_rich(results: dict) -> None:
    """The results and targets tables on the terminal (the Markdown file has it all)."""
    table = rows(results)
    has_torch = any(row["x_torch"] is not None for row in table.values())
    console = Console()
    out = Table(title=f"mnist-exp speed: {results['data']}", title_justify="left")
    for name in ("system", "fit s", "samples/s", "x script", *(["x PyTorch"] if has_torch else [])):
        out.add_column(name, justify="left" if name == "system" else "right")
    for name in ("test acc", "wall s", "wall - fit", "peak RSS MB", "others"):
        out.add_column(name, justify="right")
    for row in table.values():
        out.add_row(
            row["label"],
            f"{row['fit']:.2f} ({row['fit_min']:.2f}-{row['fit_max']:.2f})",
            f"{row['rate']:,.0f}",
            f"{row['x_raw']:.2f}",
            *([f"{row['x_torch']:.2f}" if row["x_torch"] else "-"] if has_torch else []),
            f"{row['accuracy']:.2%}",
            f"{row['wall']:.1f}",
            f"{row['overhead']:.1f}",
            f"{row['rss']:,.0f}",
            f"{row['others']:.0%}",
        )
    console.print(out)
    checks = Table(title="targets", title_justify="left")
    for name in ("target", "measured", "met"):
        checks.add_column(name)
    for name, figure, met in targets(results, table):
        verdict = "n/a" if met is None else ("[green]yes" if met else "[red]no")
        checks.add_row(name, figure, verdict)
    console.print(checks)
