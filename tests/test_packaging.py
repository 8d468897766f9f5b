"""Packaging and the command line a new user meets: the wheel, --help, --config-dir, completion."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import ROOT, cli_env


def mnist_exp(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnist_exp", *args],
        cwd=tmp_path,
        env=env or cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_package_of_the_tree_is_one_the_wheel_lists():
    """pyproject.toml names the packages: a new folder of code missing from it would be
    missing from the wheel (the wheel test, slow, would fail only then)."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("mnist_exp", "hydra_plugins")
        for init in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in init.parts and init.parent.resolve().is_relative_to(ROOT / top)
    }
    assert found - {"mnist_exp.conf"} <= listed, sorted(found - listed)
    assert "mnist_exp.conf" in listed  # conf/, mapped in package-dir


def test_help_lists_groups_and_options_but_not_the_schemas(tmp_path):
    result = mnist_exp(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    groups = {line.split(":")[0] for line in lines if ": " in line and not line.startswith(" ")}
    for group in ("data", "model", "optimizer", "loss", "validation", "training", "logger"):
        assert group in groups, result.stdout
    assert "logger: mlflow, tensorboard" in result.stdout
    assert "optimizer: adam, rmsprop, sgd" in result.stdout
    assert "schema/" not in result.stdout
    assert "--config-dir" in result.stdout and "-sc install=bash" in result.stdout
    # The composed config follows the overrides given with --help.
    chosen = mnist_exp(tmp_path, "model=two_hidden", "--help").stdout
    (model_line,) = [line for line in chosen.splitlines() if line.startswith("model: ")]
    assert model_line.endswith("(chosen: two_hidden)")


def test_a_config_dir_of_ones_own_adds_options(tmp_path):
    own = tmp_path / "my_conf"
    (own / "model").mkdir(parents=True)
    (own / "model" / "wide.yaml").write_text(
        textwrap.dedent(
            """\
            defaults:
              - /schema/model/base@_here_
              - _self_

            name: wide
            units: 2048
            """
        )
    )
    (own / "experiment").mkdir()
    (own / "experiment" / "wide_smoke.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /data: mnist_5k\n  - override /model: wide\n"
    )
    result = mnist_exp(tmp_path, "--config-dir", str(own), "model=wide", "--cfg", "job")
    assert result.returncode == 0, result.stderr
    assert "units: 2048" in result.stdout and "name: wide" in result.stdout
    result = mnist_exp(
        tmp_path, "hydra.searchpath=[file://my_conf]", "+experiment=wide_smoke", "--cfg", "job"
    )
    assert result.returncode == 0, result.stderr
    assert "units: 2048" in result.stdout and "name: mnist_5k" in result.stdout
    help_text = mnist_exp(tmp_path, "--config-dir", str(own), "--help").stdout
    assert "model: cnn, mlp, one_hidden, two_hidden, wide" in help_text
    # The schema still checks the user's option.
    (own / "model" / "bad.yaml").write_text(
        "defaults:\n  - /schema/model/base@_here_\n  - _self_\nname: bad\nunitz: 3\n"
    )
    result = mnist_exp(tmp_path, "--config-dir", str(own), "model=bad", "training.progress=false")
    assert result.returncode == 2
    assert "unitz" in result.stderr and "Traceback" not in result.stderr


def test_shell_completion_installs_and_completes(tmp_path):
    script = mnist_exp(tmp_path, "-sc", "install=bash")
    assert script.returncode == 0, script.stderr
    assert "complete -o nospace -o default -F hydra_bash_completion" in script.stdout
    env = cli_env(tmp_path)
    env["COMP_LINE"] = "mnist-exp optim"
    query = mnist_exp(tmp_path, "-sc", "query=bash", env=env)
    assert "optimizer=" in query.stdout.split()
    env["COMP_LINE"] = "mnist-exp logger="
    assert set(mnist_exp(tmp_path, "-sc", "query=bash", env=env).stdout.split()) >= {
        "logger=mlflow",
        "logger=tensorboard",
    }


# --- a real wheel, in a fresh venv, run from outside the checkout -----------------------


def clean_clone_files() -> list[str]:
    """What a clean clone of the working tree holds: tracked and untracked-but-not-ignored."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """`pip wheel` of a clean copy of the checkout, installed into a new venv.

    Offline and fast: the wheel builds with this venv's setuptools (no build isolation)
    and installs with --no-deps; the new venv finds the dependencies through a .pth line
    naming this venv's site-packages. Lines of a .pth file only extend sys.path (the
    editable install's own .pth hook there is not run), so `import mnist_exp` can only
    find the wheel's copy, which the test checks.
    """
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "clone"
    for name in clean_clone_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = subprocess.run(
        [
            *pip,
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # The build says nothing of ours (pip's own notes on this machine's indexes aside).
    said = [line for line in built.stderr.splitlines() if "is ignored: it is neither" not in line]
    assert not [line for line in said if "Warning" in line], built.stderr
    (wheel,) = (tmp / "dist").glob("mnist_exp-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "_mnist_exp_test_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    elsewhere = tmp / "elsewhere"  # not the checkout, not the venv
    elsewhere.mkdir()
    return {"wheel": wheel, "venv": venv, "site": Path(site), "cwd": elsewhere}


def venv_env(cwd: Path) -> dict[str, str]:
    env = cli_env(cwd)
    env.pop("PYTHONPATH", None)
    return env


def run_in(installed, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args),
        cwd=installed["cwd"],
        env=venv_env(installed["cwd"]),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_wheel_carries_the_configs_and_the_commands(installed):
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        names = set(wheel.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        scripts = wheel.read(entry_points).decode()
    conf = sorted(p.relative_to(ROOT / "conf").as_posix() for p in (ROOT / "conf").rglob("*.yaml"))
    missing = [c for c in conf if f"mnist_exp/conf/{c}" not in names]
    assert missing == [], "configs missing from the wheel"
    for needed in ("logger/mlflow.yaml", "logger/tensorboard.yaml", "hydra/help/mnist_exp.yaml"):
        assert f"mnist_exp/conf/{needed}" in names
    assert "mnist-exp = mnist_exp.app.cli:main" in scripts
    assert "mnist-exp-predict = mnist_exp.app.predict:main" in scripts
    # Hydra 1.4 finds the plugins by entry points, 1.3 in the wheel's hydra_plugins/
    for plugin in ROOT.joinpath("hydra_plugins").glob("mnist_exp_*"):
        assert f"{plugin.name} = hydra_plugins.{plugin.name}." in scripts
        assert f"hydra_plugins/{plugin.name}/__init__.py" in names
    assert not [n for n in names if n.startswith(("tests/", "conf/"))]


@pytest.mark.slow
def test_installed_commands_work_from_any_directory(installed):
    venv, cwd = installed["venv"], installed["cwd"]
    where = run_in(
        installed, str(venv / "bin" / "python"), "-c", "import mnist_exp; print(mnist_exp.__file__)"
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed["site"]), where.stdout

    help_text = run_in(installed, str(venv / "bin" / "python"), "-m", "mnist_exp", "--help")
    assert help_text.returncode == 0, help_text.stderr
    assert "logger: mlflow, tensorboard" in help_text.stdout and "schema/" not in help_text.stdout

    run = run_in(
        installed, str(venv / "bin" / "mnist-exp"), "+experiment=smoke", "training.progress=false"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    (metrics_file,) = (cwd / "outputs" / "runs").glob("*/*/metrics.json")
    metrics = json.loads(metrics_file.read_text())
    assert metrics["status"] == "completed" and metrics["data"]["name"] == "mnist_5k"

    # a sweep: the grid sweeper, found where the wheel put it
    sweep = run_in(
        installed,
        str(venv / "bin" / "mnist-exp"),
        "-m",
        "+experiment=smoke",
        "training.progress=false",
        "optimizer=adam,sgd",
        f"hydra.sweep.dir={cwd / 'sweep'}",
    )
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    assert "2 jobs, ranked by" in sweep.stdout

    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255  # a "1"
    Image.fromarray(255 - digit).convert("RGB").save(cwd / "one.png")
    predicted = run_in(
        installed, str(venv / "bin" / "mnist-exp-predict"), str(metrics_file.parent), "one.png"
    )
    assert predicted.returncode == 0, predicted.stdout + predicted.stderr
    assert "one.png" in predicted.stdout and "confidence" in predicted.stdout
