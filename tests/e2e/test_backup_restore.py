"""Issue 18: the backup drill - a platform lost with its data comes back with all of it.

Logs runs with parameters, metric histories and artifacts, registers a version and moves
`champion` to it (served), takes a backup with englab.mlops.backup (its --check writes no set),
checks that a confirmed restore --check of the set changes nothing, refuses a truncated and a
corrupted copy of the set before anything stops, destroys the platform with its data
(mlops_destroy_data=true), brings it up from nothing with `site -e mlops_restore_from=<set>`, and
compares what MLflow's client and the nodes show with what they showed before: experiments, runs
(params, tags, full metric histories), artifact paths and checksums, model versions and aliases,
the served version and its predictions. Then an in-place restore without mlops_restore_confirm is
refused with nothing changed, and a plain site run reports changed=0.

How it fails on the old behaviour: there was no englab.mlops.backup or englab.mlops.restore, and
site took no mlops_restore_from (check_variables refuses it as unknown).

The drill destroys and rebuilds the e2e platform: conftest runs it after every other test of
`make e2e`; `make drill` runs it alone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import LOGS, Platform, recap
from test_serving import http, served

pytestmark = pytest.mark.platform_rebuilt

DRILL = uuid.uuid4().hex[:8]
NOTE = f"drill note {DRILL}\n"

# Runs with metric histories and artifacts in an experiment of their own, a new version of the
# champion's model, and champion moved to it.
LOG_DATA = f"""
import json, mlflow
from mlflow import MlflowClient
c = MlflowClient()
mlflow.set_experiment("englab-drill-{DRILL}")
runs = []
for n in range(2):
    with mlflow.start_run(run_name=f"drill-{{n}}") as run:
        mlflow.log_params({{"alpha": 0.1 * (n + 1), "drill": "{DRILL}"}})
        for step in range(40):
            mlflow.log_metric("loss", 1.0 / (step + 1 + n), step=step)
            mlflow.log_metric("accuracy", step / 40.0 + n / 100.0, step=step)
        mlflow.set_tag("englab.drill", "{DRILL}")
        mlflow.log_text({NOTE!r}, "notes/drill.txt")
        mlflow.log_dict({{"n": n, "drill": "{DRILL}"}}, "nested/deeper/config.json")
        runs.append(run.info.run_id)
champion = c.get_model_version_by_alias("englab-diabetes", "champion")
v = mlflow.register_model(champion.source, "englab-diabetes")
c.set_model_version_tag("englab-diabetes", v.version, "englab.drill", "{DRILL}")
c.set_registered_model_alias("englab-diabetes", "champion", v.version)
print(json.dumps({{"runs": runs, "version": v.version}}))
"""

# Everything the tracking server knows, through MLflow's client: experiments, runs with params,
# tags and every metric's full history, registered versions with run, source, status, aliases, tags.
STATE = """
import json
from mlflow import MlflowClient
from mlflow.entities import ViewType
c = MlflowClient()
out = {"experiments": [], "runs": {}, "versions": []}
for e in c.search_experiments(view_type=ViewType.ALL):
    out["experiments"].append([e.experiment_id, e.name, e.lifecycle_stage, e.artifact_location, sorted(e.tags.items())])
    for r in c.search_runs([e.experiment_id], run_view_type=ViewType.ALL, max_results=1000):
        i = r.info
        out["runs"][i.run_id] = {
            "experiment": e.experiment_id, "name": i.run_name, "status": i.status, "stage": i.lifecycle_stage,
            "start": i.start_time, "end": i.end_time, "artifact_uri": i.artifact_uri,
            "params": r.data.params, "tags": r.data.tags,
            "metrics": {k: [[m.step, m.value, m.timestamp] for m in c.get_metric_history(i.run_id, k)]
                        for k in sorted(r.data.metrics)},
        }
for m in c.search_registered_models():
    for v in c.search_model_versions(f"name='{m.name}'"):
        out["versions"].append([m.name, v.version, v.run_id, v.source, v.status, sorted(v.aliases),
                                sorted(v.tags.items()), v.creation_timestamp])
out["experiments"].sort()
out["versions"].sort()
print(json.dumps(out, sort_keys=True))
"""

# An artifact read back through the tracking server's artifact proxy, as a user reads it.
READ_NOTE = """
import json, mlflow
print(json.dumps(mlflow.artifacts.load_text(f"runs:/{run}/notes/drill.txt")))
"""

PREDICT = """
import json
from sklearn.datasets import load_diabetes
rows = load_diabetes(return_X_y=True, as_frame=True)[0].iloc[200:220]
print(json.dumps({"dataframe_split": rows.to_dict(orient="split")}))
"""


def artifact_checksums(platform: Platform) -> str:
    """Every file of the artifact store on the tracking node: relative path and SHA-256."""
    return platform.exec(
        "tracking-node",
        "sh",
        "-c",
        "cd /var/lib/mlflow/artifacts && find . -type f -print0 | sort -z | xargs -0 -r sha256sum",
    ).stdout


def server_pids(platform: Platform) -> str:
    return platform.exec(
        "tracking-node", "systemctl", "show", "-p", "MainPID", "englab-mlflow@5000", "englab-mlflow@5001"
    ).stdout


def predictions(platform: Platform, payload: bytes) -> list:
    status, _unused, body = http(platform.serving_url + "/invocations", payload)
    assert status == 200, body[:300]
    return json.loads(body)["predictions"]


def state(platform: Platform, payload: bytes) -> dict:
    return {
        "mlflow": platform.mlflow_client(STATE),
        "artifacts": artifact_checksums(platform),
        # which model, version and run is served (not which of the blue/green slots serves it)
        "served": {key: value for key, value in served(platform).items() if key != "slot"},
        "served run": json.loads(
            platform.exec("serving-node", "cat", "/var/lib/englab-serving/state.json").stdout
        )["current"]["run_id"],
        "predictions": predictions(platform, payload),
    }


def psql(platform: Platform, *sql: str) -> str:
    """Run statements on the database node as postgres, one transaction each; their output."""
    commands = [f"--command={statement}" for statement in sql]
    argv = (
        "runuser",
        "-u",
        "postgres",
        "--",
        "psql",
        "--no-psqlrc",
        "-v",
        "ON_ERROR_STOP=1",
        "-At",
        "-d",
        "postgres",
    )
    return platform.exec("englab-db", *argv, *commands).stdout


def damaged_copy(source: Path, base: Path, name: str, damage) -> Path:
    copy = base / name / source.name
    shutil.copytree(source, copy)
    damage(copy)
    return copy


def backup_check_writes_nothing(platform: Platform, backups: Path) -> None:
    # --check names the set it would write and writes nothing
    checked = platform.playbook(
        "englab.mlops.backup", "drill-backup-check", args=("--check",), mlops_backup_dir=str(backups)
    )
    assert (
        f"Check mode - a backup set of {platform.prefix}englab would be written to {backups}/"
        in checked.stdout
    )
    assert not backups.exists() or list(backups.iterdir()) == []


def restore_check_and_damaged_sets_change_nothing(platform: Platform, backup: Path, tmp_path: Path) -> None:
    # --check of a confirmed in-place restore verifies the set, says what it would replace, and
    # stops, replaces and redeploys nothing
    pids = server_pids(platform)
    snapshot = platform.snapshot()
    checked = platform.playbook(
        "englab.mlops.restore",
        "drill-restore-check",
        args=("--check",),
        mlops_restore_from=str(backup),
        mlops_restore_confirm=True,
    )
    assert f"Check mode: would restore {backup}" in checked.stdout
    assert server_pids(platform) == pids, "restore --check stopped the tracking server"
    assert platform.snapshot() == snapshot

    # a truncated or corrupted set is refused before anything stops
    for name, damage, message in (
        (
            "truncated",
            lambda d: (d / "database.dump").write_bytes((d / "database.dump").read_bytes()[:-4096]),
            "database.dump in {} is truncated or altered",
        ),
        (
            "corrupted",
            lambda d: (d / "artifacts.tar.gz").write_bytes(
                (data := (d / "artifacts.tar.gz").read_bytes())[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
            ),
            "artifacts.tar.gz in {} is corrupted",
        ),
    ):
        copy = damaged_copy(backup, tmp_path, name, damage)
        refused = platform.playbook(
            "englab.mlops.restore",
            f"drill-restore-{name}",
            check=False,
            mlops_restore_from=str(copy),
            mlops_restore_confirm=True,
        )
        output = refused.stdout + refused.stderr
        assert refused.returncode != 0
        assert message.format(copy) in output, output[-2000:]
        assert "Traceback" not in output
        assert server_pids(platform) == pids, "a refused restore stopped the tracking server"


def interrupted_restore_in_place_is_finished(
    platform: Platform, backup: Path, payload: bytes, before: dict
) -> None:
    # in place, after a restore killed halfway (the tracking server stopped, the database set aside and
    # an empty one under its name): a confirmed restore puts the one set aside back first, never drops
    # it, and brings back exactly what the backup holds
    platform.exec("tracking-node", "systemctl", "stop", "englab-mlflow@5000", "englab-mlflow@5001")
    psql(
        platform,
        "ALTER DATABASE mlflow_db RENAME TO mlflow_db_before_restore",
        "CREATE DATABASE mlflow_db OWNER mlflow",
    )
    platform.playbook(
        "englab.mlops.restore",
        "drill-restore-in-place",
        mlops_restore_from=str(backup),
        mlops_restore_confirm=True,
    )
    assert state(platform, payload) == before
    assert (
        psql(platform, "SELECT datname FROM pg_database WHERE datname LIKE 'mlflow_db%' ORDER BY 1")
        == "mlflow_db\n"
    )


def test_a_platform_destroyed_with_its_data_comes_back_from_a_backup(platform: Platform, tmp_path: Path):
    backups = LOGS / "backups"
    logged = platform.mlflow_client(LOG_DATA)
    # serve the champion the drill just moved, so the served version is part of what must come back
    platform.playbook("englab.mlops.deploy", "drill-deploy")
    payload = json.dumps(platform.mlflow_client(PREDICT)).encode()
    before = state(platform, payload)
    assert before["served"]["version"] == str(logged["version"])
    assert sum(run["params"].get("drill") == DRILL for run in before["mlflow"]["runs"].values()) == 2

    backup_check_writes_nothing(platform, backups)

    # the backup: one complete set, private, with a manifest that checksums its files
    platform.playbook("englab.mlops.backup", "drill-backup", mlops_backup_dir=str(backups))
    sets = sorted(p for p in backups.iterdir() if p.is_dir())
    assert [p.name.endswith(".partial") for p in sets] == [False] * len(sets)
    backup = sets[-1]
    manifest = json.loads((backup / "manifest.json").read_text())
    assert set(manifest["files"]) == {"database.dump", "artifacts.tar.gz"}
    assert manifest["database"]["runs"] == len(before["mlflow"]["runs"])
    assert {"name": "englab-diabetes", "alias": "champion", "version": int(logged["version"])} in manifest[
        "database"
    ]["aliases"]
    assert backups.stat().st_mode & 0o777 == 0o700
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in backup.iterdir())

    restore_check_and_damaged_sets_change_nothing(platform, backup, tmp_path)

    interrupted_restore_in_place_is_finished(platform, backup, payload, before)

    # the platform is lost with its data
    platform.playbook("englab.mlops.destroy", "drill-destroy", mlops_destroy_data=True)
    left = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"name={platform.prefix}"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert left.stdout.strip() == "", f"destroy left volumes: {left.stdout}"

    # brought up from nothing and restored in the same run (no confirmation: it holds nothing yet)
    platform.playbook("englab.mlops.site", "drill-site-restore", mlops_restore_from=str(backup))
    after = state(platform, payload)
    for key in ("mlflow", "artifacts", "served", "served run", "predictions"):
        assert after[key] == before[key], key
    run = logged["runs"][0]
    assert platform.mlflow_client(READ_NOTE.replace("{run}", run)) == NOTE

    # in place, a platform with runs is not replaced without mlops_restore_confirm
    pids = server_pids(platform)
    refused = platform.playbook(
        "englab.mlops.restore",
        "drill-restore-unconfirmed",
        check=False,
        mlops_restore_from="latest",
        mlops_backup_dir=str(backups),
    )
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "To replace them, run again with -e mlops_restore_confirm=true" in output
    assert server_pids(platform) == pids
    assert platform.mlflow_client(STATE) == before["mlflow"]

    # and the restored platform is converged
    again = platform.playbook("englab.mlops.site", "drill-site-again")
    assert all(host["changed"] == 0 for host in recap(again).values()), recap(again)
