#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: managed_files
short_description: Converge a role's files, directories and links in one call
version_added: 1.1.0
author: englab MLOps engineers (@englab)
description:
  - A role declares every file, directory, symbolic link and removed path it manages in one
    task. The action renders each O(files[].template) and reads each O(files[].src) on the
    controller, then one module run on the node compares every path with what is declared
    and writes only what differs.
  - A converged node therefore costs one round trip however many files a role manages, and
    no role keeps a hand-written list of paths to probe.
  - A file is written to a temporary file beside its destination, given its owner, group and
    mode, checked with O(files[].validate), then renamed over the destination, so a reader
    never sees half a file and a file that fails validation is never installed.
  - Entries are converged in the order given, so a directory comes before the files in it.
attributes:
  action:
    support: full
    description: The action renders templates and reads sources on the controller.
  check_mode:
    support: full
    description: Reports what would change, writes nothing.
  diff_mode:
    support: full
    description: Shows the content changes of files, except those with O(files[].diff=false).
  platform:
    support: full
    platforms: posix
    description: Runs on Linux nodes.
options:
  files:
    description: What the role manages, one entry per path.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path on the node.
        type: path
        required: true
      state:
        description:
          - V(file) writes the content given by O(files[].content), O(files[].src) or O(files[].template).
          - V(directory) creates the directory, and missing parents like C(mkdir -p) does.
          - V(link) makes O(files[].path) a symbolic link to O(files[].src).
          - V(absent) removes the path (a directory with its content).
        type: str
        choices: [file, directory, link, absent]
        default: file
      content:
        description: The file's content.
        type: str
      src:
        description:
          - With O(files[].state=file), a file on the controller, looked up in the role's C(files)
            directory like M(ansible.builtin.copy) does.
          - With O(files[].state=link), the link's target.
        type: str
      template:
        description: A Jinja2 template on the controller, looked up like M(ansible.builtin.template) does.
        type: str
      mode:
        description: The permissions, as a quoted octal string. Defaults to V("0644") for files and V("0755") for directories.
        type: str
      owner:
        description: Owner name.
        type: str
        default: root
      group:
        description: Group name.
        type: str
        default: root
      validate:
        description: A command run on the temporary file before it replaces the destination; C(%s) is its path.
        type: str
      diff:
        description: Set V(false) for a file that holds a secret, so diff mode never shows its content.
        type: bool
        default: true
notes:
  - Give the task C(no_log=true) when a file holds a secret; the module also never returns content.
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.copy
  - module: ansible.builtin.file
"""

EXAMPLES = r"""
- name: Write the service's files
  englab.mlops.managed_files:
    files:
      - path: /etc/englab
        state: directory
        mode: "0750"
      - path: /etc/englab/englab.conf
        template: englab.conf.j2
        mode: "0640"
        validate: /usr/bin/englab-check %s
      - path: /usr/local/bin/englab-helper
        src: englab-helper.py
        mode: "0755"
      - path: /etc/englab/old.conf
        state: absent
  register: englab_files
  notify: Restart englab
"""

RETURN = r"""
changed_paths:
  description: The paths written, created, changed in mode or ownership, linked or removed, in the order given.
  returned: always
  type: list
  elements: str
  sample: [/etc/englab/englab.conf]
"""

import grp
import os
import pwd
import shutil
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native


class Problem(Exception):
    pass


def _ids(entry, check_mode):
    """(uid, gid) of the entry's owner and group; None for one that does not exist yet in check mode."""
    ids = []
    for kind, lookup in (("owner", pwd.getpwnam), ("group", grp.getgrnam)):
        try:
            ids.append(lookup(entry[kind])[2])
        except KeyError:
            if check_mode:
                ids.append(None)
            else:
                raise Problem(
                    "%s: the %s %r does not exist on the node" % (entry["path"], kind, entry[kind])
                ) from None
    return tuple(ids)


def _mode(entry):
    default = "0755" if entry["state"] == "directory" else "0644"
    value = entry.get("mode") or default
    try:
        mode = int(str(value), 8)
    except ValueError:
        raise Problem(
            '%s: mode must be an octal string such as "0644", got %r' % (entry["path"], value)
        ) from None
    if mode > 0o7777:
        raise Problem("%s: mode %r is out of range" % (entry["path"], value))
    return mode


def _attributes_differ(st, mode, uid, gid):
    return stat.S_IMODE(st.st_mode) != mode or st.st_uid != uid or st.st_gid != gid


def _set_attributes(path, mode, uid, gid):
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def _lstat(path):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _remove(path, st):
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


class Converger(object):
    def __init__(self, module):
        self.module = module
        self.check = module.check_mode
        self.changed = []
        self.diffs = []

    def run(self, entries):
        for entry in entries:
            path = entry["path"]
            if not os.path.isabs(path):
                raise Problem("%s: the path must be absolute" % path)
            if getattr(self, "_" + entry["state"])(entry):
                self.changed.append(path)

    def _absent(self, entry):
        st = _lstat(entry["path"])
        if st is None:
            return False
        if not self.check:
            _remove(entry["path"], st)
        return True

    def _directory(self, entry):
        path = entry["path"]
        mode = _mode(entry)
        uid, gid = _ids(entry, self.check)
        st = _lstat(path)
        if st is not None and not stat.S_ISDIR(st.st_mode):
            raise Problem("%s: exists and is not a directory; remove it or declare it absent first" % path)
        if st is not None and not _attributes_differ(st, mode, uid, gid):
            return False
        if not self.check:
            if st is None:
                # Like mkdir -p and ansible.builtin.file: missing parents too (mode from the umask).
                os.makedirs(path, 0o700)
            _set_attributes(path, mode, uid, gid)
        return True

    def _link(self, entry):
        path, target = entry["path"], entry.get("src")
        if not target:
            raise Problem("%s: state=link needs src, the link's target" % path)
        st = _lstat(path)
        if st is not None and stat.S_ISLNK(st.st_mode) and os.readlink(path) == target:
            return False
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise Problem("%s: is a directory; declare it absent before making it a link" % path)
        if not self.check:
            self._parent_must_exist(path)
            tmp = os.path.join(os.path.dirname(path), ".%s.englab-link" % os.path.basename(path))
            if _lstat(tmp) is not None:
                os.unlink(tmp)
            os.symlink(target, tmp)
            os.rename(tmp, path)
        return True

    def _file(self, entry):
        path = entry["path"]
        if entry.get("content") is None:
            raise Problem("%s: a file needs content, src or template" % path)
        want = to_bytes(entry["content"], errors="surrogate_or_strict")
        mode = _mode(entry)
        uid, gid = _ids(entry, self.check)
        st = _lstat(path)
        have = None
        if st is not None:
            if stat.S_ISDIR(st.st_mode):
                raise Problem("%s: is a directory, not a file" % path)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as handle:
                    have = handle.read()
        same_content = have == want
        if same_content and not _attributes_differ(st, mode, uid, gid):
            return False
        if not same_content and entry.get("diff", True) and self.module._diff:
            # The action adds "after", the content it rendered: the module's own copy of every
            # content is a no_log value, which Ansible would mask in anything it returns.
            self.diffs.append(
                {
                    "before_header": path,
                    "after_header": path,
                    "before": to_native(have, errors="surrogate_or_replace") if have is not None else "",
                }
            )
        if self.check:
            return True
        if same_content:
            _set_attributes(path, mode, uid, gid)
            return True
        self._parent_must_exist(path)
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(want)
            _set_attributes(tmp, mode, uid, gid)
            if entry.get("validate"):
                self._validate(entry["validate"], tmp, path)
            os.rename(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return True

    def _validate(self, command, tmp, path):
        if "%s" not in command:
            raise Problem(
                "%s: validate must contain %%s, the path of the file to check: %r" % (path, command)
            )
        rc, out, err = self.module.run_command(command % tmp)
        if rc != 0:
            raise Problem(
                "%s: not installed, the validate command %r failed (rc %d): %s"
                % (path, command, rc, (err or out).strip())
            )

    @staticmethod
    def _parent_must_exist(path):
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            raise Problem("%s: the directory %s does not exist; declare it before the path" % (path, parent))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    path=dict(type="path", required=True),
                    state=dict(type="str", choices=["file", "directory", "link", "absent"], default="file"),
                    content=dict(type="str", no_log=True),
                    src=dict(type="str"),
                    template=dict(type="str"),
                    mode=dict(type="str"),
                    owner=dict(type="str", default="root"),
                    group=dict(type="str", default="root"),
                    validate=dict(type="str"),
                    diff=dict(type="bool", default=True),
                ),
            ),
        ),
        supports_check_mode=True,
    )
    converger = Converger(module)
    try:
        converger.run(module.params["files"])
    except (Problem, OSError) as error:
        module.fail_json(
            msg=to_native(error), changed_paths=converger.changed, changed=bool(converger.changed)
        )
    result = dict(changed=bool(converger.changed), changed_paths=converger.changed)
    if converger.diffs:
        result["diff"] = converger.diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
