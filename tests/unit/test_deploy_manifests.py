"""deploy/: the Kubernetes manifests and the Containerfile parse and agree with
the code (no models, no cluster, no container runtime):

- every manifest parses, and kustomization.yaml lists exactly the files there;
- the container port is the port the command serves on, which is Settings' port
  when the command gives none; the Service and the probes name that port;
- every probe path is a GET route of the real app, and answers 200 on a
  model-free service;
- every SIMREG_* name in deploy/ is a field of Settings, and the ConfigMap's
  values are valid settings;
- every command (API, CronJobs, the image's CMD) is a real ``simreg``
  subcommand with valid arguments;
- the Secrets, ConfigMaps and claims that pods refer to exist, the engine
  workers follow the CPU limit, the HPA, PDB and Service select the API pods.

Each check returns a list of problems; the last tests break a copy of the
manifests on purpose and see the checks report it."""

from __future__ import annotations

import copy
import math
import re
import shlex
from pathlib import Path

import pytest
import yaml

from simreg.cli import build_parser
from simreg.config import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
CONTAINERFILE = DEPLOY / "Containerfile"
SIMREG_NAME = re.compile(r"\bSIMREG_[A-Z0-9_]+\b")


# --- loading -------------------------------------------------------------------

def load_docs() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                doc["__file__"] = path.name
                docs.append(doc)
    return docs


def by_kind(docs, kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


def api_deployments(docs) -> list[dict]:
    """The Deployments that serve the API (the audit sequencer is a Deployment too)."""
    return [d for d in by_kind(docs, "Deployment")
            if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "api"]


def pod_specs(docs) -> list[tuple[str, dict]]:
    """(owner name, pod spec) of every Deployment and CronJob."""
    out = []
    for d in docs:
        if d.get("kind") == "Deployment":
            out.append((d["metadata"]["name"], d["spec"]["template"]["spec"]))
        elif d.get("kind") == "CronJob":
            out.append((d["metadata"]["name"], d["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
    return out


def containerfile_cmd() -> list[str]:
    m = re.search(r"^CMD\s+(\[.*\])\s*$", CONTAINERFILE.read_text(encoding="utf-8"), re.M)
    assert m, "the Containerfile has no exec-form CMD"
    return yaml.safe_load(m.group(1))


def settings_fields() -> set[str]:
    return set(Settings.model_fields)


def parse_simreg(command: list[str]):
    """The argparse namespace of a ``simreg ...`` command, or the reason it is not one."""
    if not command or command[0] != "simreg":
        return None, f"not a simreg command: {command}"
    try:
        args = build_parser().parse_args(command[1:])
    except SystemExit:
        return None, f"simreg refuses the arguments: {shlex.join(command)}"
    return args, None


# --- checks (each returns the problems it finds) ----------------------------------

def check_structure(docs) -> list[str]:
    problems = []
    for d in docs:
        if d.get("kind") == "Kustomization":
            continue
        for key in ("apiVersion", "kind", "metadata"):
            if key not in d:
                problems.append(f"{d['__file__']}: no {key}")
        if "name" not in d.get("metadata", {}):
            problems.append(f"{d['__file__']}: no metadata.name")
    kust = [d for d in docs if d.get("kind") == "Kustomization"]
    if len(kust) != 1:
        return [*problems, "expected one kustomization.yaml"]
    listed = set(kust[0].get("resources", []))
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    if listed != present:
        problems.append(f"kustomization resources {sorted(listed)} != files {sorted(present)}")
    return problems


def check_commands(docs) -> list[str]:
    problems = []
    for owner, spec in pod_specs(docs):
        for c in spec["containers"]:
            args, why = parse_simreg(c.get("command", []) + c.get("args", []))
            if why:
                problems.append(f"{owner}/{c['name']}: {why}")
            elif not callable(getattr(args, "func", None)):
                problems.append(f"{owner}/{c['name']}: {c['command']} names no subcommand")
    for kind, expected in (("CronJob", {("retention", "run"), ("audit", "checkpoint")}),):
        seen = set()
        for d in by_kind(docs, kind):
            cmd = d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
            seen.add(tuple(cmd[1:3]))
        if not expected <= seen:
            problems.append(f"CronJobs run {sorted(seen)}, missing {sorted(expected - seen)}")
    return problems


def served_port(command: list[str]) -> tuple[str, int]:
    args, why = parse_simreg(command)
    assert why is None and args.command == "serve", why or command
    return args.host or Settings.model_fields["host"].default, args.port or Settings().port


def check_ports(docs) -> list[str]:
    problems = []
    deployments = api_deployments(docs)
    if not deployments:
        return ["no Deployment"]
    for dep in deployments:
        spec = dep["spec"]["template"]["spec"]
        for c in spec["containers"]:
            host, port = served_port(c["command"])
            if host != "0.0.0.0":
                problems.append(f"{c['name']}: serves on {host}, not reachable from the Service")
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            if list(ports.values()) != [port]:
                problems.append(f"{c['name']}: containerPort {list(ports.values())} != the served port {port}")
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                probe_port = c.get(kind, {}).get("httpGet", {}).get("port")
                if probe_port not in ports and probe_port != port:
                    problems.append(f"{c['name']}: {kind} port {probe_port!r} is not the container's")
            for svc in by_kind(docs, "Service"):
                for sp in svc["spec"]["ports"]:
                    if sp["targetPort"] not in ports and sp["targetPort"] != port:
                        problems.append(f"Service {svc['metadata']['name']}: targetPort {sp['targetPort']!r} "
                                        "is not a container port")
    cmd = containerfile_cmd()
    _, image_port = served_port(cmd)
    exposed = [int(x) for x in re.findall(r"^EXPOSE\s+(\d+)", CONTAINERFILE.read_text(encoding="utf-8"), re.M)]
    if exposed != [image_port]:
        problems.append(f"Containerfile EXPOSE {exposed} != the CMD's port {image_port}")
    if "0.0.0.0" not in cmd:
        problems.append("the image's CMD does not serve on 0.0.0.0")
    return problems


def probe_paths(docs) -> set[str]:
    paths = set()
    for dep in api_deployments(docs):
        for c in dep["spec"]["template"]["spec"]["containers"]:
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                if kind in c:
                    paths.add(c[kind]["httpGet"]["path"])
    return paths


def check_probes(docs, get_routes: set[str]) -> list[str]:
    problems = []
    for dep in api_deployments(docs):
        c = dep["spec"]["template"]["spec"]["containers"][0]
        for kind, want in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            if c.get(kind, {}).get("httpGet", {}).get("path") != want:
                problems.append(f"{kind} should be GET {want}")
    for path in sorted(probe_paths(docs)):
        if path not in get_routes:
            problems.append(f"probe path {path} is not a GET route of the app")
    return problems


def all_deploy_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DEPLOY.rglob("*")) if p.is_file())


def env_names(docs) -> set[str]:
    names = set()
    for _, spec in pod_specs(docs):
        for c in spec["containers"]:
            names |= {e["name"] for e in c.get("env", [])}
    for cm in by_kind(docs, "ConfigMap"):
        names |= set(cm.get("data", {}))
    return names


def check_env_names(docs, text: str) -> list[str]:
    fields = settings_fields()
    problems = []
    for name in sorted(env_names(docs) | set(SIMREG_NAME.findall(text))):
        if not name.startswith("SIMREG_"):
            problems.append(f"{name}: not a SIMREG_* setting")
        elif name[len("SIMREG_"):].lower() not in fields:
            problems.append(f"{name}: no such setting in simreg.config.Settings")
    return problems


def check_references(docs) -> list[str]:
    secrets = {s["metadata"]["name"]: set(s.get("stringData", {})) | set(s.get("data", {}))
               for s in by_kind(docs, "Secret")}
    config_maps = {c["metadata"]["name"] for c in by_kind(docs, "ConfigMap")}
    claims = {c["metadata"]["name"] for c in by_kind(docs, "PersistentVolumeClaim")}
    problems = []
    for owner, spec in pod_specs(docs):
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for v in volumes.values():
            if "secret" in v:
                name = v["secret"]["secretName"]
                keys = {i["key"] for i in v["secret"].get("items", [])}
                if name not in secrets or not keys <= secrets[name]:
                    problems.append(f"{owner}: volume {v['name']} needs secret {name} {sorted(keys)}")
            if "persistentVolumeClaim" in v and v["persistentVolumeClaim"]["claimName"] not in claims:
                problems.append(f"{owner}: no claim {v['persistentVolumeClaim']['claimName']}")
        for c in spec["containers"]:
            for ref in c.get("envFrom", []):
                if ref.get("configMapRef", {}).get("name") not in config_maps:
                    problems.append(f"{owner}: no ConfigMap {ref}")
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["key"] not in secrets.get(ref["name"], set()):
                    problems.append(f"{owner}: {e['name']} needs secret {ref['name']} key {ref['key']}")
            mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
            for m in mounts:
                if m not in volumes:
                    problems.append(f"{owner}: mount {m} has no volume")
            # the signing key file the settings name is where a volume puts it
            key_file = _configured(docs, c, "SIMREG_AUDIT_SIGNING_KEY_FILE")
            uses_key = c["command"][1:2] == ["serve"] or c["command"][1:3] == ["audit", "checkpoint"]
            if uses_key and key_file:
                ok = any(key_file == f"{m['mountPath']}/{i['path']}" for m in mounts.values()
                         for i in volumes[m["name"]].get("secret", {}).get("items", []))
                if not ok:
                    problems.append(f"{owner}/{c['name']}: {key_file} is not a mounted secret file")
            # --out must be on a writable mount (the root filesystem is read-only)
            cmd = c["command"]
            if "--out" in cmd:
                out = cmd[cmd.index("--out") + 1]
                if not any(out.startswith(m["mountPath"] + "/") and not m.get("readOnly") for m in mounts.values()):
                    problems.append(f"{owner}: --out {out} is not on a writable volume")
    return problems


def _configured(docs, container: dict, name: str) -> str | None:
    for e in container.get("env", []):
        if e["name"] == name:
            return e.get("value")
    for ref in container.get("envFrom", []):
        for cm in by_kind(docs, "ConfigMap"):
            if cm["metadata"]["name"] == ref.get("configMapRef", {}).get("name") and name in cm.get("data", {}):
                return cm["data"][name]
    return None


def _cpu(q) -> float:
    q = str(q)
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)


def check_scaling(docs) -> list[str]:
    problems = []
    for dep in api_deployments(docs):
        name = dep["metadata"]["name"]
        labels = dep["spec"]["template"]["metadata"]["labels"]
        if dep["spec"]["selector"]["matchLabels"].items() - labels.items():
            problems.append(f"{name}: selector does not match its pods")
        c = dep["spec"]["template"]["spec"]["containers"][0]
        res = c.get("resources", {})
        if "cpu" not in res.get("limits", {}) or "cpu" not in res.get("requests", {}):
            problems.append(f"{name}: CPU requests and limits are both needed (HPA, engine size)")
            continue
        workers = [e for e in c.get("env", []) if e["name"] == "SIMREG_ENGINE_WORKERS"]
        ref = workers[0].get("valueFrom", {}).get("resourceFieldRef", {}) if workers else {}
        if ref.get("resource") != "limits.cpu" or ref.get("containerName") != c["name"] \
                or str(ref.get("divisor", "1")) != "1":
            problems.append(f"{name}: SIMREG_ENGINE_WORKERS is not derived from its own limits.cpu")
        if math.ceil(_cpu(res["limits"]["cpu"])) < 1 or _cpu(res["limits"]["cpu"]) != _cpu(res["requests"]["cpu"]):
            problems.append(f"{name}: CPU request != limit (the engine is sized from the limit)")
        for kind in ("HorizontalPodAutoscaler",):
            hpas = [h for h in by_kind(docs, kind) if h["spec"]["scaleTargetRef"]["name"] == name]
            if not hpas:
                problems.append(f"{name}: no HPA")
            for h in hpas:
                if h["spec"]["scaleTargetRef"]["kind"] != "Deployment":
                    problems.append("the HPA does not target a Deployment")
                if not any(m.get("resource", {}).get("name") == "cpu" for m in h["spec"]["metrics"]):
                    problems.append("the HPA does not scale on CPU")
        for kind in ("PodDisruptionBudget", "Service"):
            objs = by_kind(docs, kind)
            sel = lambda o: o["spec"]["selector"].get("matchLabels", o["spec"]["selector"])  # noqa: E731
            if not any(sel(o).items() <= labels.items() for o in objs):
                problems.append(f"{name}: no {kind} selects its pods")
    return problems


# --- the tests -------------------------------------------------------------------

@pytest.fixture(scope="module")
def docs():
    return load_docs()


@pytest.fixture(scope="module")
def get_routes():
    from fake_engine import fake_runtime
    from simreg.http.app import create_app

    app = create_app(Settings(), runtime=fake_runtime())
    # routes declared on the app, and every documented GET (routers included)
    direct = {r.path for r in app.routes if "GET" in (getattr(r, "methods", None) or set())}
    documented = {path for path, ops in app.openapi()["paths"].items() if "get" in ops}
    return direct | documented


def test_manifests_parse_and_are_listed(docs):
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "CronJob", "ConfigMap",
            "Secret"} <= kinds
    assert check_structure(docs) == []


def test_commands_are_simreg_subcommands(docs):
    assert check_commands(docs) == []
    args, why = parse_simreg(containerfile_cmd())
    assert why is None and args.command == "serve"


def test_ports_agree_with_the_served_port(docs):
    assert check_ports(docs) == []
    assert served_port(containerfile_cmd())[1] == Settings().port


def test_probe_paths_are_routes(docs, get_routes):
    assert check_probes(docs, get_routes) == []


def test_probes_answer_on_a_model_free_service(docs, tmp_path):
    from fake_engine import fake_runtime
    from service_support import make_service

    svc = make_service(fake_runtime(), f"sqlite:///{tmp_path / 'probe.sqlite3'}")
    try:
        for path in sorted(probe_paths(docs)):
            r = svc.client.get(path)
            assert r.status_code == 200, (path, r.text)
    finally:
        svc.close()


def test_env_names_are_settings(docs):
    assert check_env_names(docs, all_deploy_text()) == []


def test_config_map_values_are_valid_settings(docs, monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("SIMREG_"):
            monkeypatch.delenv(name)
    for cm in by_kind(docs, "ConfigMap"):
        for k, v in cm["data"].items():
            monkeypatch.setenv(k, str(v))
    s = Settings()  # raises on a value of the wrong type or out of bounds
    assert s.env == "production"
    assert str(s.audit_signing_key_file).startswith("/etc/simreg/")


def test_references_resolve(docs):
    assert check_references(docs) == []


def test_engine_workers_follow_the_cpu_limit_and_scaling_selects_the_pods(docs):
    assert check_scaling(docs) == []


# --- the checks can fail ------------------------------------------------------------

def _deployment_container(docs):
    return api_deployments(docs)[0]["spec"]["template"]["spec"]["containers"][0]


def test_a_misspelt_env_name_is_reported(docs):
    broken = copy.deepcopy(docs)
    env = _deployment_container(broken)["env"]
    next(e for e in env if e["name"] == "SIMREG_DATABASE_URL")["name"] = "SIMREG_DATABSE_URL"
    problems = check_env_names(broken, "")
    assert any("SIMREG_DATABSE_URL" in p for p in problems)
    assert check_env_names(docs, "SIMREG_ENGINE_WORKER: 2") != []


def test_a_wrong_port_or_probe_path_is_reported(docs, get_routes):
    broken = copy.deepcopy(docs)
    c = _deployment_container(broken)
    c["ports"][0]["containerPort"] = 8080
    c["readinessProbe"]["httpGet"]["path"] = "/ready"
    assert any("containerPort" in p for p in check_ports(broken))
    assert any("/ready" in p for p in check_probes(broken, get_routes))


def test_an_unknown_subcommand_or_argument_is_reported(docs):
    broken = copy.deepcopy(docs)
    cron = by_kind(broken, "CronJob")[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    cron["command"] = ["simreg", "retention", "purge"]
    assert check_commands(broken) != []
    cron["command"] = ["simreg", "audit", "checkpoint", "--output", "/x"]
    assert check_commands(broken) != []


def test_a_missing_secret_key_or_fixed_engine_size_is_reported(docs):
    broken = copy.deepcopy(docs)
    c = _deployment_container(broken)
    next(e for e in c["env"] if e["name"] == "SIMREG_KEYRING")["valueFrom"]["secretKeyRef"]["key"] = "keyring"
    assert any("keyring" in p for p in check_references(broken))
    next(e for e in c["env"] if e["name"] == "SIMREG_ENGINE_WORKERS").pop("valueFrom")
    assert any("SIMREG_ENGINE_WORKERS" in p for p in check_scaling(broken))
