"""The action plugin englab.mlops.rotate_platform_secret: once, honest about check mode, refusals without a value."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.template import Templar
from ansible_collections.englab.mlops.plugins.action import rotate_platform_secret as action
from ansible_collections.englab.mlops.plugins.plugin_utils import platform_secrets as ps


def run(name: str, task_vars: dict[str, Any], check_mode: bool = False) -> dict[str, Any]:
    task = Task()
    task.args = {"name": name}
    task.check_mode = check_mode
    plugin = action.ActionModule(
        task=task,
        connection=mock.MagicMock(),
        play_context=mock.MagicMock(),
        loader=DataLoader(),
        templar=Templar(loader=DataLoader(), variables=task_vars),
        shared_loader_obj=mock.MagicMock(),
    )
    return plugin.run(task_vars=task_vars)


@pytest.fixture
def platform(tmp_path):
    secrets_dir = tmp_path / "secrets"
    value, _unused = ps.controller_secret(str(secrets_dir), ps.parse_name("tracking_user/serving"))
    return {"mlops_target": "local", "mlops_secrets_dir": str(secrets_dir)}, secrets_dir, value


def test_rotates_once_and_reports_where_without_the_value(platform):
    task_vars, secrets_dir, old = platform
    result = run("tracking_user/serving", task_vars)
    new = (secrets_dir / "tracking_user_serving").read_text().strip()
    assert new != old and (secrets_dir / "tracking_user_serving.previous").read_text().strip() == old
    assert result["changed"] is True and not result.get("failed")
    assert result["location"] == f"the controller file {secrets_dir}/tracking_user_serving"
    assert new not in str(result) and old not in str(result)


def test_check_mode_changes_nothing(platform):
    task_vars, secrets_dir, old = platform
    result = run("tracking_user/serving", task_vars, check_mode=True)
    assert result["changed"] is True and "would get a new value" in result["msg"]
    assert (secrets_dir / "tracking_user_serving").read_text().strip() == old
    assert not (secrets_dir / "tracking_user_serving.previous").exists()


@pytest.mark.parametrize(
    ("name", "target", "message"),
    [
        (
            "tracking_usr/serving",
            "local",
            "mlops_rotate must name one platform secret: unknown platform secret",
        ),
        ("db_password", "gcp", "Raise provision_gcp_db_password_version by one instead"),
    ],
)
def test_refusals_change_nothing(platform, name, target, message):
    task_vars, secrets_dir, _old = platform
    before = sorted(p.name for p in secrets_dir.iterdir())
    result = run(name, dict(task_vars, mlops_target=target, mlops_secrets_store="controller"))
    assert result["failed"] is True and result["changed"] is False and message in result["msg"]
    assert sorted(p.name for p in secrets_dir.iterdir()) == before
