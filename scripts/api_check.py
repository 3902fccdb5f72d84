#!/usr/bin/env python3
"""make api-check: the HTTP API against its own OpenAPI document, by a
contract fuzzer (schemathesis), on the local runtime.

    api_check.py --schemathesis PATH [--jarvis target/debug/jarvis] [--max-time 60] [--seed N|random]

Starts `jarvis serve` on a free loopback port with a throwaway data folder,
signs in a user (`jarvis token`), and runs every schemathesis check with its
coverage, fuzzing and stateful phases (chains of requests following the
document's links) for --max-time seconds, with scripts/api-check.toml (the
statuses JSON Schema cannot predict, each with its reason). It fails on any
schema-valid request rejected, schema-violating request accepted,
undocumented status or body, server error, or phase that did not run.
`DELETE /me/data` is left out: it erases the fuzzing user mid-run.

Exit status 0 when the run is clean."""

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CONFIG = os.path.join(REPO, "scripts", "api-check.toml")
PHASES = ("Coverage", "Fuzzing", "Stateful")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"api-check: jarvis serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"api-check: {url}/healthz did not answer within {timeout:.0f} s")


def verdict(output: str, status: int) -> list:
    """What is wrong with a schemathesis run, from its exit status and summary."""
    problems = []
    if status != 0:
        problems.append(f"schemathesis exited with {status}")
    failures = re.search(r"^Failures:\n((?:\s+.*\n)+)", output, re.M)
    if failures:
        problems.append("failures:\n" + failures.group(1).rstrip())
    for phase in PHASES:
        if not re.search(rf"✅ {phase}\b", output):
            problems.append(f"the {phase.lower()} phase did not pass")
    if not re.search(r"\d+ generated, \d+ passed", output):
        problems.append("no summary of generated cases")
    return problems


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--schemathesis", required=True)
    args.add_argument("--jarvis", default=os.path.join(REPO, "target", "debug", "jarvis"))
    args.add_argument("--max-time", type=int, default=60)
    args.add_argument("--seed", default="random", help="an integer, or random (the default)")
    a = args.parse_args()
    # Absolute: schemathesis runs in the temporary folder.
    a.schemathesis, a.jarvis = os.path.abspath(a.schemathesis), os.path.abspath(a.jarvis)
    seed = random.randrange(1 << 31) if a.seed == "random" else int(a.seed)
    data = tempfile.mkdtemp(prefix="jarvis-api-check-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, JARVIS_DATA_DIR=data, JARVIS_BIND=f"127.0.0.1:{port}",
               RUST_LOG=os.environ.get("API_CHECK_LOG", "warn"))
    log = open(os.path.join(data, "server.log"), "w")
    server = subprocess.Popen([a.jarvis, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(url, server)
        token = subprocess.run([a.jarvis, "token", "api-check"], env=env, check=True,
                               capture_output=True, text=True).stdout.strip().splitlines()[-1]
        started = time.monotonic()
        # One worker: with two, one thread's hypothesis sets the recursion limit
        # while the other parses a lambda's source, and CPython 3.11 fails that
        # parse ("AST constructor recursion depth mismatch", a crash of the
        # fuzzer, not a finding). One worker also ran more cases in 60 s (4,737
        # against 4,335): the runtime under test has the machine's two cores.
        run = subprocess.run(
            [a.schemathesis, "--config-file", CONFIG, "run", f"{url}/openapi.json",
             "-H", f"Authorization: Bearer {token}", "--checks", "all",
             "--max-time", str(a.max_time), "--workers", "1", "--seed", str(seed),
             "--exclude-path", "/me/data", "--output-truncate", "true"],
            capture_output=True, text=True, timeout=a.max_time + 600,
            # Its caches (.schemathesis, .hypothesis) go with the data, not into the checkout.
            cwd=data,
        )
        output = run.stdout + run.stderr
        print(output)
        problems = verdict(output, run.returncode)
        took = time.monotonic() - started
        if problems:
            print(f"api-check: FAILED (seed {seed}, {took:.0f} s; replay with --seed {seed}):")
            for p in problems:
                print(f"  - {p}")
            return 1
        print(f"api-check: OK — every check, coverage, fuzzing and stateful phases (seed {seed}, {took:.0f} s)")
        return 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
