"""Issues 8 and 17: englab.mlops.site run the way AWX runs a job template, through ansible-runner:
two jobs, each on a throw-away controller, converge the one e2e platform.

AWX syncs the project into `project/`, installs its collections/requirements.yml into a collections
directory it puts on ANSIBLE_COLLECTIONS_PATH, writes the inventory and the job's extra variables
(the survey answers, strings where the survey type is text) into the private data dir, and runs
the playbook path the job template names. fresh_job() builds that directory from the checkout (the
collection from its built tarball, as the sync would install it).

AWX gives every job a new private data directory, a new HOME and a new environment, and throws
them away afterwards. The earlier one-job test passed only because it handed its job the e2e
platform's own mlops_secrets_dir by hand. Here nothing is handed over by hand: each job gets
exactly what the AWX objects of playbooks/vars/awx.yml give it - the site template's survey
answers and its extra_vars - with the persistent path AWX exposes to jobs
(AWX_ISOLATION_SHOW_PATHS, awx_secrets_dir) being the directory the e2e platform keeps its
controller store in. Nothing in HOME, the private data dir or the environment survives a job.

How this fails on the old behaviour: the job templates had no extra_vars, so mlops_secrets_dir
fell back to ~/.config/englab-mlops/<prefix>englab under the job's fresh HOME - an empty directory.
The first job then generated a new tracking_admin, and the tracking role stopped with "does not
accept tracking_server_admin_password" (and a new platform CA, SSH key and known_hosts would have
been made). template_extra_vars() below reads the templates' extra_vars and fails outright
when they carry no mlops_secrets_dir; the job assertions fail if the dir is not the persistent one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import ansible_runner
import pytest
import yaml
from conftest import LOGS, ROOT, SERVING_NODES, SERVING_PORT, TRACKING_PORT, Platform

AWX_VARS = ROOT / "playbooks" / "vars" / "awx.yml"


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader that reads Ansible's !unsafe tag as the plain string it marks."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def site_template() -> dict:
    templates = yaml.load(AWX_VARS.read_text(), Loader=_Loader)["awx_job_templates"]  # noqa: S506 a SafeLoader
    return next(t for t in templates if t["playbook"] == "playbooks/site.yml")


def template_extra_vars(platform: Platform) -> dict:
    """The site job template's extra_vars as awx_setup.yml stores them, awx_secrets_dir being the
    persistent path this AWX exposes to jobs: here the e2e platform's directory."""
    data = yaml.load(AWX_VARS.read_text(), Loader=_Loader)  # noqa: S506 a SafeLoader
    extra = dict(site_template().get("extra_vars") or {})
    if "mlops_secrets_dir" not in extra:
        pytest.fail(
            "the site job template gives its jobs no mlops_secrets_dir: each job would use a fresh one"
        )
    assert data["awx_secrets_dir"].startswith("/")
    # awx_secrets_dir is the path AWX_ISOLATION_SHOW_PATHS mounts into the job: here the platform's
    return {
        name: str(platform.secrets_dir) if value == "{{ awx_secrets_dir }}" else value
        for name, value in extra.items()
    }


def fresh_job(platform: Platform, base: Path, name: str) -> tuple[Path, dict]:
    """A private data dir as AWX writes it for one job, and the job's whole environment."""
    pdd = base / name
    shutil.copytree(
        ROOT,
        pdd / "project",
        ignore=shutil.ignore_patterns(".git", ".cache", ".venv*", "build", "__pycache__", ".pytest_cache"),
    )
    built = base / f"{name}-build"
    subprocess.run(
        ["ansible-galaxy", "collection", "build", "--output-path", str(built), str(pdd / "project")],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["ansible-galaxy", "collection", "install", "--no-deps", "--force", "-p"]
        + [str(pdd / "requirements_collections")]
        + [str(p) for p in built.glob("*.tar.gz")],
        check=True,
        capture_output=True,
    )
    (pdd / "inventory").mkdir()
    localhost = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    (pdd / "inventory" / "hosts").write_text(json.dumps({"all": {"hosts": {"localhost": localhost}}}))
    # survey answers (defaults), the platform's name, the template's extra_vars; the two ports are the
    # e2e platform's own (a user's platform uses the defaults). No mlops_secrets_dir by hand.
    extravars = {q["variable"]: q.get("default", "") for q in site_template()["survey_spec"]["spec"]}
    extravars.update({"mlops_target": "local", "mlops_name_prefix": platform.prefix})
    extravars.update(template_extra_vars(platform))
    extravars.update(
        {
            "mlops_local_tracking_port": str(TRACKING_PORT),
            "mlops_local_serving_port": str(SERVING_PORT),
        }
    )
    (pdd / "env").mkdir()
    (pdd / "env" / "extravars").write_text(json.dumps(extravars))
    envvars = {
        "ANSIBLE_COLLECTIONS_PATH": f"{pdd / 'requirements_collections'}:/usr/share/ansible/collections",
        "ANSIBLE_NOCOLOR": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    (pdd / "env" / "envvars").write_text(json.dumps(envvars))
    (pdd / "env" / "settings").write_text(json.dumps({"job_timeout": 3000, "suppress_ansible_output": True}))
    home = base / f"{name}-home"
    home.mkdir()
    # the job's whole environment: the tools of the execution environment, a HOME nothing was kept in
    environment = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
    }
    return pdd, environment


def run_job(pdd: Path, environment: dict, log: str) -> dict:
    """Run site as the job and return its stats (read now: the job's directory goes with it).

    Also checks the roles ran from the job's collections directory (what the project sync
    installed), not from the project's copy of them.
    """
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment)
    try:
        result = ansible_runner.run(private_data_dir=str(pdd), playbook="playbooks/site.yml", quiet=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    stdout = result.stdout.read()
    (LOGS / f"{log}.log").write_text(stdout)
    assert result.status == "successful", stdout[-4000:]
    assert result.rc == 0
    # a role's argument-spec check reports the playbook line that names the role; skip those
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
    return result.stats


def test_two_jobs_on_fresh_controllers_keep_the_platforms_secrets(platform: Platform, tmp_path_factory):
    admin_file = platform.secrets_dir / "tracking_admin"
    admin_before = admin_file.read_text()
    ca_before = (platform.secrets_dir / "tracking_ca.crt").read_bytes()
    results = []
    for job in ("job-1", "job-2"):
        base = tmp_path_factory.mktemp(f"awx-{job}")
        pdd, environment = fresh_job(platform, base, job)
        results.append(run_job(pdd, environment, f"awx-fresh-{job}"))
        # nothing was written into the throw-away HOME's default secrets directory
        assert not (Path(environment["HOME"]) / ".config" / "englab-mlops").exists()
        shutil.rmtree(base)  # the job is over: AWX throws its directory and HOME away
    first, second = results
    nodes = {platform.node(n) for n in ("training-node", "tracking-node", "serving-node", "englab-db")}
    # The survey's 0 serving nodes keeps the platform's own number, read from the platform: a job on
    # a controller that has no record of it scales nothing down (every serving node is still served).
    nodes |= {platform.node(f"serving-node-{i}") for i in range(2, SERVING_NODES + 1)}
    assert SERVING_NODES >= 2
    assert nodes <= set(first["ok"]) and nodes <= set(second["ok"])
    assert second["changed"] == {}, f"the second job changed the platform: {second['changed']}"
    # the admin password (and the CA) are the ones the platform had before both jobs
    assert admin_file.read_text() == admin_before
    assert (platform.secrets_dir / "tracking_ca.crt").read_bytes() == ca_before
