# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: held_port_problems
short_description: Which of the local platform's published ports another process or platform holds
version_added: 0.2.0
author: englab MLOps engineers (@englab)
description:
  - Probes each port with a bind on the controller's 127.0.0.1 and returns one message for each port
    that something already holds, unless this platform's own containers publish it (a re-run of an
    existing platform holds its own ports).
  - Runs on the controller, where the local target publishes the tracking and serving ports.
options:
  _input:
    description: The ports, keyed by their variable names (C(mlops_local_tracking_port), C(mlops_local_serving_port)).
    type: dict
    required: true
  containers:
    description:
      - The platform's own containers, as C(community.docker.docker_container_info) results or as the container
        summaries of C(community.docker.docker_host_info).
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
- name: Check nothing else holds the published ports
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "{{ __problems | join('; ') }}"
  vars:
    __problems: >-
      {{ {'mlops_local_tracking_port': mlops_local_tracking_port}
         | englab.mlops.held_port_problems(own_containers.results) }}
"""

RETURN = r"""
_value:
  description: One message a held port, naming the variable, what is allowed and the port given.
  type: list
  elements: str
"""

from ansible_collections.englab.mlops.plugins.module_utils.input_rules import (
    held_port_problems,
    published_ports,
)


def held_port_problems_filter(ports, containers=None):
    return held_port_problems(ports, published_ports(containers or []))


class FilterModule(object):
    def filters(self):
        return {"held_port_problems": held_port_problems_filter}
