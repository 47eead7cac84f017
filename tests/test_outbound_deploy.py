"""The outbound calls' worker and scheduler in deploy/kubernetes/ and docker-compose.yml (#21):
the same checks tests/test_kubernetes.py makes of the API's pods, plus what these processes need."""
import pytest
import yaml

from tests.conftest import ROOT
from tests.test_deployment import READ_ELSEWHERE, settings_variables
from tests.test_kubernetes import KUBERNETES_ONLY, OUTBOUND, WORKER_ONLY, env_names, kind, load, pod_containers

SECRETS = {"DATABASE_URL", "FINTALK_CACHE_URL", "FINTALK_CELERY_BROKER_URL", "FINTALK_VAPI_API_KEY"}


@pytest.fixture(params=sorted(OUTBOUND))
def deployment(request):
    return load(request.param)


def test_worker_and_beat_run_celery_as_the_api_pods_run_gunicorn(deployment):
    assert deployment["kind"] == "Deployment"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert labels["app.kubernetes.io/component"] != "api"  # the API's Service and PDB never select them
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"][:3] == ["celery", "-A", "fintalk"]
    assert container["image"] == "fintalk" and "ports" not in container
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    for each in pod_containers(deployment):
        security = each["securityContext"]
        assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert each["resources"]["requests"]["cpu"] and each["resources"]["limits"]["memory"]
        assert {"name": "tmp", "mountPath": "/tmp"} in each["volumeMounts"]


def test_exactly_one_beat_and_workers_that_need_no_beat_of_their_own():
    beat = load("outbound-beat.yaml")
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"
    assert "beat" in beat["spec"]["template"]["spec"]["containers"][0]["command"]
    worker = load("outbound-worker.yaml")
    command = worker["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "worker" in command and "-B" not in command and "--beat" not in command
    (wait,) = worker["spec"]["template"]["spec"]["initContainers"]
    assert "migrate --check" in " ".join(wait["command"])


def test_their_settings_are_read_by_the_settings_and_secrets_come_from_the_secret(deployment):
    configured = set(kind("ConfigMap")["data"])
    example = set(kind("Secret")["stringData"])
    for container in pod_containers(deployment):
        assert [ref["configMapRef"]["name"] for ref in container["envFrom"]] == ["fintalk-config"]
        assert env_names(container) - settings_variables() <= READ_ELSEWHERE | KUBERNETES_ONLY
        for entry in container.get("env", []):
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if entry["name"] in SECRETS:
                assert ref and ref["name"] == "fintalk-secrets" and ref["key"] == entry["name"], entry
            if ref and not ref.get("optional"):
                assert ref["key"] in example, f"secret.example.yaml lacks {ref['key']}"
        configured |= env_names(container)
    assert not SECRETS & set(kind("ConfigMap")["data"])
    assert {"FINTALK_CELERY_BROKER_URL", "FINTALK_CACHE_URL"} <= configured  # the broker, or the cache's Redis


def test_only_the_workers_hold_vapis_key():
    (worker,) = load("outbound-worker.yaml")["spec"]["template"]["spec"]["containers"]
    assert WORKER_ONLY <= env_names(worker)
    assert not WORKER_ONLY & env_names(load("outbound-beat.yaml")["spec"]["template"]["spec"]["containers"][0])
    assert not WORKER_ONLY & env_names(kind("Deployment")["spec"]["template"]["spec"]["containers"][0])


def test_compose_runs_a_worker_and_one_beat_on_the_apps_settings():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name, role in (("worker", "worker"), ("beat", "beat")):
        service = services[name]
        assert service["entrypoint"] == ["celery", "-A", "fintalk"] and service["command"][0] == role
        assert service["environment"] == services["app"]["environment"]
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["app"]["environment"]["FINTALK_CELERY_BROKER_URL"].startswith("redis://redis:")
