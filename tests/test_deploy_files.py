"""The deployment files are well formed and agree with the code (there is no Docker engine here to
run them: these checks are what CI can do)."""

import json
import tomllib
from pathlib import Path

import yaml

from tracehouse.cli import build_parser
from tracehouse.settings import ENV_PREFIX, Settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_compose_file() -> None:
    doc = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = doc["services"]
    assert set(services) == {"clickhouse", "minio", "receiver", "query", "grafana"}
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
        # Media in the object store every process shares, with the store's own credentials.
        assert service["depends_on"]["minio"]["condition"] == "service_healthy"
        assert env["TRACEHOUSE_MEDIA_S3_ENDPOINT"] == "http://minio:9000"
        minio_env = services["minio"]["environment"]
        assert env["TRACEHOUSE_MEDIA_S3_ACCESS_KEY"] == minio_env["MINIO_ROOT_USER"]
        assert env["TRACEHOUSE_MEDIA_S3_SECRET_KEY"] == minio_env["MINIO_ROOT_PASSWORD"]
    for mount in services["grafana"]["volumes"]:
        source = mount.split(":")[0]
        assert (DEPLOY / source).exists(), source


def test_grafana_provisioning() -> None:
    sources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/tracehouse.yaml").read_text())
    assert sources["apiVersion"] == 1
    by_type = {d["type"]: d for d in sources["datasources"]}
    assert by_type["tempo"]["url"].endswith("/tempo") and by_type["prometheus"]["url"].endswith("/prometheus")
    assert by_type["tempo"]["jsonData"]["streamingEnabled"] == {"search": False, "metrics": False}
    # the Service Graph reads the span and service-graph metrics the Prometheus API serves
    assert by_type["tempo"]["jsonData"]["serviceMap"]["datasourceUid"] == by_type["prometheus"]["uid"]
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
    # The image installs every package pyproject.toml lists (a missing one is an ImportError at
    # start-up): the whole build context is copied, and .dockerignore leaves none of them out.
    assert "COPY . ./" in text
    pyproject = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    ignored = set((DEPLOY.parent / ".dockerignore").read_text().split())
    assert packages and not packages & ignored, packages & ignored
    assert all((DEPLOY.parent / p).is_dir() for p in packages)


def compose(path: Path) -> dict:
    """A compose file as Compose reads it: YAML anchors and merge keys resolved, then checked
    against the Compose specification."""
    from compose_spec import PyCompose

    doc = yaml.safe_load(path.read_text())
    PyCompose.from_json(json.dumps(doc))  # raises ValueError naming what is wrong
    return doc


def test_compose_files_follow_the_compose_specification() -> None:
    from compose_spec import PyCompose

    for path in (DEPLOY / "docker-compose.yml", DEPLOY / "clickhouse-cluster" / "docker-compose.yml"):
        compose(path)
    try:  # and the check can fail
        PyCompose.from_json(json.dumps({"services": {"a": {"image": "x", "ports": ["not-a-port"]}}}))
    except ValueError:
        pass
    else:
        raise AssertionError("an invalid compose file was accepted")


def _settings_keys(env: dict) -> None:
    for key in env:
        if key.startswith(ENV_PREFIX):
            assert key[len(ENV_PREFIX) :].lower() in Settings.model_fields, key


def test_cluster_example_is_consistent() -> None:
    import xml.etree.ElementTree as ET

    folder = DEPLOY / "clickhouse-cluster"
    doc = compose(folder / "docker-compose.yml")
    services = doc["services"]
    config = ET.parse(folder / "config.d" / "cluster.xml").getroot()
    (cluster,) = list(config.find("remote_servers"))
    shards = cluster.findall("shard")
    assert len(shards) == 2 and all(len(s.findall("replica")) == 2 for s in shards)  # 2 x 2
    hosts = [r.findtext("host") for s in shards for r in s.findall("replica")]
    assert all(s.findtext("internal_replication") == "true" for s in shards)
    nodes = {name: s for name, s in services.items() if name.startswith("ch-")}
    assert sorted(hosts) == sorted(nodes)
    # Each node's macros: its shard (as in remote_servers) and a unique replica name.
    for index, shard in enumerate(shards, start=1):
        for replica in shard.findall("replica"):
            env = nodes[replica.findtext("host")]["environment"]
            assert int(env["SHARD"]) == index and env["REPLICA"] == replica.findtext("host")
    assert {m.get("from_env") for m in config.find("macros")} == {"SHARD", "REPLICA"}
    # Keeper: the nodes the servers use are the keeper services, with matching raft ids.
    keepers = [n.findtext("host") for n in config.find("zookeeper")]
    keeper = ET.parse(folder / "keeper" / "keeper.xml").getroot().find("keeper_server")
    raft = {s.findtext("hostname"): s.findtext("id") for s in keeper.find("raft_configuration")}
    assert sorted(keepers) == sorted(raft) == sorted(n for n in services if n.startswith("keeper-"))
    assert all(services[h]["environment"]["KEEPER_ID"] == i for h, i in raft.items())
    # Tracehouse: the cluster name it is told is the one configured; migrate runs first.
    subcommands = next(a for a in build_parser()._actions if a.dest == "command").choices
    for name in ("migrate", "receiver-1", "receiver-2", "query"):
        service = services[name]
        assert service["command"][0] in subcommands
        env = service["environment"]
        _settings_keys(env)
        assert env["TRACEHOUSE_CLICKHOUSE_CLUSTER"] == cluster.tag
        assert env["TRACEHOUSE_CLICKHOUSE_URL"].split("@")[1].split(":")[0] in nodes
    assert services["receiver-1"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    users = ET.parse(folder / "users.d" / "tracehouse.xml").getroot()
    assert users.find("profiles/reader/readonly").text == "2"
    assert "reader:" in services["query"]["environment"]["TRACEHOUSE_CLICKHOUSE_READ_URL"]


def test_kubernetes_manifests() -> None:
    import kubernetes_validate

    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "tracehouse.yaml").read_text()))
    for doc in docs:  # valid for the oldest Kubernetes the worker's pod-index label needs
        kubernetes_validate.validate(doc, "1.28.0", strict=True)
    by_kind: dict[str, list[dict]] = {}
    for doc in docs:
        assert doc["apiVersion"] and doc["metadata"]["name"]
        by_kind.setdefault(doc["kind"], []).append(doc)
    deployments = {d["metadata"]["name"]: d for d in by_kind["Deployment"] + by_kind["StatefulSet"]}
    assert set(deployments) == {"tracehouse-receiver", "tracehouse-query", "tracehouse-worker"}

    def env_of(name: str) -> dict[str, dict]:
        return {e["name"]: e for c in deployments[name]["spec"]["template"]["spec"]["containers"]
                for e in c.get("env", [])}  # fmt: skip

    # Background work runs only in the workers: each replica its shard of the judge jobs, the
    # shard being the pod's index in a StatefulSet (never two pods with one index).
    assert env_of("tracehouse-query")["TRACEHOUSE_EVAL_WORKER"]["value"] == "false"
    worker_env = env_of("tracehouse-worker")
    worker = deployments["tracehouse-worker"]
    assert worker["kind"] == "StatefulSet"
    [container] = worker["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["worker"]  # always runs the background work
    assert int(worker_env["TRACEHOUSE_EVAL_WORKER_SHARDS"]["value"]) == worker["spec"]["replicas"]
    shard = worker_env["TRACEHOUSE_EVAL_WORKER_SHARD"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert shard == "metadata.labels['apps.kubernetes.io/pod-index']"
    assert worker["spec"]["serviceName"] in {s["metadata"]["name"] for s in by_kind["Service"]}
    subcommands = next(a for a in build_parser()._actions if a.dest == "command").choices
    for config in by_kind["ConfigMap"]:
        _settings_keys(config["data"])
    for secret in by_kind["Secret"]:
        _settings_keys(secret["stringData"])
    workloads = by_kind["Deployment"] + by_kind["StatefulSet"] + by_kind["Job"]
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["args"][0] in subcommands
            requests = container["resources"]["requests"]
            assert requests["cpu"] and requests["memory"]
            ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe"):
                if workload["kind"] != "Job":
                    get = container[probe]["httpGet"]
                    assert get["path"] == "/api/public/health" and get["port"] in ports
            _settings_keys({e["name"]: e.get("value") for e in container.get("env", [])})
    # Services select their workload's pods and target named ports that exist.
    for service in by_kind["Service"]:
        deployment = next(
            d
            for d in by_kind["Deployment"] + by_kind["StatefulSet"]
            if d["spec"]["template"]["metadata"]["labels"] == service["spec"]["selector"]
        )
        names = {p["name"] for c in deployment["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= names
