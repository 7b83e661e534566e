"""House rules: core never imports QGIS/Qt; the plugin is Qt6-safe; metadata complete."""
import ast
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


def own_imports():
    """``{module: [(imported module, line, at top level)]}`` for the project's own modules (AST, no import)."""
    modules = {}
    for path in python_files():
        rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
        if rel.split(".")[0] not in ("core", "processing_provider", "plugin"):
            continue
        name = "remine." + (rel[:-len(".__init__")] if rel.endswith(".__init__") else rel)
        modules[name] = path
    found = {}
    for name, path in modules.items():
        tree = ast.parse(open(path, encoding="utf-8").read())
        top = {id(n) for n in tree.body}
        package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                if target in modules and target != name:
                    found.setdefault(name, []).append((target, node.lineno, id(node) in top))
    return found


def test_no_import_cycles():
    graph = {m: {t for t, _, _ in edges} for m, edges in own_imports().items()}
    state, cycles = {}, []

    def visit(m, path):
        state[m] = "open"
        for t in sorted(graph.get(m, ())):
            if state.get(t) == "open":
                cycles.append(path[path.index(t):] + [t] if t in path else [m, t])
            elif t not in state:
                visit(t, path + [t])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


def test_algorithms_import_no_sibling_algorithm():
    siblings = [f"{m}:{line} imports {t}" for m, edges in own_imports().items()
                if m.startswith("remine.processing_provider.algorithms.")
                for t, line, _ in edges if t.startswith("remine.processing_provider.algorithms.")]
    assert not siblings, siblings


def test_own_modules_are_imported_at_the_top():
    # lazy on purpose: numba kernels (numba takes ~0.7 s to import), the scikit-learn transformers of
    # remine.core.spectra (the toolbox loads without scikit-learn), and the provider, imported once the
    # plugin has set sys.executable
    lazy = {("remine.core.unmix.solvers", "remine.core.unmix._kernels"),
            ("remine.core.unmix.intervals", "remine.core.unmix._kernels"),
            ("remine.core.unmix.intervals", "remine.core.unmix._interval_kernels"),
            ("remine.core.unmix.mesma", "remine.core.unmix._mesma_kernels"),
            ("remine.core.spectra", "remine.core.spectra.transformers"),
            ("remine.core.learn.train", "remine.core.spectra.transformers"),
            ("remine.plugin.plugin", "remine.processing_provider.provider"),
            # the 3D viewer module also runs as a script in its own process (numpy + pyvista only)
            ("remine.core.volume.view", "remine.core.errors"), ("remine.core.volume.view", "remine.core.volume.render")}
    # algorithms import the core modules that need scikit-learn, numba or torch when they run: QGIS registers
    # them in a Python that may lack those (tests/qgis/test_provider_light.py); the plugin's dialogs load on click
    hidden = [f"{m}:{line} imports {t} inside a function" for m, edges in own_imports().items()
              for t, line, at_top in edges if not at_top and (m, t) not in lazy
              and not m.startswith(("remine.processing_provider.algorithms.", "remine.plugin."))]
    assert not hidden, hidden


def test_pyvista_only_in_its_own_processes():
    """PyVista/VTK in the QGIS process crash QGIS on close (pyvista/pyvistaqt#69): only the render worker and the 3D
    viewer import them, inside functions, and both run as scripts in processes of their own (core.volume.render,
    core.volume.view; the plugin imports view to start its process)."""
    users = set()
    for path in python_files():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        in_functions = {id(n) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                        for n in ast.walk(fn)}
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] in ("pyvista", "pyvistaqt", "vtk", "vtkmodules") for n in names):
                users.add((os.path.relpath(path, ROOT), id(node) not in in_functions))
    assert users == {(os.path.join("core", "volume", "render_worker.py"), False),
                     (os.path.join("core", "volume", "view.py"), False)}
