"""The span decoder's modules compiled to C with mypyc, where this machine can build them.

Decoding OTLP spans (protobuf to typed Arrow columns) is most of the server's Python time under
load. mypyc compiles the same type-annotated modules to a C extension: ``tracehouse compile``
(``./dev`` runs it) writes the extension into the virtualenv (``<venv>/tracehouse-compiled``)
with a digest of the sources it was built from. The packages that hold those modules call
``install()`` first thing when imported, which makes the modules import from the extension only
while every source of this checkout is the one compiled: compiled modules call each other
directly, so one edited source turns all of them back into plain Python until the next build.

Without a C compiler or Python's headers nothing changes: the same modules run as Python.
``TRACEHOUSE_PURE_PYTHON=1`` does the same on a machine that built them.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "MODULES",
    "PURE_ENV",
    "SOURCE_PACKAGES",
    "build",
    "can_build",
    "install",
    "main",
    "sources_digest",
    "status",
]

# The decode path, callees first. Every module here is under mypy's strict checks (pyproject.toml).
MODULES = (
    "storage.attribute_codec",
    "otlp_receiver.genai_facts",
    "otlp_receiver.mapping.rules",
    "otlp_receiver.mapping.messages",
    "otlp_receiver.mapping.apply",
    "otlp_receiver.decode",
)
# The packages of the modules and of what they import (the rest of the code is not read).
SOURCE_PACKAGES = ("storage", "otlp_receiver", "pricing", "tracehouse")
PURE_ENV = "TRACEHOUSE_PURE_PYTHON"
ROOT = Path(__file__).resolve().parents[1]
DIRECTORY = Path(sys.prefix) / "tracehouse-compiled"

BUILD_HINT = "run 'tracehouse compile' (./dev does) where a C compiler is installed"
_state = {"status": f"pure Python (not built: {BUILD_HINT})"}


def _source(root: Path, module: str) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def sources_digest(root: Path = ROOT) -> str:
    """A digest of the compiled modules' sources, and of the Python that runs them."""
    h = hashlib.sha256(sys.version.encode())
    for module in MODULES:
        h.update(module.encode() + b"\0" + _source(root, module).read_bytes() + b"\0")
    return h.hexdigest()


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the compiled extension of each module in ``modules`` (and the group's shared library)."""

    def __init__(self, root: Path, directory: Path, modules: dict[str, str], group: str) -> None:
        self._root = root
        self._directory = directory
        self._modules = modules
        self._group = group

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == self._group:
            return importlib.util.spec_from_file_location(fullname, self._directory / self._modules[fullname])
        if fullname not in self._modules:
            return None
        # Only where Python would have imported the source that was compiled (not another checkout's).
        found = importlib.machinery.PathFinder.find_spec(fullname, path)
        if found is None or found.origin is None or Path(found.origin).resolve() != _source(self._root, fullname):
            return None
        return importlib.util.spec_from_file_location(fullname, self._directory / self._modules[fullname])


def install(directory: Path = DIRECTORY, root: Path = ROOT) -> bool:
    """Import the decoder's modules from their compiled extension from now on, if it was built
    from these very sources; return whether it was. Call before they are imported (the packages
    ``storage`` and ``otlp_receiver`` do); calls after the first change nothing."""
    if directory == DIRECTORY and root == ROOT:
        if _state.get("installed"):
            return _state["installed"] == "yes"
        _state["installed"] = "yes" if _install(directory, root) else "no"
        return _state["installed"] == "yes"
    return _install(directory, root)


def _install(directory: Path, root: Path) -> bool:
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        _state["status"] = f"pure Python ({PURE_ENV} is set)"
        return False
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    try:
        current = sources_digest(root)
    except OSError:
        return False
    if manifest.get("digest") != current:
        _state["status"] = f"pure Python (the sources changed since the compiled build: {BUILD_HINT})"
        return False
    if any(isinstance(f, _Finder) for f in sys.meta_path):
        return True
    sys.meta_path.insert(0, _Finder(root, directory, manifest["modules"], manifest["group"]))
    _state["status"] = "compiled (mypyc)"
    return True


def status() -> str:
    """How the decoder runs in this process: compiled, or pure Python and why."""
    module = sys.modules.get("otlp_receiver.decode")
    if module is not None and not str(getattr(module, "__file__", "")).endswith(".py"):
        return "compiled (mypyc)"
    if module is not None and _state["status"].startswith("compiled"):
        return "pure Python (imported before the compiled modules were installed)"
    return _state["status"]


def can_build() -> str | None:
    """Why this machine cannot build the extension, or None if it can."""
    try:
        import mypyc  # noqa: F401
    except ImportError:
        return "mypyc is not installed (pip install mypy)"
    if not Path(sysconfig.get_paths()["include"], "Python.h").exists():
        return "Python's C headers are missing (Debian: apt-get install python3-dev)"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler}; Debian: apt-get install gcc)"
    return None


def build(directory: Path = DIRECTORY, root: Path = ROOT) -> str:
    """Compile MODULES into ``directory`` unless it holds a build of these sources; return what it did."""
    digest = sources_digest(root)
    try:
        if json.loads((directory / "manifest.json").read_text()).get("digest") == digest:
            return f"up to date in {directory}"
    except (OSError, ValueError):
        pass
    why_not = can_build()
    if why_not is not None:
        raise RuntimeError(why_not)
    from mypyc.build import mypycify  # only here: a dependency of the build, not of the server
    from setuptools import setup

    staging = Path(tempfile.mkdtemp(prefix="tracehouse-compiled-", dir=directory.parent))
    work = Path(tempfile.mkdtemp(prefix="tracehouse-mypyc-"))
    cwd = os.getcwd()
    try:
        os.chdir(work)  # setuptools reads the configuration of the directory it runs in: none here
        # A copy of the packages the modules import: installed without -e, they sit in
        # site-packages, and mypy would read every module there as ours (and refuse the lot).
        source = work / "src"
        for package in SOURCE_PACKAGES:
            shutil.copytree(root / package, source / package, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
        paths = [str(_source(source, m)) for m in MODULES]
        extensions = mypycify([*paths, "--ignore-missing-imports"], opt_level="3", group_name="tracehouse_decoder")
        setup(
            name="tracehouse-compiled",
            ext_modules=extensions,
            script_args=["--quiet", "build_ext", "--build-lib", str(staging), "--build-temp", str(work / "tmp")],
        )
        built = [str(p.relative_to(staging)) for p in staging.rglob("*.so")]
        modules = {}
        for module in MODULES:
            prefix = module.replace(".", "/") + "."
            modules[module] = next(name for name in built if name.startswith(prefix))
        group = next(name for name in built if "/" not in name and "__mypyc" in name)
        modules[group.split(".")[0]] = group
        manifest = {"digest": digest, "modules": modules, "group": group.split(".")[0]}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1))
        if directory.exists():
            shutil.rmtree(directory)
        staging.rename(directory)
    finally:
        os.chdir(cwd)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)
    return f"built {len(MODULES)} modules into {directory}"


def main() -> int:
    """``tracehouse compile``: build, or say why not (the decoder then runs as Python)."""
    try:
        print(build())
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure leaves the modules in plain Python
        print(f"not compiled ({exc}); the decoder runs as plain Python", file=sys.stderr)
        return 1
    return 0
