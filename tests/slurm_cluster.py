"""A real one-node SLURM cluster on this machine, for the tests: munged, slurmctld and
slurmd from Debian's packages (`make slurm` installs them), on 127.0.0.1, every file
in a folder of the test session, no accounting database (as on many small clusters:
sacct answers nothing). The fixture starts the three daemons in the foreground, as
its own children, and stops exactly those, by pid."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sinfo", "squeue", "scancel", "sbatch")
INSTALL = "apt-get install slurm-wlm munge (make test installs them where it can)"


@dataclass
class Cluster:
    folder: Path
    env: dict[str, str]  # SLURM_CONF for the commands and the sweeps the tests run
    node: str

    def run(self, *args: str) -> str:
        found = subprocess.run(
            args, env=self.env, capture_output=True, text=True, timeout=60, check=True
        )
        return found.stdout

    def jobs(self) -> dict[str, str]:
        """Every job (array task) slurmctld knows, by id: its state."""
        lines = self.run("squeue", "--noheader", "--array", "--states=all", "--format=%i|%T")
        return dict(line.strip().split("|", 1) for line in lines.splitlines() if "|" in line)

    def wait_for(self, what, timeout: float = 180, every: float = 0.5):
        """what()'s first true value, asked every `every` s for up to `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = what()
            if found:
                return found
            time.sleep(every)
        raise AssertionError(f"still waiting after {timeout} s: {what.__doc__ or what}")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def slurm_conf(folder: Path, node: str, ports: list[int]) -> str:
    cpus = os.cpu_count() or 1
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return f"""\
ClusterName=mnistexp
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ports[0]}
SlurmdPort={ports[1]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={folder}/munge.socket
CredType=cred/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
KillWait=10
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb * 3 // 4} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


@pytest.fixture(scope="module")
def slurm(tmp_path_factory) -> Iterator[Cluster]:
    missing = [name for name in DAEMONS if shutil.which(name) is None]
    if missing:
        pytest.skip(f"no SLURM here ({', '.join(missing)} not found): {INSTALL}")
    if os.geteuid() != 0:
        pytest.skip("the test cluster's daemons run as root (SlurmUser=root)")
    # short: munge's and slurm's sockets live in it
    folder = Path(tmp_path_factory.mktemp("slurm", numbered=True))
    for name in ("state", "spool"):
        (folder / name).mkdir()
    node = socket.gethostname().split(".")[0]
    (folder / "slurm.conf").write_text(slurm_conf(folder, node, free_ports(2)))
    env = {**os.environ, "SLURM_CONF": str(folder / "slurm.conf")}
    subprocess.run(
        ["mungekey", "--create", f"--keyfile={folder}/munge.key"], check=True, capture_output=True
    )
    os.chmod(folder / "munge.key", 0o400)
    started: list[subprocess.Popen] = []

    def start(*args: str) -> None:
        log = open(folder / f"{Path(args[0]).name}.out", "wb")  # noqa: SIM115 (the daemon's)
        started.append(
            subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
        )

    cluster = Cluster(folder, env, node)
    try:
        start(
            "munged", "--foreground", "--force", f"--socket={folder}/munge.socket",
            f"--key-file={folder}/munge.key", f"--pid-file={folder}/munged.pid",
            f"--log-file={folder}/munged.log", f"--seed-file={folder}/munged.seed",
        )  # fmt: skip
        cluster.wait_for(lambda: (folder / "munge.socket").exists(), timeout=30)
        start("slurmctld", "-D", "-i")
        start("slurmd", "-D", "-N", node)

        def node_idle():
            """the node idle in sinfo"""
            for process in started:
                if process.poll() is not None:
                    logs = "\n".join(p.read_text()[-800:] for p in folder.glob("*.log"))
                    raise AssertionError(
                        f"{process.args[0]} exited ({process.returncode}):\n{logs}"
                    )
            try:
                return "idle" in cluster.run("sinfo", "--noheader", "--format=%T")
            except subprocess.CalledProcessError:
                return False

        cluster.wait_for(node_idle, timeout=60)
        yield cluster
    finally:
        for process in reversed(started):  # slurmd, slurmctld, then munged
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
