"""`make package` builds a plugin zip with only run-time files; installed into a fresh QGIS profile whose Python
has only Debian's packages, qgis_process lists every remine algorithm."""
import configparser
import os
import subprocess
import sys
import zipfile

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from package import build  # noqa: E402


def debian_only_env(home, profile):
    """What an analyst's QGIS sees before installing anything: Debian's Python, a fresh profile and HOME."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "QGIS_PLUGINPATH")}
    env.update(HOME=str(home), QGIS_CUSTOM_CONFIG_PATH=str(profile), QT_QPA_PLATFORM="offscreen",
               PROJ_DATA="/usr/share/proj", PYTHONNOUSERSITE="1", PATH="/usr/bin:/bin")
    return env


def test_zip_installs_into_fresh_profile(tmp_path, remine_processing):
    out = str(tmp_path / "remine.zip")
    names = build(out)
    tops = {n.split("/")[1] for n in names}
    assert all(n.startswith("remine/") for n in names)
    assert {"__init__.py", "metadata.txt", "LICENSE", "core", "processing_provider", "plugin"} <= tops
    assert not tops & {"tests", "benchmarks", ".ci", "Makefile", "requirements-dev.txt", "scripts", "pyproject.toml"}
    with zipfile.ZipFile(out) as z:
        assert "GNU GENERAL PUBLIC LICENSE" in z.read("remine/LICENSE").decode()
        meta = configparser.ConfigParser()
        meta.read_string(z.read("remine/metadata.txt").decode())
        assert meta["general"]["changelog"].strip().startswith("0.1.0")
        plugins = tmp_path / "profile" / "profiles" / "default" / "python" / "plugins"
        z.extractall(plugins)
    env = debian_only_env(tmp_path / "home", tmp_path / "profile")
    (tmp_path / "home").mkdir()
    enable = subprocess.run(["/usr/bin/qgis_process.bin", "plugins", "enable", "remine"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert enable.returncode == 0, enable.stdout[-2000:] + enable.stderr[-2000:]
    listed = subprocess.run(["/usr/bin/qgis_process.bin", "list"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert "Traceback" not in listed.stderr and "Error" not in listed.stderr, listed.stderr[-3000:]
    found = {line.split()[0] for line in listed.stdout.splitlines() if line.strip().startswith("remine:")}
    assert found == {a.id() for a in remine_processing.algorithms()}, listed.stdout[-3000:]
