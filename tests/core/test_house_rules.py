"""House rules: core never imports QGIS/Qt; the plugin is Qt6-safe; metadata complete."""
import configparser
import os
import pkgutil
import re
import subprocess
import sys

import remine

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def core_modules():
    import remine.core

    return ["remine.core"] + [m.name for m in pkgutil.walk_packages(remine.core.__path__, "remine.core.")]


def test_importing_every_core_module_leaves_no_qgis_or_qt():
    code = ("import importlib, sys\n"
            f"for m in {core_modules()!r}:\n"
            "    importlib.import_module(m)\n"
            "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('qgis', 'PyQt5', 'PyQt6', 'processing'))\n"
            "print(len(sys.modules)); assert not bad, bad\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(core_modules()) >= 10


def python_files():
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in (".venv", "build", ".git", "__pycache__", "demo-output", "tests")]
        for f in files:
            if f.endswith(".py"):
                yield os.path.join(folder, f)


def test_qt6_safe_sources():
    offenders = []
    for path in python_files():
        text = open(path, encoding="utf-8").read()
        for n, line in enumerate(text.splitlines(), 1):
            if re.match(r"\s*(from|import)\s+(PyQt5|PyQt6|PySide)", line) or re.search(r"\bexec_\(", line):
                offenders.append(f"{os.path.relpath(path, ROOT)}:{n}: {line.strip()}")
    assert not offenders, offenders


def test_metadata_complete():
    meta = configparser.ConfigParser()
    meta.read(os.path.join(ROOT, "metadata.txt"), encoding="utf-8")
    g = meta["general"]
    for key in ("name", "description", "about", "version", "qgisMinimumVersion", "qgisMaximumVersion", "author",
                "email", "repository", "tags", "category", "icon", "hasProcessingProvider", "supportsQt6"):
        assert g.get(key), key
    assert g["name"] == "remine" and g["qgisMinimumVersion"] == "3.22" and g["qgisMaximumVersion"] == "4.99"
    assert g["supportsQt6"] == "True" and g["hasProcessingProvider"] == "yes" and g["category"] == "Analysis"
    assert os.path.isfile(os.path.join(ROOT, g["icon"]))
    from remine.core import __version__

    assert g["version"] == __version__


def test_package_import_root_is_the_checkout():
    assert os.path.realpath(os.path.dirname(remine.__file__)) == os.path.realpath(ROOT)
    run = subprocess.run([sys.executable, "-c", "import remine.core.raster"], capture_output=True, text=True, cwd="/")
    assert run.returncode == 0, run.stderr
