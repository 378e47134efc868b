"""Issue 8: englab.mlops.site run the way AWX runs a job template, through ansible-runner.

AWX syncs the project into `project/`, installs its collections/requirements.yml into a
collections directory it puts on ANSIBLE_COLLECTIONS_PATH, writes the inventory and the job's
extra variables (the survey answers, as strings where the survey type is text) into the private
data dir, and runs the playbook path the job template names. This test builds that directory
from the checkout (the collection from its built tarball, as the sync would install it) and
runs site.yml against the e2e platform, already converged: the job succeeds with changed=0.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import ansible_runner
import yaml
from conftest import LOGS, ROOT, SERVING_PORT, TRACKING_PORT, Platform

AWX_VARS = ROOT / "playbooks" / "vars" / "awx.yml"


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader that reads Ansible's !unsafe tag as the plain string it marks."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def site_template() -> dict:
    templates = yaml.load(AWX_VARS.read_text(), Loader=_Loader)["awx_job_templates"]  # noqa: S506 a SafeLoader
    return next(t for t in templates if t["playbook"] == "playbooks/site.yml")


def private_data_dir(platform: Platform, base: Path) -> Path:
    pdd = base / "awx-job"
    if pdd.exists():
        shutil.rmtree(pdd)
    # project sync: the repository as git would check it out, without local caches
    shutil.copytree(
        ROOT,
        pdd / "project",
        ignore=shutil.ignore_patterns(".git", ".cache", ".venv*", "build", "__pycache__", ".pytest_cache"),
    )
    # collections/requirements.yml, installed the way the sync does (from the built collection here)
    built = base / "awx-build"
    shutil.rmtree(built, ignore_errors=True)
    subprocess.run(
        ["ansible-galaxy", "collection", "build", "--output-path", str(built), str(pdd / "project")],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "ansible-galaxy",
            "collection",
            "install",
            "--no-deps",
            "--force",
            "-p",
            str(pdd / "requirements_collections"),
        ]
        + [str(p) for p in built.glob("*.tar.gz")],
        check=True,
        capture_output=True,
    )
    (pdd / "inventory").mkdir()
    # AWX's own localhost host: local connection, the interpreter that runs ansible-playbook
    localhost = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    (pdd / "inventory" / "hosts").write_text(json.dumps({"all": {"hosts": {"localhost": localhost}}}))
    # survey answers as AWX passes them: every question the site template asks, answered
    survey = {q["variable"]: q.get("default", "") for q in site_template()["survey_spec"]["spec"]}
    survey.update({"mlops_target": "local", "mlops_name_prefix": platform.prefix})
    # job template extra_vars: where this platform keeps its secrets and which ports it publishes
    survey.update(
        {
            "mlops_secrets_dir": str(platform.secrets_dir),
            "mlops_local_tracking_port": str(TRACKING_PORT),
            "mlops_local_serving_port": str(SERVING_PORT),
        }
    )
    (pdd / "env").mkdir()
    (pdd / "env" / "extravars").write_text(json.dumps(survey))
    collections = f"{pdd / 'requirements_collections'}:/usr/share/ansible/collections"
    envvars = {
        "ANSIBLE_COLLECTIONS_PATH": collections,
        "ANSIBLE_FORCE_COLOR": "False",
        "ANSIBLE_NOCOLOR": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    (pdd / "env" / "envvars").write_text(json.dumps(envvars))
    (pdd / "env" / "settings").write_text(json.dumps({"job_timeout": 3000, "suppress_ansible_output": True}))
    return pdd


def test_site_job_runs_through_ansible_runner_like_awx(platform: Platform, tmp_path_factory):
    pdd = private_data_dir(platform, tmp_path_factory.mktemp("awx"))
    env_before = dict(os.environ)
    # the job sees only what AWX gives it: no checkout collections path, no checkout ansible.cfg
    for name in ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_CONFIG"):
        os.environ.pop(name, None)
    try:
        result = ansible_runner.run(private_data_dir=str(pdd), playbook="playbooks/site.yml", quiet=True)
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    stdout = result.stdout.read()
    (LOGS / "awx-site.log").write_text(stdout)
    assert result.status == "successful", stdout[-4000:]
    assert result.rc == 0
    stats = result.stats
    hosts = set(stats["ok"])
    assert {
        platform.node(n) for n in ("training-node", "tracking-node", "serving-node", "englab-db")
    } <= hosts
    assert stats["changed"] == {}, f"the AWX job changed a converged platform: {stats['changed']}"
    # the roles ran from the job's collections directory, not from the project's copy of them
    # (a role's argument-spec check reports the playbook line that names the role; skip those)
    role_files = [
        e["event_data"]["task_path"]
        for e in result.events
        if e.get("event") == "playbook_on_task_start"
        and e["event_data"].get("role")
        and "/roles/" in e["event_data"].get("task_path", "")
    ]
    assert role_files
    outside = [
        path for path in role_files if not path.startswith(str(pdd / "requirements_collections") + "/")
    ]
    assert outside == [], outside[:3]
