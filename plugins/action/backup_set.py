# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write, verify and prune backup sets on the controller (englab.mlops.backup, englab.mlops.restore).

Runs where the sets live, the controller, without a connection. Logic in
plugins/module_utils/backup_set.py; documentation in plugins/modules/backup_set.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.plugins.action import ActionBase
from ansible_collections.englab.mlops.plugins.module_utils import backup_set


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(
            argument_spec={
                "state": {
                    "type": "str",
                    "required": True,
                    "choices": ["write", "verify", "prune", "resolve"],
                },
                "path": {"type": "path", "required": True},
                "meta": {"type": "dict", "default": {}},
                "target": {"type": "str", "default": "local"},
                "keep": {"type": "int", "default": 7},
                "location": {"type": "str", "default": ""},
            },
        )
        try:
            return dict(result, **getattr(self, "_" + args["state"])(args))
        except (backup_set.BackupSetError, OSError) as error:
            return dict(result, failed=True, changed=False, msg=str(error))

    @staticmethod
    def _resolve(args):
        return {"changed": False, "path": backup_set.resolve(args["location"], args["path"])}

    @staticmethod
    def _verify(args):
        return {
            "changed": False,
            "path": args["path"],
            "manifest": backup_set.verify(args["path"], args["target"]),
        }

    def _write(self, args):
        path = args["path"]
        if self._task.check_mode:
            return {"changed": True, "msg": "Check mode: the backup set's manifest would be written"}
        final = path[: -len(backup_set.PARTIAL_SUFFIX)] if path.endswith(backup_set.PARTIAL_SUFFIX) else path
        manifest = backup_set.write_manifest(path, args["meta"])
        if final != path:
            os.rename(path, final)
        return {"changed": True, "manifest": manifest, "path": final}

    def _prune(self, args):
        """path is the platform's backup directory; the set being written (location) is kept."""
        if self._task.check_mode:
            return {"changed": False, "removed": []}
        current = os.path.basename(args["location"]) or None
        removed = backup_set.prune(args["path"], args["keep"], current=current)
        return {"changed": bool(removed), "removed": removed}
