"""deploy/kubernetes/ validated offline: every manifest against the Kubernetes API schemas that
kubernetes-validate ships (no cluster, no network), and against what the app reads and needs."""
import copy
from pathlib import Path

import pytest
import yaml
from kubernetes_validate import utils as kubernetes_validate

from tests.conftest import ROOT
from tests.proxy_stack import gunicorn_setting
from tests.test_deployment import READ_ELSEWHERE, settings_variables

MANIFESTS = ROOT / "deploy" / "kubernetes"
# The oldest Kubernetes minor still widely run (EKS, GKE, AKS extended support) and the newest one
# kubernetes-validate knows; strict: a misspelt or misplaced field is an error, not ignored.
VERSIONS = ("1.30", kubernetes_validate.latest_version())
# Set by the manifests but read by neither settings.py nor a library: the image's entrypoint
# (skip the per-pod migration, the Job runs it) and the pod's address, used to build
# DJANGO_ALLOWED_HOSTS.
KUBERNETES_ONLY = {"FINTALK_SKIP_MIGRATE", "POD_IP"}
# The outbound-call worker and scheduler (#21) are checked in tests/test_outbound_deploy.py: "the"
# Deployment below is the API's. Only the workers place calls, so only they get Vapi's key.
OUTBOUND = {"outbound-worker.yaml", "outbound-beat.yaml"}
WORKER_ONLY = {"FINTALK_VAPI_API_KEY"}


def load(name: str) -> dict:
    (resource,) = [doc for doc in yaml.safe_load_all((MANIFESTS / name).read_text()) if doc]
    return resource


def manifests() -> list[Path]:
    return sorted(path for path in MANIFESTS.glob("*.yaml") if path.name != "kustomization.yaml")


def kind(name: str) -> dict:
    (resource,) = [load(path.name) for path in manifests() if load(path.name)["kind"] == name and path.name not in OUTBOUND]
    return resource


def pod_template(resource: dict) -> dict:
    spec = resource["spec"]
    return spec["jobTemplate"]["spec"]["template"] if "jobTemplate" in spec else spec["template"]


def pod_containers(resource: dict) -> list[dict]:
    spec = pod_template(resource)["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def env_names(container: dict) -> set[str]:
    return {entry["name"] for entry in container.get("env", [])}


def app_container() -> dict:
    (container,) = kind("Deployment")["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", manifests(), ids=lambda path: path.name)
def test_every_manifest_is_valid_kubernetes(path, version):
    resources = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert resources
    for resource in resources:
        kubernetes_validate.validate(resource, version, strict=True)


def test_the_validation_is_real_and_offline():
    deployment = copy.deepcopy(kind("Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz"}}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(deployment, VERSIONS[0], strict=True)
    schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    assert (schemas / f"v{VERSIONS[0]}.0-local-strict" / "deployment-apps-v1.json").is_file()


def test_kustomization_applies_every_manifest_but_the_secret_example():
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {path.name for path in manifests()} - {"secret.example.yaml"}
    assert {image["name"] for image in kustomization["images"]} == \
        {container["image"] for resource in map(load, listed)
         if {"template", "jobTemplate"} & set(resource.get("spec", {})) for container in pod_containers(resource)}


def test_the_manifests_set_exactly_what_the_settings_read():
    configured = set(kind("ConfigMap")["data"])
    for resource in (kind("Deployment"), kind("Job"), kind("CronJob")):
        for container in pod_containers(resource):
            assert [ref["configMapRef"]["name"] for ref in container["envFrom"]] == ["fintalk-config"]
            configured |= env_names(container)
    assert configured - settings_variables() <= READ_ELSEWHERE | KUBERNETES_ONLY, \
        configured - settings_variables() - READ_ELSEWHERE
    assert settings_variables() - configured - WORKER_ONLY == set(), "settings the manifests do not set"
    assert settings_variables() - set(kind("ConfigMap")["data"]) - env_names(app_container()) - WORKER_ONLY == set()


def test_secrets_come_from_the_secret_never_the_config_map():
    secret_keys = {"DJANGO_SECRET_KEY", "FINTALK_API_KEYS", "DATABASE_URL", "FINTALK_CACHE_URL",
                   "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "FINTALK_VAPI_WEBHOOK_SECRET",
                   "FINTALK_SEALING_KEY", "FINTALK_APP_CALLBACK_SECRET"}
    assert not secret_keys & set(kind("ConfigMap")["data"])
    example = set(kind("Secret")["stringData"])
    for resource in (kind("Deployment"), kind("Job"), kind("CronJob")):
        for container in pod_containers(resource):
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if entry["name"] in secret_keys:
                    assert ref and ref["name"] == "fintalk-secrets" and ref["key"] == entry["name"], entry
                if ref and not ref.get("optional"):
                    assert ref["key"] in example, f"secret.example.yaml lacks {ref['key']}"


def test_the_pod_is_non_root_read_only_and_sized():
    pod = kind("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    for container in pod_containers(kind("Deployment")) + pod_containers(kind("Job")) + pod_containers(kind("CronJob")):
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]  # the only writable path
    app = app_container()
    # One uvicorn worker per core requested: a worker is one busy core at its limit (BENCHMARKS.md).
    assert int(kind("ConfigMap")["data"]["WEB_CONCURRENCY"]) == int(app["resources"]["requests"]["cpu"])
    assert kind("ConfigMap")["data"]["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")


def test_probes_and_the_drain_fit_together():
    pod = kind("Deployment")["spec"]["template"]["spec"]
    app = app_container()
    assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert app["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert {"name": "FINTALK_SKIP_MIGRATE", "value": "1"} in app["env"]
    # Probes and Prometheus reach a pod by its IP: the pod's address is an allowed host.
    hosts = next(entry for entry in app["env"] if entry["name"] == "DJANGO_ALLOWED_HOSTS")
    assert hosts["value"] == "$(DJANGO_ALLOWED_HOSTS),$(POD_IP)"
    assert [entry["name"] for entry in app["env"]].index("POD_IP") < [e["name"] for e in app["env"]].index(
        "DJANGO_ALLOWED_HOSTS")  # $(VAR) only expands variables defined before
    # preStop (endpoints removed while it still serves), then gunicorn's drain, within the grace period.
    command = app["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    graceful = gunicorn_setting("graceful_timeout", kind("ConfigMap")["data"].get("GUNICORN_CMD_ARGS", ""))
    assert pod["terminationGracePeriodSeconds"] >= int(command[1]) + graceful + 5
    strategy = kind("Deployment")["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0


def test_autoscaler_budget_service_and_job_target_the_right_pods():
    deployment = kind("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert "replicas" not in deployment["spec"]  # the autoscaler owns it; `kubectl apply` must not reset it

    hpa = kind("HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"]}
    assert hpa["minReplicas"] >= 2
    (cpu,) = hpa["metrics"]
    assert cpu["resource"]["name"] == "cpu" and 0 < cpu["resource"]["target"]["averageUtilization"] < 100

    assert kind("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert kind("Service")["spec"]["selector"].items() <= labels.items()
    assert kind("Service")["spec"]["ports"][0]["targetPort"] == app_container()["ports"][0]["name"]

    job = kind("Job")["spec"]["template"]["spec"]
    assert job["containers"][0]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert job["restartPolicy"] == "Never"
    (wait,) = deployment["spec"]["template"]["spec"]["initContainers"]
    assert "migrate --check" in " ".join(wait["command"])


def test_the_purge_cronjob_runs_purge_calls_daily_alone_and_as_the_app():
    cron = kind("CronJob")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    minute, hour, *rest = cron["spec"]["schedule"].split()
    assert minute.isdigit() and hour.isdigit() and rest == ["*", "*", "*"]  # once a day
    pod = pod_template(cron)["spec"]
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
    assert pod["serviceAccountName"] == kind("Deployment")["spec"]["template"]["spec"]["serviceAccountName"]
    (container,) = pod["containers"]
    assert container["command"] == ["python", "manage.py", "purge_calls"]
    assert int(kind("ConfigMap")["data"]["FINTALK_CALL_RETENTION_DAYS"]) >= 1
    assert {"DATABASE_URL"} <= env_names(container)
