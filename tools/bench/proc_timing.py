"""What the benchmarks measure of a child process: its exit code, output, wall time, CPU time
(wait4's rusage: user and system) and peak RSS; and the machine's load average."""
import collections
import os
import subprocess
import tempfile
import time

Timed = collections.namedtuple("Timed", "rc out err wall user sys rss_mb")


def loadavg():
    """The 1-minute load average."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def timed(cmd, **kw):
    """Runs cmd (Popen keyword arguments in kw) to its end; returns a Timed of that process: stdout
    and stderr as text, wall seconds, user and system CPU seconds, peak RSS in MB."""
    t0 = time.time()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, **kw)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.time() - t0
        out.seek(0)
        err.seek(0)
        return Timed(os.waitstatus_to_exitcode(status), out.read().decode(errors="replace"),
                     err.read().decode(errors="replace"), wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss / 1024)
