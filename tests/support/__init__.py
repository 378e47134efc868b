"""Helpers shared by the test suites that run ansible-playbook (integration, e2e)."""
