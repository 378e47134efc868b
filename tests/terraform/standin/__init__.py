"""Test-only stand-in for the hashicorp/google and hashicorp/random Terraform providers.

It serves each provider's published schema over the real plugin protocol so that a real
``terraform`` binary can init, validate, plan and apply the GCP root offline. Nothing in the
product uses it.
"""
