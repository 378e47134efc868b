"""PLAY RECAP of an ansible-playbook run, read from the default callback's output."""

from __future__ import annotations


def parse_recap(stdout: str) -> dict[str, dict[str, int]]:
    """Counters (ok, changed, failed, ...) per host from the PLAY RECAP block of `stdout`."""
    hosts: dict[str, dict[str, int]] = {}
    in_recap = False
    for line in stdout.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        if in_recap and not line.strip():
            break
        if in_recap and ":" in line:
            host, _unused, rest = line.partition(":")
            hosts[host.strip()] = {
                key: int(value) for key, value in (item.split("=") for item in rest.split() if "=" in item)
            }
    return hosts
