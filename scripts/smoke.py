#!/usr/bin/env python3
"""Smoke test of a deployed environment: GET /healthz, then POST /search and
POST /chat with a Cognito token. Usage: smoke.py ENV_DIR

The API URL and app client come from `terraform output`. The token is
JARVIS_TOKEN if set, else a USER_PASSWORD_AUTH sign-in with JARVIS_SMOKE_USER
and JARVIS_SMOKE_PASSWORD (boto3). Exit status 1 when a check fails."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request


def outputs(env_dir: str) -> dict:
    raw = subprocess.run(
        ["terraform", f"-chdir={env_dir}", "output", "-json"],
        check=True, capture_output=True, text=True,
    ).stdout
    return {k: v["value"] for k, v in json.loads(raw).items()}


def token(out: dict) -> str:
    if os.environ.get("JARVIS_TOKEN"):
        return os.environ["JARVIS_TOKEN"]
    user, password = os.environ.get("JARVIS_SMOKE_USER"), os.environ.get("JARVIS_SMOKE_PASSWORD")
    if not (user and password):
        sys.exit("set JARVIS_TOKEN, or JARVIS_SMOKE_USER and JARVIS_SMOKE_PASSWORD (a user of the pool)")
    import boto3  # only needed for the sign-in

    region = out["user_pool_id"].split("_")[0]
    auth = boto3.client("cognito-idp", region_name=region).initiate_auth(
        ClientId=out["user_pool_client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": password},
    )
    return auth["AuthenticationResult"]["IdToken"]


def call(method: str, url: str, body=None, bearer=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if bearer:
        req.add_header("authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main() -> int:
    out = outputs(sys.argv[1])
    api = out["api_url"].rstrip("/")
    failures = 0

    status, body = call("GET", f"{api}/healthz")
    print(f"GET /healthz → {status} {body[:200]}")
    failures += status != 200

    bearer = token(out)
    status, body = call("POST", f"{api}/search", {"query": "smoke test", "limit": 3}, bearer)
    print(f"POST /search → {status} {body[:200]}")
    failures += status != 200

    status, body = call("POST", f"{api}/chat", {"message": "What can you do?"}, bearer)
    print(f"POST /chat → {status} {body[:200]}")
    failures += status != 200

    print("smoke: OK" if not failures else f"smoke: {failures} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
