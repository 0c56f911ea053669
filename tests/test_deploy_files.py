"""The deployment files are well formed and agree with the code (there is no Docker engine here to
run them: these checks are what CI can do)."""

import json
from pathlib import Path

import yaml

from tracehouse.cli import build_parser
from tracehouse.settings import ENV_PREFIX, Settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_compose_file() -> None:
    doc = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = doc["services"]
    assert set(services) == {"clickhouse", "receiver", "query", "grafana"}
    assert services["clickhouse"]["image"].split(":")[1][0].isdigit()  # pinned
    assert services["grafana"]["image"].split(":")[1][0].isdigit()
    subcommands = next(a for a in build_parser()._actions if a.dest == "command").choices
    for name in ("receiver", "query"):
        service = services[name]
        assert service["command"][0] == name and name in subcommands
        env = service["environment"]
        for key in env:
            if key.startswith(ENV_PREFIX):
                assert key[len(ENV_PREFIX) :].lower() in Settings.model_fields, key
        assert env["TRACEHOUSE_CLICKHOUSE_URL"].startswith("clickhouse://")
        assert service["depends_on"]["clickhouse"]["condition"] == "service_healthy"
    for mount in services["grafana"]["volumes"]:
        source = mount.split(":")[0]
        assert (DEPLOY / source).exists(), source


def test_grafana_provisioning() -> None:
    sources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/tracehouse.yaml").read_text())
    assert sources["apiVersion"] == 1
    by_type = {d["type"]: d for d in sources["datasources"]}
    assert by_type["tempo"]["url"].endswith("/tempo") and by_type["prometheus"]["url"].endswith("/prometheus")
    assert by_type["tempo"]["jsonData"]["streamingEnabled"] == {"search": False, "metrics": False}
    for source in sources["datasources"]:
        assert {"name", "uid", "type", "access", "url"} <= set(source)
    dashboards = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/tracehouse.yaml").read_text())
    assert dashboards["apiVersion"] == 1 and dashboards["providers"][0]["type"] == "file"
    dashboard = json.loads((DEPLOY / "grafana/tracehouse-dashboard.json").read_text())
    assert {"title", "uid", "panels", "schemaVersion"} <= set(dashboard)
    assert all(p["datasource"]["type"] == "prometheus" for p in dashboard["panels"])


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    text = (DEPLOY.parent / "Dockerfile").read_text()
    assert "USER tracehouse" in text and "HEALTHCHECK" in text and 'ENTRYPOINT ["tracehouse"]' in text
    for package in ("tracehouse", "storage", "otlp_receiver", "query_api", "ui"):
        assert f"COPY {package} " in text
