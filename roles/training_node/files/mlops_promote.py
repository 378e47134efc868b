#!/usr/bin/env python3
"""Register a run's model and move the champion alias only when the run wins.

Called by englab.mlops.train on the training node after `mlflow run`. Checks the
metric before registering anything, so a wrong metric name registers nothing.
Prints one JSON object; exits 2 with a message on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from mlflow import MlflowClient, register_model
from mlflow.exceptions import MlflowException


class PromoteError(Exception):
    """Bad input the user can fix; reported without a traceback."""


def beats(candidate: float, incumbent: float | None, goal: str) -> bool:
    """True when the candidate metric is strictly better than the incumbent's."""
    if incumbent is None:
        return True
    return candidate < incumbent if goal == "minimize" else candidate > incumbent


def wait_ready(client: MlflowClient, name: str, version: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get_model_version(name, version).status
        if status != "PENDING_REGISTRATION" or time.monotonic() > deadline:
            return status
        time.sleep(1)


def promote(args: argparse.Namespace) -> dict:
    client = MlflowClient()
    run = client.get_run(args.run_id)
    metrics = run.data.metrics
    if args.metric not in metrics:
        logged = ", ".join(sorted(metrics)) or "none"
        raise PromoteError(
            f"train_metric '{args.metric}' was not logged by run {args.run_id} (logged: {logged})"
        )
    value = metrics[args.metric]

    champion = None
    champion_value = None
    try:
        champion = client.get_model_version_by_alias(args.model_name, args.alias)
    except MlflowException:
        champion = None  # no registered model or no alias yet
    if champion is not None and champion.run_id:
        champion_value = client.get_run(champion.run_id).data.metrics.get(args.metric)

    registered = register_model(f"runs:/{args.run_id}/{args.artifact_path}", args.model_name)
    status = wait_ready(client, args.model_name, registered.version, args.timeout)
    if status != "READY":
        raise PromoteError(f"model version {registered.version} of {args.model_name} is {status}, not READY")

    result = {
        "run_id": args.run_id,
        "model_name": args.model_name,
        "version": registered.version,
        "status": status,
        "metric": args.metric,
        "goal": args.goal,
        "value": value,
        "alias": args.alias,
        "previous_version": champion.version if champion else None,
        "previous_value": champion_value,
    }
    if beats(value, champion_value, args.goal):
        client.set_registered_model_alias(args.model_name, args.alias, registered.version)
        result["promoted"] = True
        result["reason"] = (
            f"no '{args.alias}' yet"
            if champion is None
            else f"{args.metric} {value:.6g} beats {champion_value:.6g} of version {champion.version}"
            if champion_value is not None
            else f"version {champion.version} has no {args.metric}"
        )
    else:
        result["promoted"] = False
        result["reason"] = (
            f"{args.metric} {value:.6g} does not beat {champion_value:.6g} of version {champion.version} "
            f"({args.goal}); '{args.alias}' stays on version {champion.version}"
        )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--metric", required=True)
    parser.add_argument("--goal", choices=["minimize", "maximize"], required=True)
    parser.add_argument("--alias", default="champion")
    parser.add_argument("--artifact-path", default="model")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    try:
        print(json.dumps(promote(args)))
    except PromoteError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except MlflowException as exc:
        # What the tracking server refused (a model name with '/', say): its message, not a traceback.
        print(f"MLflow refused: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
