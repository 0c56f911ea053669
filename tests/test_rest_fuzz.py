"""A schema-driven fuzz run (schemathesis, from the OpenAPI document) finds no server error in /api/v1."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import Server


def test_schemathesis_finds_no_5xx(server: Server) -> None:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert cli, "schemathesis is a test dependency: run ./dev test"
    result = subprocess.run(
        [
            cli,
            "run",
            server.api_url + "/api/v1/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert result.returncode == 0 and summary, result.stdout[-4000:]
    generated, passed = map(int, summary.groups())
    assert generated >= 100 and generated == passed
    assert server.process.poll() is None and server.get("/api/public/health")[0] == 200
