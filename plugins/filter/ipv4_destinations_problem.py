# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: ipv4_destinations_problem
short_description: Why a list of IPv4 destinations cannot become iptables rules
version_added: 0.1.0
author: englab MLOps engineers (@englab)
description:
  - Returns an empty string when the value is a list of IPv4 addresses or CIDR ranges without
    host bits, and otherwise one line naming the variable, the allowed form and the entry given.
  - The same rule englab.mlops.check_variables applies first in every playbook; a role applies
    it itself so that it also holds when the role runs on its own (Molecule, your playbook).
options:
  _input:
    description: The list to check.
    type: raw
    required: true
  name:
    description: The variable's name, for the message.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse a destination iptables would refuse
  ansible.builtin.assert:
    that: docker_engine_blocked_destinations | englab.mlops.ipv4_destinations_problem('docker_engine_blocked_destinations') == ''
    fail_msg: "{{ docker_engine_blocked_destinations | englab.mlops.ipv4_destinations_problem('docker_engine_blocked_destinations') }}"
"""

RETURN = r"""
_value:
  description: The problem, or an empty string.
  type: str
"""

from ansible_collections.englab.mlops.plugins.module_utils.input_rules import ipv4_destinations_problem


def _problem(value, name):
    return ipv4_destinations_problem(name, value) or ""


class FilterModule(object):
    def filters(self):
        return {"ipv4_destinations_problem": _problem}
