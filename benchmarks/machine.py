"""What the benchmark ran on: CPU, cores, memory, OS and library versions."""

from __future__ import annotations

import os
import platform
import re
from importlib import metadata

from mnist_exp.training.threads import usable_cores

PACKAGES = ("tensorflow-cpu", "tensorflow", "keras", "numpy", "hydra-core", "rich")


def describe(with_torch: bool) -> dict:
    cpu = _cpuinfo()
    versions = {"python": platform.python_version()}
    for package in (*PACKAGES, *(["torch"] if with_torch else [])):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cpu": cpu.get("model name", platform.processor() or "unknown"),
        "cpu_family_model": f"family {cpu.get('cpu family', '?')} model {cpu.get('model', '?')}",
        "cpu_mhz": cpu.get("cpu MHz"),
        "cache": cpu.get("cache size"),
        "simd": " ".join(f for f in ("avx2", "fma", "avx512f") if f in cpu.get("flags", "")),
        "usable_cores": usable_cores(),
        "logical_cpus": os.cpu_count(),
        "memory_gib": round(_memory_kib() / 1024**2, 1),
        "os": _os_name(),
        "kernel": platform.release(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "versions": versions,
    }


def slug(described: dict) -> str:
    """A file name for this kind of machine: cpu model and cores."""
    cpu = re.sub(r"[^a-z0-9]+", "-", described["cpu"].lower()).strip("-")
    return f"{cpu}-{described['usable_cores']}-cores"


def _cpuinfo() -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                found[key.strip()] = value.strip()
    except OSError:
        pass
    return found


def _memory_kib() -> int:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", platform.system())
    except OSError:
        return platform.system()
