"""The Kubernetes deployment (deploy/): the image's Dagster libraries, the pins that move together, the GT folder
the pods mount, and a configured GT folder that does not exist stopping a run by name."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from pipeline.cli import main
from pipeline.cli.run import execute
from pipeline.groundtruth.policy import PolicyError, groundtruth_folder
from tests.conftest import in_memory

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
RELEASE = "gtq"  # `helm upgrade --install gtq ... --namespace gtq` (deploy/README.md)


def dagster_pin() -> str:
    """The image's Dagster: `ARG DAGSTER_VERSION` of deploy/Dockerfile."""
    [version] = re.findall(
        r"^ARG DAGSTER_VERSION=(\S+)$", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"), re.MULTILINE
    )
    return version


def chart_values() -> dict:
    return yaml.safe_load((DEPLOY / "values.yaml").read_text(encoding="utf-8"))


def code_location(values: dict) -> dict:
    [deployment] = values["dagster-user-deployments"]["deployments"]
    return deployment


def test_the_chart_is_pinned_to_the_images_dagster():
    pin = dagster_pin()
    for path in (DEPLOY / "README.md", DEPLOY / "values.yaml"):
        commands = re.findall(r"helm upgrade --install gtq dagster/dagster\b.*", path.read_text(encoding="utf-8"))
        assert commands and all(f" --version {pin} " in f"{command} " for command in commands), f"{path}: {commands}"
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert 'pip install --no-cache-dir ".[k8s]" "dagster==${DAGSTER_VERSION}"' in dockerfile


def test_the_pods_read_the_gt_folder_from_the_configmap():
    deployment = code_location(chart_values())
    folder = {e["name"]: e["value"] for e in deployment["env"]}["GTQ_GROUNDTRUTH"]
    [mount] = [m for m in deployment["volumeMounts"] if m["mountPath"] == folder]
    [volume] = [v for v in deployment["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == "gtq-groundtruth" and mount["readOnly"]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"]  # the run pods get the same volumes
    assert "kubectl -n gtq create configmap gtq-groundtruth --from-file=groundtruth/" in (
        DEPLOY / "README.md"
    ).read_text(encoding="utf-8")


def test_the_build_context_holds_only_what_the_image_copies():
    rules = [
        line
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert rules[0] == "*"  # .git, .venv, warehouse/, bench/results and caches stay out
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    copies = re.findall(r"^COPY (.+)$", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"), re.MULTILINE)
    sources = [source for copy in copies for source in copy.split()[:-1]]
    assert sources and all(source.split("/")[0] in allowed for source in sources), (sources, allowed)


def test_a_configured_gt_folder_that_does_not_exist_stops_the_run_naming_it(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "mounted" / "groundtruth"
    monkeypatch.setenv("GTQ_GROUNDTRUTH", str(missing))
    # The job as the UI, the sensor and the schedule run it: the folder comes from the environment.
    [run] = execute([], tmp_path / "wh", instance=in_memory()).runs.values()
    failure = next(event for event in run.all_events if event.is_run_failure)
    assert f"{missing}: no such folder (GTQ_GROUNDTRUTH)" in failure.event_specific_data.error.to_string()
    assert not run.success and not any(event.is_step_start for event in run.all_events)  # before its first step
    assert not (tmp_path / "wh" / "projects").exists()  # nothing ingested

    assert main(["run", "--warehouse", str(tmp_path / "wh")]) == 2  # `gtq run`: a usage error, before ingest
    assert f"{missing}: no such folder (GTQ_GROUNDTRUTH)" in capsys.readouterr().err

    monkeypatch.delenv("GTQ_GROUNDTRUTH")
    [run] = execute(
        [], tmp_path / "wh", groundtruth=missing, instance=in_memory()
    ).runs.values()  # as a launchpad's resource config
    failure = next(event for event in run.all_events if event.is_run_failure)
    assert f"{missing}: no such folder (the configured GT folder)" in failure.event_specific_data.error.to_string()
    assert main(["run", "--warehouse", str(tmp_path / "wh"), "--groundtruth", str(missing)]) == 2
    assert f"{missing}: no such folder (the configured GT folder)" in capsys.readouterr().err
    assert not (tmp_path / "wh" / "projects").exists()


def test_only_an_unset_gt_folder_means_the_default_policy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GTQ_GROUNDTRUTH", raising=False)
    assert groundtruth_folder() == Path("groundtruth") and not Path("groundtruth").exists()  # the defaults
    (tmp_path / "gt").mkdir()
    monkeypatch.setenv("GTQ_GROUNDTRUTH", str(tmp_path / "gt"))
    assert groundtruth_folder() == tmp_path / "gt"
    assert groundtruth_folder(tmp_path) == tmp_path  # a configured folder before the environment's
    (tmp_path / "policy.yaml").write_text("default: {}\n")
    with pytest.raises(PolicyError) as caught:  # a file is not taken for the GT folder
        groundtruth_folder(tmp_path / "policy.yaml")
    assert str(caught.value).startswith(f"{tmp_path / 'policy.yaml'}: no such folder")


def chart_instance(values: dict) -> dict:
    """dagster.yaml as the chart renders it from `values` (templates/configmap-instance.yaml and its helpers;
    the chart's defaults where the values set nothing)."""
    postgres = values["postgresql"]
    storage = {
        "postgres_db": {
            "username": postgres["postgresqlUsername"],
            "password": {"env": "DAGSTER_PG_PASSWORD"},
            "hostname": f"{RELEASE}-postgresql",
            "db_name": postgres["postgresqlDatabase"],
            "port": 5432,
            "params": {},
        }
    }
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    return {
        "scheduler": {"module": "dagster._core.scheduler", "class": "DagsterDaemonScheduler"},
        "schedule_storage": {
            "module": "dagster_postgres.schedule_storage",
            "class": "PostgresScheduleStorage",
            "config": storage,
        },
        "run_launcher": {
            "module": "dagster_k8s",
            "class": "K8sRunLauncher",
            "config": {
                "load_incluster_config": True,
                "job_namespace": RELEASE,
                "image_pull_policy": "Always",
                "service_account_name": f"{RELEASE}-dagster",
                "dagster_home": "/opt/dagster/dagster_home",
                "instance_config_map": f"{RELEASE}-dagster-instance",
                "postgres_password_secret": "dagster-postgresql-secret",
                "env_secrets": [secret["name"] for secret in launcher["envSecrets"]],
                "resources": launcher["resources"],
            },
        },
        "run_storage": {"module": "dagster_postgres.run_storage", "class": "PostgresRunStorage", "config": storage},
        "event_log_storage": {
            "module": "dagster_postgres.event_log",
            "class": "PostgresEventLogStorage",
            "config": storage,
        },
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": queue["maxConcurrentRuns"],
                "tag_concurrency_limits": queue["tagConcurrencyLimits"],
            },
        },
        "compute_logs": {"module": "dagster._core.storage.noop_compute_log_manager", "class": "NoOpComputeLogManager"},
        "telemetry": {"enabled": True},
    }


def code_location_context(deployment: dict) -> dict:
    """The container context the chart gives the code location (dagster-user-deployments' k8sContainerContext
    helper); with includeConfigInLaunchedRuns, the run launcher applies it to every run pod."""
    return {
        "k8s": {
            "image_pull_policy": deployment["image"]["pullPolicy"],
            "env_config_maps": [f"{RELEASE}-dagster-user-deployments-{deployment['name']}-user-env"],
            "env_secrets": [secret["name"] for secret in deployment["envSecrets"]],
            "volume_mounts": deployment["volumeMounts"],
            "volumes": deployment["volumes"],
            "namespace": RELEASE,
            "service_account_name": f"{RELEASE}-dagster-user-deployments-user-deployments",
            "env": deployment["env"],
        }
    }


# Runs in the fresh environment: imports each class the instance names and validates its config against the
# class's own schema (no database or cluster is contacted), then reads the code location's Kubernetes settings
# as dagster-k8s does when it builds a run pod.
LOAD_INSTANCE = """
import json, sys
from importlib.metadata import version

from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes.config_class import class_from_code_pointer
from dagster_k8s.container_context import K8sContainerContext

config, _ = dagster_instance_config(sys.argv[1])  # the whole file against the instance's schema
classes, rejected = {}, {}
for key in (
    "scheduler", "schedule_storage", "run_launcher", "run_storage", "event_log_storage", "run_coordinator",
    "compute_logs",
):
    section = config[key]
    klass = class_from_code_pointer(section["module"], section["class"])
    result = validate_config(klass.config_type(), section.get("config") or {})
    assert result.success, (key, [error.message for error in result.errors])
    classes[key] = f"{klass.__module__}.{klass.__qualname__}"
    typo = {**(section.get("config") or {}), "not_a_setting": 1}  # the validation bites
    rejected[key] = not validate_config(klass.config_type(), typo).success
run = K8sContainerContext.create_from_config(json.loads(sys.argv[2])).run_k8s_config
print(json.dumps({
    "classes": classes,
    "rejected": rejected,
    "versions": {name: version(name) for name in ("dagster", "dagster-postgres", "dagster-k8s")},
    "mounts": run.container_config["volume_mounts"],
    "volumes": run.pod_spec_config["volumes"],
}))
"""


def test_the_k8s_extra_loads_an_instance_shaped_like_the_charts(tmp_path):
    """Installs `.[k8s]` at the image's Dagster pin into a fresh virtual environment, as deploy/Dockerfile does.
    Needs the package index (pip's cache makes a rerun quick); the project's environment lies beneath the new
    one, so only the Dagster libraries, their dependencies and the pinned Dagster are fetched."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "gtq-base.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    pin = dagster_pin()
    install = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "--quiet",
        "--editable",
        f"{ROOT}[k8s]",
        f"dagster=={pin}",
    ]
    pip = subprocess.run(install, capture_output=True, text=True, timeout=1200)
    assert pip.returncode == 0, (
        f"pip install of the k8s extra failed (the package index is needed):\n{pip.stderr[-4000:]}"
    )

    values = chart_values()
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "dagster.yaml").write_text(yaml.safe_dump(chart_instance(values)))
    context = json.dumps(code_location_context(code_location(values)))
    loaded = subprocess.run(
        [python, "-c", LOAD_INSTANCE, str(instance), context], capture_output=True, text=True, timeout=300
    )
    assert loaded.returncode == 0, loaded.stderr[-4000:]
    report = json.loads(loaded.stdout)

    line = pin.split(".")[2]
    assert report["versions"] == {"dagster": pin, "dagster-postgres": f"0.29.{line}", "dagster-k8s": f"0.29.{line}"}
    assert report["classes"]["run_storage"] == "dagster_postgres.run_storage.run_storage.PostgresRunStorage"
    assert report["classes"]["event_log_storage"] == "dagster_postgres.event_log.event_log.PostgresEventLogStorage"
    assert (
        report["classes"]["schedule_storage"]
        == "dagster_postgres.schedule_storage.schedule_storage.PostgresScheduleStorage"
    )
    assert report["classes"]["run_launcher"] == "dagster_k8s.launcher.K8sRunLauncher"
    assert all(report["rejected"].values()), report["rejected"]
    folder = {e["name"]: e["value"] for e in code_location(values)["env"]}["GTQ_GROUNDTRUTH"]
    [mount] = [m for m in report["mounts"] if m["mount_path"] == folder]
    [volume] = [v for v in report["volumes"] if v["name"] == mount["name"]]
    assert volume["config_map"]["name"] == "gtq-groundtruth"  # every run pod mounts the GT folder
