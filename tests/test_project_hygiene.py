"""The documented surface matches the code: settings, exports, CI."""

import importlib
from pathlib import Path

import pytest

from tracehouse.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"`{ENV_PREFIX}{name.upper()}`" in readme, name


@pytest.mark.parametrize("package", ["storage", "query_api", "otlp_receiver", "tracehouse", "tracehouse.errors"])
def test_exports_exist(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.{name}"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "./dev test" in readme and "./dev test" in ci


def test_the_wheel_ships_the_ui_price_table_and_protos(tmp_path) -> None:
    """An installed Tracehouse (pip, the Docker image) serves the UI and prices spans."""
    import subprocess
    import sys
    import zipfile

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # setuptools warns of package data it means to stop shipping (a folder not declared a package).
    assert "BuildBackendWarning" not in result.stderr, result.stderr[-2000:]
    names = set(zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist())
    ui = {p.name for p in (ROOT / "ui").iterdir() if p.suffix in (".html", ".js", ".css")}
    assert ui and {f"ui/{n}" for n in ui} <= names
    assert "pricing/prices.json" in names and "proto/tempo.proto" in names
    # The UI's languages: without its catalogs an installed UI falls back to English, silently.
    locales = {f"ui/locales/{p.name}" for p in (ROOT / "ui" / "locales").glob("*.json")}
    assert {"ui/locales/en.json", "ui/locales/zh-CN.json"} <= locales <= names
    assert "query_api/locales/zh-CN.json" in names  # the API's error messages in Chinese
