# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refuse unknown or wrong englab.mlops variables before anything changes.

Runs on the controller as the first task of every playbook of the collection. The names a
play sees (extra vars, inventory and play vars, defaults of the play's roles) are compared
with the documented set of the installed collection; the values of documented ones are
validated with the roles' own argument specs, so a wrong value stops with one short line, and then
with the rules of plugins/module_utils/input_rules.py (ports that collide, CA certificate files, image
references, memory and CPU limits, URLs).
Logic in plugins/plugin_utils/variable_check.py; documentation in
plugins/modules/check_variables.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.englab.mlops.plugins.module_utils import input_rules
from ansible_collections.englab.mlops.plugins.plugin_utils import variable_check

# plugins/action/ -> the collection's root, where roles/*/meta/argument_specs.yml live.
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset()

    def _values(self, names, task_vars):
        """The templated values of names; one that cannot be templated here (it needs the
        role's own context, such as role_path) is left to the role's validation."""
        values = {}
        for name in names:
            try:
                values[name] = self._templar.template(task_vars[name])
            except AnsibleError:
                continue
        return values

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        specs = variable_check.load_argument_specs(COLLECTION_ROOT)
        documented = variable_check.documented_variables(specs)
        unknown = variable_check.unknown_variables(task_vars, documented)
        given = [name for name in task_vars if variable_check.in_namespace(name) and name in documented]
        values = self._values(given, task_vars)
        errors = variable_check.value_errors(specs, values)
        if not errors:
            # Rules the argument specs cannot express (collisions, files, images, limits, URLs), on values
            # of the right type only.
            defaults = variable_check.literal_defaults(COLLECTION_ROOT, values)
            errors = input_rules.value_problems(values, defaults)
        result["changed"] = False
        result["unknown_variables"] = [name for name, _suggested in unknown]
        if unknown or errors:
            errors = variable_check.name_the_source(errors, dict((name, task_vars[name]) for name in given))
            result["failed"] = True
            result["msg"] = variable_check.refusal(unknown, errors)
        else:
            result["msg"] = "every englab.mlops variable is documented and valid"
        return result
