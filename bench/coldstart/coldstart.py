#!/usr/bin/env python3
"""Cold start of each Lambda function, beside a minimal Python 3.11 handler.

Cold start here = process start to ready for the first invocation: the moment
the process asks the Lambda Runtime API for its first event
(GET /2018-06-01/runtime/invocation/next). A local Runtime API stand-in serves
that endpoint and holds the request; the process is then stopped. Each figure
is the median of several runs.

The Rust side runs the function's release binary (built for this machine's
architecture; the arm64 zips hold the same code). The Python side is a
handler module that creates the same boto3 clients at import time, as Lambda
handlers do, then polls the same endpoint the way the Python runtime does.

Beside each figure it prints the baseline's (bench/coldstart/baseline.json:
the figures of an earlier commit, measured the same way) and the change, so a
change to the functions' dependencies shows its cost in size and start time.

Usage: coldstart.py TARGET_DIR LAMBDA_DIR [RUNS] [--only f1,f2] [--save FILE]
"""
import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time

# The boto3 clients each function's AWS wiring creates (see Deps::aws).
CLIENTS = {
    "pipeline-router": ["s3", "dynamodb", "stepfunctions"],
    "extract-document": ["s3", "dynamodb"],
    "extract-image": ["s3", "dynamodb", "textract", "rekognition"],
    "extract-audio": ["s3", "dynamodb", "transcribe"],
    "parse-email": ["s3", "dynamodb"],
    "detect-pii": ["s3", "comprehend"],
    "chunk": ["s3"],
    "embed": ["s3", "bedrock-runtime"],
    "index": ["s3", "dynamodb"],
    "mark-failed": ["dynamodb"],
    "api-search": ["bedrock-runtime"],
    "api-documents": ["s3", "dynamodb", "stepfunctions"],
    "api-chat": ["dynamodb", "bedrock-runtime", "lambda"],
    "api-me": ["s3", "dynamodb", "lambda", "sns"],
    "tool-tasks": ["dynamodb"],
    "tool-reminders": ["dynamodb", "scheduler"],
    "tool-email": ["dynamodb", "sesv2"],
    "chat-stream": ["dynamodb", "apigatewaymanagementapi"],
    "ws-authorizer": [],
    "reminder-fire": ["dynamodb", "sns", "apigatewaymanagementapi"],
    "memory-reflector": ["dynamodb", "bedrock-runtime"],
    "erase-tenant": ["s3", "dynamodb", "sns", "scheduler", "transcribe"],
}

ENV = {
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
    "JARVIS_RAW_BUCKET": "jarvis-bench-raw",
    "JARVIS_CURATED_BUCKET": "jarvis-bench-curated",
    "JARVIS_TABLE": "jarvis-bench",
    "JARVIS_STATE_MACHINE_ARN": "arn:aws:states:eu-west-1:123456789012:stateMachine:jarvis",
    "JARVIS_OPENSEARCH_ENDPOINT": "https://example.eu-west-1.aoss.amazonaws.com",
    "JARVIS_INGEST_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/jarvis-ingest",
    "JARVIS_REMINDER_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:jarvis-reminders",
    "JARVIS_SCHEDULE_GROUP": "jarvis-bench",
    "JARVIS_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/jarvis-scheduler",
    "JARVIS_REMINDER_TARGET_ARN": "arn:aws:lambda:eu-west-1:123456789012:function:jarvis-reminder-fire:live",
    "JARVIS_REMINDER_DLQ_ARN": "arn:aws:sqs:eu-west-1:123456789012:jarvis-reminder-dlq",
    "JARVIS_MAIL_FROM": "jarvis@example.com",
    "JARVIS_TOOL_FUNCTION_PREFIX": "jarvis-bench-",
    "JARVIS_ERASE_FUNCTION": "jarvis-bench-erase-tenant",
    "JARVIS_AUTH_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_EXAMPLE",
    "JARVIS_AUTH_AUDIENCE": "bench-client",
    "RUST_LOG": "error",
}

PYTHON_HANDLER = """
import boto3
CLIENTS = [boto3.client(name) for name in {clients!r}]
def handler(event, context):
    return {{}}
"""

PYTHON_RUNTIME = """
import importlib, os, sys, urllib.request
sys.path.insert(0, os.environ["HANDLER_DIR"])
module = importlib.import_module("handler")
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
urllib.request.urlopen(f"http://{api}/2018-06-01/runtime/invocation/next")
"""


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    ready = None  # threading.Event set on the first /next

    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            RuntimeApi.ready_at = time.perf_counter()
            RuntimeApi.ready.set()
            time.sleep(5)  # hold it: the process is stopped meanwhile
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def serve():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def cold_start(cmd, env, server):
    RuntimeApi.ready = threading.Event()
    env = dict(os.environ, **ENV, **env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_port}")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if not RuntimeApi.ready.wait(30):
        proc.kill()
        raise RuntimeError(f"{cmd[0]} never asked for an event: {proc.stderr.read().decode()[-400:]}")
    elapsed = (RuntimeApi.ready_at - start) * 1000
    proc.kill()
    proc.wait()
    return elapsed


BASELINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline.json")


def change(now, before):
    if now is None or before is None:
        return ""
    return f"{(now - before) / before * 100:+.0f}%"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("target_dir")
    parser.add_argument("lambda_dir")
    parser.add_argument("runs", nargs="?", type=int, default=7)
    parser.add_argument("--only", help="comma-separated functions (default: all)")
    parser.add_argument("--save", help="write the figures as JSON (a baseline's format)")
    parser.add_argument("--no-python", action="store_true", help="skip the Python handlers")
    args = parser.parse_args()
    runs = args.runs
    server = serve()
    workdir = os.path.join(args.target_dir, "coldstart-python")
    os.makedirs(workdir, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    rows = []
    for function, clients in CLIENTS.items():
        if only is not None and function not in only:
            continue
        binary = os.path.join(args.target_dir, function)
        zip_path = os.path.join(args.lambda_dir, function, "bootstrap.zip")
        zip_kb = os.path.getsize(zip_path) / 1024 if os.path.exists(zip_path) else None
        rust = statistics.median(cold_start([binary], {}, server) for _ in range(runs))
        py = None
        if not args.no_python:
            hdir = os.path.join(workdir, function)
            os.makedirs(hdir, exist_ok=True)
            with open(os.path.join(hdir, "handler.py"), "w") as f:
                f.write(PYTHON_HANDLER.format(clients=clients))
            py = statistics.median(
                cold_start([sys.executable, "-c", PYTHON_RUNTIME], {"HANDLER_DIR": hdir}, server)
                for _ in range(runs)
            )
        rows.append((function, zip_kb, rust, py))
    baseline = {}
    if os.path.exists(BASELINE):
        with open(BASELINE) as f:
            baseline = json.load(f)
    zips_before = baseline.get("zip_kib", {})
    rust_before = baseline.get("rust_ms", {})
    print(f"\nLambda cold start, process start to first /next (median of {runs}), and zip size")
    if baseline:
        print(f"beside the baseline: {baseline.get('commit', '?')} ({baseline.get('what', '')})")
    print(
        f"{'function':<18}{'zip (arm64)':>12}{'before':>10}{'':>6}"
        f"{'Rust':>9}{'before':>9}{'':>6}{'Python 3.11 + boto3':>21}{'ratio':>7}"
    )
    for function, zip_kb, rust, py in rows:
        z = f"{zip_kb / 1024:.2f} MiB" if zip_kb else "not built"
        zb = zips_before.get(function)
        zb_text = f"{zb / 1024:.2f} MiB" if zb else "-"
        rb = rust_before.get(function)
        rb_text = f"{rb:.1f}ms" if rb else "-"
        py_text = f"{py:.1f}ms" if py else "-"
        ratio = f"{py / rust:.1f}x" if py else "-"
        print(
            f"{function:<18}{z:>12}{zb_text:>10}{change(zip_kb, zb):>6}"
            f"{rust:>7.1f}ms{rb_text:>9}{change(rust, rb):>6}{py_text:>21}{ratio:>7}"
        )
    figures = {
        "zip_kib": {r[0]: round(r[1], 1) for r in rows if r[1]},
        "rust_ms": {r[0]: round(r[2], 1) for r in rows},
        "python_ms": {r[0]: round(r[3], 1) for r in rows if r[3]},
    }
    print(json.dumps(figures))
    if args.save:
        with open(args.save, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
