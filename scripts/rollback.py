#!/usr/bin/env python3
"""Roll a deployed environment back to an earlier release, in seconds, without
building or planning anything: every function's `live` alias (what API
Gateway, the state machine, Scheduler, the queues and the other functions
invoke) moves to that function's version of the release.

    rollback.py ENV_DIR [--to RELEASE] [--dry-run]
    rollback.py --functions NAME,NAME --region REGION [--to RELEASE] [--dry-run]

Every deploy publishes one version of every function whose description starts
with `release <id>:` (make plan-<env> passes the git commit as the id). Without
--to, the target is the release deployed just before the live one. A function
that has no version of the target release (it was added later) is left where
it is, and said so. The next `make deploy-<env>` moves every alias forward to
what it deploys.

Needs AWS credentials allowed lambda:GetAlias, ListVersionsByFunction and
UpdateAlias on the functions (boto3). Exit status 1 when nothing could be done."""

import argparse
from collections import Counter
import os
import re
import sys

ALIAS = "live"
RELEASE = re.compile(r"^release (\S+):")


def release_of(description: str):
    m = RELEASE.match(description or "")
    return m.group(1) if m else None


def plan(functions: dict, to=None):
    """functions: name -> {"live": version, "versions": {version: release}}.

    Returns (target release, {name: (from, to)} moves, [(name, why)] left)."""
    if to is None:
        # Every deploy publishes a version of every function, so the release
        # before the live one is, in each function, the newest earlier version
        # of another release; they agree unless a deploy was partial, and then
        # the one most functions name wins.
        previous = []
        for f in functions.values():
            live = f["versions"].get(f["live"])
            older = [v for v, rel in f["versions"].items() if v < f["live"] and rel not in (None, live)]
            if older:
                previous.append(f["versions"][max(older)])
        if not previous:
            return None, {}, [(n, "no earlier release") for n in sorted(functions)]
        to = Counter(previous).most_common(1)[0][0]
    moves, left = {}, []
    for name, f in sorted(functions.items()):
        versions = [v for v, rel in f["versions"].items() if rel == to]
        if not versions:
            left.append((name, f"has no version of release {to}"))
            continue
        target = max(versions)
        if target == f["live"]:
            left.append((name, f"is already on release {to} (version {target})"))
            continue
        moves[name] = (f["live"], target)
    return to, moves, left


def versions_of(client, name: str) -> dict:
    """{version number: release or None} of a function's published versions."""
    versions = {}
    for page in client.get_paginator("list_versions_by_function").paginate(FunctionName=name):
        for v in page["Versions"]:
            if v["Version"] != "$LATEST":
                versions[int(v["Version"])] = release_of(v.get("Description", ""))
    return versions


def read_functions(client, names):
    return {name: {"live": int(client.get_alias(FunctionName=name, Name=ALIAS)["FunctionVersion"]),
                   "versions": versions_of(client, name)}
            for name in names}


def target_arguments(description: str) -> argparse.ArgumentParser:
    """The arguments naming the functions: ENV_DIR, or --functions and --region."""
    args = argparse.ArgumentParser(description=description)
    args.add_argument("env_dir", nargs="?")
    args.add_argument("--functions", help="comma-separated names (instead of terraform output)")
    args.add_argument("--region")
    args.add_argument("--dry-run", action="store_true")
    return args


def target_functions(args: argparse.ArgumentParser, a) -> tuple:
    """(function names, region) from the parsed target arguments."""
    if a.functions:
        return a.functions.split(","), a.region
    if not a.env_dir:
        args.error("give ENV_DIR, or --functions and --region")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from smoke import outputs

    out = outputs(a.env_dir)
    return sorted(out["function_names"].values()), a.region or out["user_pool_id"].split("_")[0]


def main(argv=None) -> int:
    args = target_arguments(__doc__.splitlines()[0])
    args.add_argument("--to", help="the release to go back to (default: the one before the live one)")
    a = args.parse_args(argv)
    names, region = target_functions(args, a)
    import boto3

    client = boto3.client("lambda", region_name=region)
    target, moves, left = plan(read_functions(client, names), a.to)
    if target is None:
        print("Nothing to roll back to: every function has only its live release.")
        return 1
    print(f"Rolling back to release {target}{' (dry run)' if a.dry_run else ''}:")
    for name, (old, new) in moves.items():
        print(f"  {name}: version {old} -> {new}")
        if not a.dry_run:
            client.update_alias(FunctionName=name, Name=ALIAS, FunctionVersion=str(new))
    for name, why in left:
        print(f"  {name}: left as it is ({why})")
    if not moves:
        print("No alias needed to move.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
