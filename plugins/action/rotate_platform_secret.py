# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rotate one platform secret in the store in force, once, on the controller.

One task on localhost (the provision role, before any role reads a secret) rather than a rotate mode
of the lookup: a lookup is templated by every fork and on every read, a task runs once per run,
honours check mode and reports changed. The store's options are the lookup's own (PlatformStore), so
both resolve the store, project and credentials the same way. Documentation in
plugins/modules/rotate_platform_secret.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase
from ansible.plugins.loader import lookup_loader
from ansible_collections.englab.mlops.plugins.plugin_utils.platform_secrets import (
    SecretError,
    parse_name,
    rotation_problem,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(
            argument_spec={"name": {"type": "str", "required": True}},
        )
        lookup = lookup_loader.get("englab.mlops.platform_secret", loader=self._loader, templar=self._templar)
        lookup.set_options(var_options=task_vars or {}, direct={})
        try:
            store = lookup.platform_store()
            problem = rotation_problem(args["name"], store.target)
            if problem:
                return dict(result, failed=True, changed=False, msg=problem)
            secret = parse_name(args["name"])
            where = store.where(secret)
            if not self._task.check_mode:
                store.rotate(secret)
        except SecretError as error:
            return dict(
                result, failed=True, changed=False, msg="englab.mlops.rotate_platform_secret: %s" % error
            )
        verb = "would get" if self._task.check_mode else "has"
        return dict(
            result,
            changed=True,
            secret=secret.name,
            location=where,
            msg="platform secret '%s' %s a new value (%s); every role that uses it applies it in this run"
            % (secret.name, verb, where),
        )
