# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a role's declared files on the controller, converge them on the node in one module run.

Documentation in plugins/modules/managed_files.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

try:  # ansible-core 2.19 marks template text as trusted before rendering it
    from ansible.template import trust_as_template
except ImportError:  # pragma: no cover - older cores render any text

    def trust_as_template(value):
        return value


try:
    from ansible._internal._templating import _template_vars
except ImportError:  # pragma: no cover
    _template_vars = None

KEYS = ("path", "state", "content", "src", "template", "mode", "owner", "group", "validate", "diff")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        files = self._task.args.get("files")
        if not isinstance(files, list):
            return dict(
                result, failed=True, msg="englab.mlops.managed_files: files must be a list of mappings"
            )
        unknown = set(self._task.args) - {"files"}
        if unknown:
            return dict(
                result,
                failed=True,
                msg="englab.mlops.managed_files: unknown option(s) %s" % ", ".join(sorted(unknown)),
            )
        try:
            entries = [self._resolve(entry, task_vars) for entry in files]
        except AnsibleError as error:
            return dict(
                result, failed=True, msg=to_text(error.message if hasattr(error, "message") else error)
            )
        result.update(
            self._execute_module(
                module_name="englab.mlops.managed_files",
                module_args={"files": entries},
                task_vars=task_vars,
            )
        )
        after = dict((entry["path"], entry.get("content")) for entry in entries)
        for diff in result.get("diff") or []:
            diff["after"] = after.get(diff.get("after_header"), "")
        return result

    def _resolve(self, entry, task_vars):
        if not isinstance(entry, dict) or not entry.get("path"):
            raise AnsibleError("englab.mlops.managed_files: every entry needs a path: %r" % (entry,))
        unknown = set(entry) - set(KEYS)
        if unknown:
            raise AnsibleError(
                "englab.mlops.managed_files: %s: unknown key(s) %s; allowed: %s"
                % (entry["path"], ", ".join(sorted(unknown)), ", ".join(KEYS))
            )
        entry = dict(entry)
        state = entry.get("state", "file")
        if state != "file":
            return entry
        sources = [key for key in ("content", "src", "template") if entry.get(key) is not None]
        if len(sources) != 1:
            raise AnsibleError(
                "englab.mlops.managed_files: %s: give exactly one of content, src and template (got %s)"
                % (entry["path"], ", ".join(sources) or "none")
            )
        if "src" in sources:
            source = self._find_needle("files", entry.pop("src"))
            entry["content"] = self._loader.get_text_file_contents(source)
        elif "template" in sources:
            entry["content"] = self._render(entry.pop("template"), entry["path"], task_vars)
        else:
            entry["content"] = to_text(entry["content"])
        return entry

    def _render(self, name, dest, task_vars):
        source = self._find_needle("templates", name)
        searchpath = []
        for directory in [
            *task_vars.get("ansible_search_path", []),
            self._loader._basedir,
            os.path.dirname(source),
        ]:
            searchpath.extend([os.path.join(directory, "templates"), directory])
        variables = dict(task_vars)
        if _template_vars is not None:
            variables.update(
                _template_vars.generate_ansible_template_vars(
                    path=name,
                    fullpath=source,
                    dest_path=dest,
                    include_ansible_managed="ansible_managed" not in variables,
                )
            )
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=variables)
        text = trust_as_template(self._loader.get_text_file_contents(source))
        # The settings of ansible.builtin.template, so a template renders the same in both.
        overrides = dict(trim_blocks=True, lstrip_blocks=False, newline_sequence="\n")
        rendered = templar.template(text, escape_backslashes=False, overrides=overrides)
        return "" if rendered is None else to_text(rendered)
