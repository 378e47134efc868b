# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: task_results
type: aggregate
short_description: Record every task result of a run as one JSON line, beside the usual output
version_added: 1.1.0
author: englab MLOps engineers (@englab)
description:
  - Writes one JSON object per task result to O(path), replacing the file at the start of each
    run. Each names the host, the task, its module (C(action)), whether it changed, was skipped or
    failed, whether it ran on the controller (C(delegate_to=localhost)), and the C(changed_paths) of
    M(englab.mlops.managed_files).
  - Never the result itself, so no secret reaches the file whatever the task's C(no_log).
  - The Molecule scenarios enable it to judge the idempotence run from each module's own result
    (no package install, no pip run, no file written), not from timing.
requirements:
  - enable in C(callbacks_enabled)
options:
  path:
    description: The file to write (its directory must exist). Empty writes nothing.
    type: path
    default: ""
    env:
      - name: ENGLAB_TASK_RESULTS
    ini:
      - section: englab_task_results
        key: path
"""

import json

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "englab.mlops.task_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._path = ""

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super(CallbackModule, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._path = self.get_option("path") or ""

    def v2_playbook_on_start(self, playbook):
        if self._path:
            with open(self._path, "w"):
                pass

    def _record(self, result, outcome):
        if not self._path:
            return
        task = result._task
        body = result._result or {}
        delegated = body.get("_ansible_delegated_vars") or {}
        line = {
            "host": result._host.get_name(),
            "task": task.get_name(),
            "action": task.action,
            "outcome": outcome,
            "changed": bool(body.get("changed")),
            "on_controller": delegated.get("ansible_delegated_host") == "localhost"
            or delegated.get("ansible_connection") == "local"
            or result._host.get_name() == "localhost",
        }
        if "changed_paths" in body:
            line["changed_paths"] = list(body["changed_paths"])
        with open(self._path, "a") as handle:
            handle.write(json.dumps(line, sort_keys=True) + "\n")

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_runner_item_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_item_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_item_on_failed(self, result):
        self._record(result, "failed")
