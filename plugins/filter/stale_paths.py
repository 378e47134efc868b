# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: stale_paths
short_description: The managed files and directories of a node that differ from what a role writes
version_added: 0.1.0
author: englab MLOps engineers (@englab)
description:
  - B(Deprecated:) no role uses it since 1.1.0; M(englab.mlops.managed_files) converges declared files
    in one module run instead. It will be removed in 2.0.0.
  - Compares one M(ansible.builtin.find) of a node (with O(ansible.builtin.find#module:get_checksum=true))
    against the list of paths a role manages, and returns the paths that are missing, have
    another type, content, mode, owner or group, or exist although they should be absent.
  - A role then runs its C(copy), C(template) and C(file) tasks only for those paths. A
    no-op run costs one C(find) instead of one module run per file, and drift is still repaired.
options:
  _input:
    description: The C(files) list returned by M(ansible.builtin.find).
    type: list
    elements: dict
    required: true
  managed:
    description:
      - What the role writes, one mapping per path, with C(path) and C(mode) (a quoted octal
        string such as C("0644")), C(owner) and C(group) (default C(root)), and C(sha1), the
        SHA-1 of the file's content. An entry without C(sha1) is a directory.
      - An entry with C(absent=true) only needs C(path); it is stale when the path exists.
      - An entry with C(src) is a symbolic link to C(src) (give C(follow=false) to the C(find));
        it is stale unless the path is a link to exactly that target.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Read the managed files once
  ansible.builtin.find:
    paths: [/etc/englab]
    file_type: any
    get_checksum: true
  register: __found

- name: Write the configuration only when it differs
  ansible.builtin.template:
    src: englab.conf.j2
    dest: /etc/englab/englab.conf
    mode: "0644"
  when: "'/etc/englab/englab.conf' in __found.files | englab.mlops.stale_paths(__managed)"
"""

RETURN = r"""
_value:
  description: The paths of O(managed) that differ, in the order given.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError


def stale_paths(found, managed):
    """Paths of ``managed`` that a role must (re)write, judged from one ``find`` of the node."""
    if not isinstance(found, list) or not isinstance(managed, list):
        raise AnsibleFilterError("englab.mlops.stale_paths: the input and 'managed' must be lists")
    have = {node["path"]: node for node in found}
    stale = []
    for want in managed:
        if "path" not in want:
            raise AnsibleFilterError(
                "englab.mlops.stale_paths: every managed entry needs a 'path': %r" % (want,)
            )
        node = have.get(want["path"])
        if want.get("absent"):
            if node is not None:
                stale.append(want["path"])
            continue
        if node is None:
            stale.append(want["path"])
            continue
        if "src" in want:
            if not node.get("islnk") or node.get("lnk_source") != want["src"]:
                stale.append(want["path"])
            continue
        is_dir = bool(node.get("isdir"))
        actual = [
            node.get("mode"),
            node.get("pw_name"),
            node.get("gr_name"),
            "dir" if is_dir else node.get("checksum"),
        ]
        wanted = [
            want.get("mode"),
            want.get("owner") or "root",
            want.get("group") or "root",
            want.get("sha1") or "dir",
        ]
        if actual != wanted:
            stale.append(want["path"])
    return stale


class FilterModule(object):
    def filters(self):
        return {"stale_paths": stale_paths}
