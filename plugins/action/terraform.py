# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run Terraform through cloud.terraform.terraform, or community.general.terraform without it.

The two modules take the same arguments (community.general adds no_color, which this
plugin never passes), so the provision role has one task list for both. Documentation
lives in plugins/modules/terraform.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util

from ansible.plugins.action import ActionBase

CANDIDATES = ("cloud.terraform.terraform", "community.general.terraform")

ARGUMENT_SPEC = dict(
    project_path=dict(type="path", required=True),
    binary_path=dict(type="path"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    variables=dict(type="dict"),
    complex_vars=dict(type="bool", default=False),
    variables_files=dict(type="list", elements="path"),
    backend_config=dict(type="dict"),
    backend_config_files=dict(type="list", elements="path"),
    force_init=dict(type="bool", default=False),
    init_reconfigure=dict(type="bool", default=False),
    provider_upgrade=dict(type="bool", default=False),
    workspace=dict(type="str", default="default"),
    state_file=dict(type="path"),
    targets=dict(type="list", elements="str", default=[]),
    lock=dict(type="bool", default=True),
    lock_timeout=dict(type="int"),
    parallelism=dict(type="int"),
    check_destroy=dict(type="bool", default=False),
    plugin_paths=dict(type="list", elements="path"),
)


def select_module(is_available, candidates=CANDIDATES):
    """First candidate module the plugin loader can resolve, or None."""
    for name in candidates:
        if is_available(name):
            return name
    return None


def module_args(params):
    """Arguments to pass on: only what was set, so each module applies its own defaults."""
    return dict((key, value) for key, value in params.items() if value is not None and value != [])


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def _is_available(self, name):
        # Asking the loader about a module of a collection that is not installed logs a
        # warning; look the collection package up first.
        namespace, collection = name.split(".")[:2]
        try:
            if importlib.util.find_spec("ansible_collections.%s.%s" % (namespace, collection)) is None:
                return False
        except ImportError:
            return False
        context = self._shared_loader_obj.module_loader.find_plugin_with_context(
            name, collection_list=self._task.collections
        )
        return context.resolved

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        validation, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation
        module = select_module(self._is_available)
        if module is None:
            result.update(failed=True, msg="neither %s is installed" % " nor ".join(CANDIDATES))
            return result
        # Both modules plan into tempfile.mkstemp(suffix='.tfplan') and never remove the file, a
        # copy of the Terraform state left in the system's temporary directory on every run. The
        # module runs with TMPDIR set to this task's own temporary directory, removed afterwards
        # (as Ansible itself adds ANSIBLE_ASYNC_DIR for one module run).
        tmpdir = self._make_tmp_path()
        environment = self._task.environment
        if not isinstance(environment, list):
            environment = [environment] if environment else []
        self._task.environment = [*environment, {"TMPDIR": tmpdir}]
        try:
            result.update(
                self._execute_module(
                    module_name=module,
                    module_args=module_args(params),
                    task_vars=task_vars,
                    delete_remote_tmp=False,
                )
            )
        finally:
            self._task.environment = environment
            self._remove_tmp_path(tmpdir, force=True)
        result["terraform_module"] = module
        return result
