"""englab.mlops.terraform: which module runs, and what it is given."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest
from ansible.playbook.task import Task
from ansible.template import Templar
from ansible_collections.englab.mlops.plugins.action import terraform as action

# the task's temporary directory ActionBase would make on the target
TMP = "/root/.ansible/tmp/ansible-tmp-1-2"


def test_select_prefers_cloud_terraform_when_installed():
    assert action.select_module(lambda name: True) == "cloud.terraform.terraform"


def test_select_falls_back_to_community_general():
    available = {"community.general.terraform"}
    assert action.select_module(available.__contains__) == "community.general.terraform"


def test_select_none_when_neither_is_installed():
    assert action.select_module(lambda name: False) is None


def test_module_args_pass_only_what_is_set():
    params = {
        "project_path": "/p",
        "binary_path": None,
        "targets": [],
        "force_init": False,
        "variables": {"a": 1},
    }
    assert action.module_args(params) == {"project_path": "/p", "force_init": False, "variables": {"a": 1}}


def test_every_argument_is_one_both_modules_take():
    # community.general.terraform's parameters; cloud.terraform.terraform has the same minus no_color.
    from ansible_collections.community.general.plugins.modules import terraform as cg  # noqa: PLC0415

    spec = cg.__dict__.get("DOCUMENTATION")
    assert spec is not None
    import yaml  # noqa: PLC0415

    options = set(yaml.safe_load(spec)["options"])
    assert set(action.ARGUMENT_SPEC) <= options - {"no_color"}


def make_action(args, resolved):
    task = Task()
    task.args = args
    task.collections = []
    task.check_mode = False
    loader = SimpleNamespace(
        module_loader=SimpleNamespace(
            find_plugin_with_context=lambda name, collection_list=None: SimpleNamespace(
                resolved=name in resolved
            )
        )
    )
    plugin = action.ActionModule(
        task=task,
        connection=mock.MagicMock(),
        play_context=mock.MagicMock(),
        loader=mock.MagicMock(),
        templar=Templar(loader=mock.MagicMock()),
    )
    # ActionBase always binds the global plugin loaders; stand one in that knows `resolved`.
    plugin._shared_loader_obj = loader
    plugin._execute_module = mock.MagicMock(return_value={"changed": True, "outputs": {}})
    plugin._make_tmp_path = mock.MagicMock(return_value=TMP)
    plugin._remove_tmp_path = mock.MagicMock()
    return plugin


@pytest.mark.parametrize(
    ("installed", "expected"),
    [
        ({"cloud.terraform.terraform", "community.general.terraform"}, "cloud.terraform.terraform"),
        ({"community.general.terraform"}, "community.general.terraform"),
    ],
)
def test_run_executes_the_selected_module(installed, expected):
    plugin = make_action({"project_path": "/root", "variables": {"region": "x"}}, installed)
    with mock.patch.object(action.importlib.util, "find_spec", return_value=object()):
        result = plugin.run(task_vars={})
    assert result["terraform_module"] == expected
    kwargs = plugin._execute_module.call_args.kwargs
    assert kwargs["module_name"] == expected
    assert kwargs["module_args"]["project_path"] == "/root"
    assert kwargs["module_args"]["variables"] == {"region": "x"}
    assert "binary_path" not in kwargs["module_args"]


def test_run_skips_a_collection_that_is_not_installed():
    plugin = make_action(
        {"project_path": "/root"}, {"cloud.terraform.terraform", "community.general.terraform"}
    )
    with mock.patch.object(
        action.importlib.util,
        "find_spec",
        side_effect=lambda name: None if name.endswith("cloud.terraform") else object(),
    ):
        result = plugin.run(task_vars={})
    assert result["terraform_module"] == "community.general.terraform"


def test_run_fails_clearly_without_either_module():
    plugin = make_action({"project_path": "/root"}, set())
    with mock.patch.object(action.importlib.util, "find_spec", return_value=object()):
        result = plugin.run(task_vars={})
    assert result["failed"] is True
    assert "neither cloud.terraform.terraform nor community.general.terraform is installed" in result["msg"]
    plugin._execute_module.assert_not_called()


def test_run_rejects_bad_arguments_before_running_anything():
    plugin = make_action({"project_path": "/root", "state": "planned"}, {"community.general.terraform"})
    with pytest.raises(Exception, match="state"):
        plugin.run(task_vars={})
    plugin._execute_module.assert_not_called()


def test_the_module_plans_into_the_tasks_own_temporary_directory():
    """The modules leave their plan file (a copy of the state) in $TMPDIR: it must be one removed after the task."""
    plugin = make_action({"project_path": "/root"}, {"community.general.terraform"})
    seen = []

    def execute(**kwargs):
        # what ActionBase would put in front of the module's command line
        seen.append(plugin._compute_environment_string({}))
        return {"changed": False, "outputs": {}}

    plugin._execute_module.side_effect = execute
    plugin._connection._shell.env_prefix = lambda **env: " ".join(f"{k}={v}" for k, v in env.items())
    with mock.patch.object(action.importlib.util, "find_spec", return_value=object()):
        plugin.run(task_vars={})
    assert seen == [f"TMPDIR={TMP}"]
    assert plugin._execute_module.call_args.kwargs["delete_remote_tmp"] is False
    plugin._remove_tmp_path.assert_called_once_with(TMP, force=True)
    assert {"TMPDIR": TMP} not in plugin._task.environment


def test_the_temporary_directory_is_removed_when_the_module_fails():
    plugin = make_action({"project_path": "/root"}, {"community.general.terraform"})
    plugin._execute_module.side_effect = RuntimeError("connection lost")
    with (
        mock.patch.object(action.importlib.util, "find_spec", return_value=object()),
        pytest.raises(RuntimeError),
    ):
        plugin.run(task_vars={})
    plugin._remove_tmp_path.assert_called_once_with(TMP, force=True)
    assert {"TMPDIR": TMP} not in plugin._task.environment
