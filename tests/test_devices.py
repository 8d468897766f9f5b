"""Device placement: MirroredStrategy over logical CPUs, and the dtype policies."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus_matches_one_device(tmp_path):
    # Under a strategy mnist-exp trains with Keras' fit; so does the one-device run
    # here (training.loop=keras), for the same batches in the same order.
    one = tmp_path / "one"
    one.mkdir()
    single_run = run_cli(one, "+experiment=smoke", "training.loop=keras", "training.progress=false")
    assert single_run.returncode == 0, single_run.stderr
    result = run_cli(
        tmp_path,
        "+experiment=smoke",
        "training.strategy=mirrored",
        "training.logical_cpus=2",
        "training.lr_scaling=linear",
        "optimizer.learning_rate=0.0005",  # x 2 replicas = the single device's 0.001
        "training.progress=false",
    )
    assert result.returncode == 0, result.stderr
    mirrored = json.loads((tmp_path / "run" / "metrics.json").read_text())
    single = json.loads((one / "run" / "metrics.json").read_text())
    assert mirrored["strategy"] == "MirroredStrategy" and mirrored["replicas"] == 2
    assert mirrored["global_batch_size"] == 128 and mirrored["replica_batch_size"] == 64
    assert mirrored["learning_rate"] == pytest.approx(0.001)
    assert single["replicas"] == 1 and single["learning_rate"] == pytest.approx(0.001)
    assert mirrored["test/accuracy"] == pytest.approx(single["test/accuracy"], abs=0.02)
    assert mirrored["test/loss"] == pytest.approx(single["test/loss"], rel=0.05)


def test_mixed_float16_without_a_capable_gpu_is_one_clear_line(tmp_path):
    result = run_cli(tmp_path, "+experiment=smoke", "training.precision=mixed_float16")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "training.precision=mixed_float16" in lines[0]
    assert "compute capability" in lines[0]


@pytest.mark.slow
def test_mixed_bfloat16_trains_close_to_float32(tmp_path, smoke_run):
    result = run_cli(
        tmp_path,
        "+experiment=smoke",
        "training.precision=mixed_bfloat16",
        "training.progress=false",
    )
    assert result.returncode == 0, result.stderr
    mixed = json.loads((tmp_path / "run" / "metrics.json").read_text())
    single = json.loads((smoke_run[0] / "metrics.json").read_text())
    assert mixed["precision"] == "mixed_bfloat16"
    assert mixed["test/loss"] != single["test/loss"], "bfloat16 arithmetic must show somewhere"
    assert mixed["test/accuracy"] == pytest.approx(single["test/accuracy"], abs=0.03)
