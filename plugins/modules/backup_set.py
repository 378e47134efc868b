# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file only documents the action plugin plugins/action/backup_set.py.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: backup_set
short_description: Write, verify and prune englab.mlops backup sets on the controller
version_added: 0.2.0
author: englab MLOps engineers (@englab)
description:
  - An action plugin that runs on the controller, where backup sets live (C(mlops_backup_dir)).
  - A set is a directory C(<YYYYmmddTHHMMSSZ>) holding C(database.dump) (pg_dump custom format),
    C(artifacts.tar.gz) and C(manifest.json), written last - the platform, target, MLflow version,
    schema revision, counts, and every file's size and SHA-256. A backup in progress is
    C(<id>.partial) and becomes C(<id>) only with its manifest.
  - "C(state=write): checksums the files of I(path) (a C(.partial) directory), writes the manifest (0600) and renames
    the directory to its id."
  - "C(state=verify): the manifest of the set at I(path); fails, naming the file and the size or checksum that
    differs, when a file is missing, truncated or corrupted, or the set is of another target."
  - "C(state=prune): removes the complete sets of the platform's backup directory I(path) beyond the newest
    I(keep), and partial ones other than I(location)'s."
  - "C(state=resolve): the set directory I(location) names - a path, or C(latest), the newest complete set
    in I(path)."
extends_documentation_fragment:
  - action_common_attributes
attributes:
  check_mode:
    support: full
    details: Verifies and resolves; writes and removes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  state:
    description: What to do.
    type: str
    required: true
    choices: [write, verify, prune, resolve]
  path:
    description: The set directory (write, verify), or the platform's backup directory (prune, resolve).
    type: path
    required: true
  meta:
    description: What describes the set (write).
    type: dict
    default: {}
  target:
    description: The platform's target (write checks the files it needs; verify refuses another target's set).
    type: str
    default: local
  keep:
    description: How many complete sets prune keeps.
    type: int
    default: 7
  location:
    description: What C(mlops_restore_from) names (resolve), or the set being written (prune keeps it).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Verify the set before anything stops
  englab.mlops.backup_set:
    state: verify
    path: /root/.local/share/englab-mlops/englab/backups/20261129T230000Z
"""

RETURN = r"""
manifest:
  description: The set's manifest (write, verify).
  returned: write, verify
  type: dict
path:
  description: The set directory (write, verify, resolve).
  returned: write, verify, resolve
  type: str
removed:
  description: Directory names prune removed.
  returned: prune
  type: list
  elements: str
"""
