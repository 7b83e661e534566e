"""Helpers for the benchmark scripts: run a side in a fresh process and collect its time and peak RSS."""
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time


def run_side(module, side, *args):
    """Run ``python -m benchmarks.<module> --side <side> args`` in a fresh process; its JSON result.

    The child reports its own wall time and ``VmHWM (peak resident set, MB), so each side's peak
    memory is measured alone.
    """
    cmd = [sys.executable, os.path.abspath(sys.modules[module].__file__), "--side", side, *map(str, args)]
    run = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PROJ_DATA": "/usr/share/proj"})
    if run.returncode != 0:
        raise RuntimeError(f"{side} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def run_worker(script, name, folder, *args):
    """Run ``python SCRIPT --worker NAME --data FOLDER args`` in a fresh process; its JSON result (the last
    stdout line), or ``{"error": <end of stderr>}`` when it fails."""
    cmd = [sys.executable, os.path.abspath(script), "--worker", name, "--data", folder, *map(str, args)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        return {"error": res.stderr[-2000:]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def run_rscript(script, folder):
    """Run an R script (written to FOLDER/bench.R) under ``/usr/bin/time -v``:
    ``{"stdout": <its output>, "peak_rss_mb": <MB>}``, or ``{"error": ...}`` when R is missing or fails."""
    if shutil.which("Rscript") is None:
        return {"error": "Rscript not found (install r-cran-gstat)"}
    path = os.path.join(folder, "bench.R")
    with open(path, "w") as f:
        f.write(script)
    cmd = ["/usr/bin/time", "-v", "Rscript", path] if os.path.exists("/usr/bin/time") else ["Rscript", path]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        return {"error": res.stderr[-2000:]}
    out = {"stdout": res.stdout}
    for line in res.stderr.splitlines():
        if "Maximum resident set size" in line:
            out["peak_rss_mb"] = int(line.split(":")[1]) / 1024.0
    return out


def peak_rss_mb():
    """This process's peak resident set (MB): VmHWM, which, unlike ``ru_maxrss``, does not inherit the
    high-water mark of the parent that forked it."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_report(seconds, **extra):
    """Print the child's result as the last stdout line (JSON)."""
    print(json.dumps({"seconds": seconds, "peak_rss_mb": round(peak_rss_mb(), 1), **extra}))


def machine():
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S")}


def write_json(path, result):
    """Print the result as JSON and, with ``path``, write it there (folder created)."""
    text = json.dumps(result, indent=2)
    print(text)
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            f.write(text + "\n")


def timings(repeats, work):
    """Wall times (s) of ``repeats`` runs of ``work()``: report the best (the least disturbed run on a shared
    machine) and the median."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        work()
        times.append(time.perf_counter() - t)
    return times
