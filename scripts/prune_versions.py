#!/usr/bin/env python3
"""Delete the Lambda versions of old releases: every deploy publishes a
version of every function, and a region's Lambda code storage (75 GB) fills
up with them. Keeps, in each function, the versions of the newest KEEP
releases (what make rollback-<env> can go back to) and every version an alias
points at (the live one above all), whatever its age.

    prune_versions.py ENV_DIR [--keep N] [--dry-run]
    prune_versions.py --functions NAME,NAME --region REGION [--keep N] [--dry-run]

make deploy-<env> runs it after the apply. Needs lambda:ListVersionsByFunction,
ListAliases and DeleteFunction (with a version qualifier) on the functions."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rollback import target_arguments, target_functions, versions_of  # noqa: E402

KEEP = 5


def plan(versions: dict, aliased: set, keep: int = KEEP) -> list:
    """versions: {version number: release or None}; aliased: version numbers
    an alias points at. The versions to delete, oldest first."""
    if keep < 1:
        raise ValueError("keep at least the live release")
    newest_first = sorted(versions, reverse=True)
    kept_releases = []
    for v in newest_first:
        release = versions[v]
        if release not in kept_releases and len(kept_releases) < keep:
            kept_releases.append(release)
    return sorted(v for v in versions
                  if versions[v] not in kept_releases and v not in aliased)


def read(client, name: str):
    versions = versions_of(client, name)
    aliased = set()
    for page in client.get_paginator("list_aliases").paginate(FunctionName=name):
        for alias in page["Aliases"]:
            if alias["FunctionVersion"] != "$LATEST":
                aliased.add(int(alias["FunctionVersion"]))
            weights = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})
            aliased.update(int(v) for v in weights)
    return versions, aliased


def prune(client, names, keep: int = KEEP, dry_run: bool = False, out=sys.stdout) -> int:
    deleted = 0
    for name in names:
        versions, aliased = read(client, name)
        doomed = plan(versions, aliased, keep)
        for v in doomed:
            if not dry_run:
                client.delete_function(FunctionName=name, Qualifier=str(v))
            deleted += 1
        if doomed:
            print(f"  {name}: {'would delete' if dry_run else 'deleted'} versions "
                  f"{', '.join(map(str, doomed))} (releases {', '.join(sorted({str(versions[v]) for v in doomed}))})",
                  file=out)
    print(f"{'Would delete' if dry_run else 'Deleted'} {deleted} old version(s); "
          f"kept each function's newest {keep} release(s) and every aliased version.", file=out)
    return deleted


def main(argv=None) -> int:
    args = target_arguments(__doc__.splitlines()[0])
    args.add_argument("--keep", type=int, default=KEEP, help=f"releases to keep (default {KEEP})")
    a = args.parse_args(argv)
    names, region = target_functions(args, a)
    import boto3

    prune(boto3.client("lambda", region_name=region), names, a.keep, a.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
