#!/usr/bin/env python3
"""Build the installable QGIS plugin zip (Plugins ▸ Install from ZIP): ``scripts/package.py [OUT.zip]``.

The zip holds one folder ``remine/`` with the committed files the plugin needs at run time: the root
``__init__.py``, ``metadata.txt``, ``icon.svg``, ``LICENSE``, ``README.md``, the help page and its images,
``core/``, ``plugin/``, ``processing_provider/`` and ``models/``; never tests, benchmarks, CI, build or development
files. Files come from ``git ls-files`` (committed or staged), so local outputs never slip in.
"""
import os
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME_FILES = {"__init__.py", "metadata.txt", "icon.svg", "LICENSE", "README.md", "docs/help.html"}
RUNTIME_DIRS = ("core/", "plugin/", "processing_provider/", "models/", "docs/img/")


def runtime_files(root=ROOT):
    """Repository paths (``/``-separated) that go into the plugin zip, sorted."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, check=True, capture_output=True).stdout
    paths = [p for p in listed.decode().split("\0") if p]
    return sorted(p for p in paths if (p in RUNTIME_FILES or p.startswith(RUNTIME_DIRS))
                  and os.path.isfile(os.path.join(root, p)) and "__pycache__" not in p)


def build(out, root=ROOT):
    """Write the zip to ``out``; returns the list of archive names."""
    names = []
    tmp = out + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for path in runtime_files(root):
            name = "remine/" + path
            z.write(os.path.join(root, path), name)
            names.append(name)
    os.replace(tmp, out)
    return names


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "remine.zip")
    print(f"{target}: {len(build(target))} files")
