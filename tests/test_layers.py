"""The import-layer contracts ([tool.importlinter] in pyproject.toml) and the strict type checks
([tool.mypy]) hold for the code, and they fail on a planted violation: the test plants lower
layers importing higher ones, and a type error, in a copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.langfuse_helpers import ROOT

# Every package the contracts name (so a new top-level package is copied without editing this).
PACKAGES = (*tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"], "proto")
LINT = Path(sys.executable).parent / "lint-imports"


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("module", "planted"),
    [
        ("storage/__init__.py", "import query_api.app"),  # storage reaching up to an API
        ("tracehouse/errors.py", "import storage"),  # the kernel reaching up to storage
        ("otlp_receiver/decode.py", "import query_api.rest"),  # a transport reaching across
        ("pricing/__init__.py", "import otlp_receiver"),  # pricing reaching up to a transport
        ("credentials/__init__.py", "import query_api.access"),  # credentials reaching up to an API
        ("query_api/rest.py", "import storage.backends"),  # an API around the store, to a backend
    ],
)
def test_import_layers_hold_and_fail_on_a_planted_violation(tree: Path, module: str, planted: str) -> None:
    clean = lint(tree)
    assert clean.returncode == 0, clean.stdout[-3000:]
    with (tree / module).open("a") as f:
        f.write(f"\n{planted}  # planted\n")
    broken = lint(tree)
    assert broken.returncode != 0 and "BROKEN" in broken.stdout, broken.stdout[-3000:]


def test_callers_go_through_the_store_not_its_backend() -> None:
    """Above storage, nothing reaches for ``store.backend``: every reader and writer is on the store."""
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for package in ("otlp_receiver", "query_api", "credentials", "tracehouse")
        for path in (ROOT / package).rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if ".backend." in line or ".backend)" in line or ".backend," in line
    ]
    assert not offenders, offenders


def test_strict_types_hold_and_fail_on_a_planted_error(tree: Path) -> None:
    def mypy() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--config-file",
                str(tree / "pyproject.toml"),
                "--cache-dir",
                str(tree / ".mc"),
            ],
            cwd=tree,
            capture_output=True,
            text=True,
            timeout=600,
        )

    clean = mypy()
    assert clean.returncode == 0, clean.stdout[-3000:]
    with (tree / "storage" / "cursors.py").open("a") as f:
        f.write('\n\ndef planted() -> int:\n    return "not an int"\n')
    broken = mypy()
    assert broken.returncode != 0 and "cursors.py" in broken.stdout, broken.stdout[-3000:]
