"""A throw-away single-node Slurm (slurmctld + slurmd + munged) for the `slurm` tests.

Debian's slurm-wlm and munge as root, no cgroup control (proctrack/linuxproc, task/none),
SlurmctldHost/NodeName = `hostname -s`, state under a scratch dir; stopped by the pids in
its pid files, never by name.
"""
import os
import shutil
import signal
import socket
import subprocess
import time


class LocalSlurm:
    def __init__(self, scratch):
        self.scratch = scratch
        self.pids = []
        self.host = socket.gethostname().split(".")[0]

    def _munge(self):
        key = "/etc/munge/munge.key"
        if not os.path.exists(key) or os.path.getsize(key) < 32:
            os.makedirs("/etc/munge", exist_ok=True)
            with open(key, "wb") as f:
                f.write(os.urandom(1024))
        shutil.chown(key, "munge", "munge")
        os.chmod(key, 0o400)
        for d in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
            os.makedirs(d, exist_ok=True)
            shutil.chown(d, "munge", "munge")
        pidfile = "/run/munge/lssd-test-munged.pid"  # munged runs as munge: not in the scratch dir
        sock = "/run/munge/munge.socket.2"
        if os.path.exists(sock) and subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return  # a munged is already serving
        subprocess.run(["runuser", "-u", "munge", "--", "munged", "--force", "--pid-file", pidfile],
                       check=True, capture_output=True)
        self._wait_pidfile(pidfile)
        for _ in range(50):
            if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("munged did not come up")

    def _wait_pidfile(self, path, timeout=10):
        t = time.time()
        while time.time() - t < timeout:
            try:
                pid = int(open(path).read().strip())
                self.pids.append(pid)
                return pid
            except (OSError, ValueError):
                time.sleep(0.1)
        raise RuntimeError(f"no pid file {path}")

    def start(self):
        os.makedirs(self.scratch, exist_ok=True)
        self._munge()
        free_mb = int(open("/proc/meminfo").read().split("MemAvailable:")[1].split()[0]) // 1024
        mem = max(1024, free_mb - 2048)
        s = self.scratch
        conf = f"""ClusterName=lssdtest
SlurmctldHost={self.host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
StateSaveLocation={s}/state
SlurmdSpoolDir={s}/spool
SlurmctldPidFile={s}/slurmctld.pid
SlurmdPidFile={s}/slurmd.pid
SlurmctldLogFile={s}/slurmctld.log
SlurmdLogFile={s}/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName={self.host} CPUs={os.cpu_count()} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
"""
        for d in ("state", "spool"):
            os.makedirs(os.path.join(s, d), exist_ok=True)
        self.conf = os.path.join(s, "slurm.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        os.environ["SLURM_CONF"] = self.conf
        subprocess.run(["slurmctld", "-f", self.conf], check=True)
        self._wait_pidfile(f"{s}/slurmctld.pid")
        subprocess.run(["slurmd", "-f", self.conf], check=True)
        self._wait_pidfile(f"{s}/slurmd.pid")
        for _ in range(100):
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True).stdout
            if "idle" in out:
                return
            time.sleep(0.2)
        raise RuntimeError("the Slurm node did not become idle: " + open(f"{s}/slurmctld.log").read()[-2000:])

    def stop(self):
        for pid in reversed(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
