#!/usr/bin/env python3
"""Smoke test of a deployed environment: a real round trip as its test user.

    smoke.py ENV_DIR                      the env Terraform deployed (make smoke-<env>)
    smoke.py --api URL --websocket WS     any Jarvis API (the local runtime: http://127.0.0.1:8080
                                          and ws://127.0.0.1:8080/chat/stream), JARVIS_TOKEN set
    smoke.py --websocket WS_URL           only the streamed turn

The round trip: GET /healthz; a file uploaded through a pre-signed URL
(POST /uploads, then the PUT) until it is `indexed`; found by POST /search;
a cited POST /chat answer; a reminder set a minute ahead (--reminder-minutes)
and seen delivered as a notification on the user's open WebSocket; a turn
streamed over the WebSocket API; then DELETE /me/data until the erasure is
`done`, and the file, its chunks and the reminder checked gone.

It erases everything of its user, so it refuses a user who has documents it did
not make: use a dedicated test user. The API URL and app client come from
`terraform output`. The token is JARVIS_TOKEN if set, else a USER_PASSWORD_AUTH
sign-in with JARVIS_SMOKE_USER and JARVIS_SMOKE_PASSWORD (boto3). Exit status 1
when a check fails. Standard library only (the WebSocket client included)."""

import argparse
import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
import urllib.error
import urllib.parse
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


def call(method: str, url: str, body=None, bearer=None, raw=None, headers=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    if raw is None:
        req.add_header("content-type", "application/json")
    for k, v in (headers or []):
        req.add_header(k, v)
    if bearer:
        req.add_header("authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parsed(body: str):
    try:
        return json.loads(body)
    except ValueError:
        return {}


class WebSocket:
    """A minimal RFC 6455 client: text frames out (masked), text frames in."""

    def __init__(self, url: str):
        u = urllib.parse.urlsplit(url)
        port = u.port or (443 if u.scheme == "wss" else 80)
        sock = socket.create_connection((u.hostname, port), timeout=60)
        if u.scheme == "wss":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=u.hostname)
        self.sock = sock
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            byte = sock.recv(1)
            if not byte:
                break
            head += byte
        self.status = int(head.split(b" ", 2)[1]) if head else 0

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            data += chunk
        return data

    def _frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            size = bytes([0x80 | n])
        elif n < 65536:
            size = bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            size = bytes([0x80 | 127]) + n.to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x80 | opcode]) + size + mask + masked)

    def send(self, text: str) -> None:
        self._frame(0x1, text.encode())

    def recv(self):
        """The next text message, or None when the server closes."""
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._exact(2), "big")
            elif n == 127:
                n = int.from_bytes(self._exact(8), "big")
            payload = self._exact(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                return None
            if opcode == 0x9:
                self._frame(0xA, payload)
                continue
            if opcode in (0x0, 0x1):
                message += payload
                if b0 & 0x80:
                    return message.decode()

    def close(self) -> None:
        try:
            self._frame(0x8, b"")
        finally:
            self.sock.close()


def streamed_turn(ws_url: str, bearer: str) -> int:
    """One chat turn over the WebSocket: started first, done last; a bad token refused."""
    failures = 0
    sep = "&" if "?" in ws_url else "?"
    refused = WebSocket(f"{ws_url}{sep}token=not-a-token")
    print(f"WebSocket with a bad token → {refused.status}")
    failures += refused.status not in (401, 403)
    refused.sock.close()

    ws = WebSocket(f"{ws_url}{sep}token={urllib.parse.quote(bearer)}")
    print(f"WebSocket connect → {ws.status}")
    if ws.status != 101:
        return failures + 1
    ws.send(json.dumps({"action": "sendMessage", "message": "What can you do?"}))
    kinds = []
    while True:
        text = ws.recv()
        if text is None:
            break
        event = json.loads(text)
        kinds.append(event.get("type"))
        if event.get("type") in ("done", "error"):
            print(f"WebSocket sendMessage → {kinds[0]} … {kinds[-1]} ({len(kinds)} events) {text[:160]}")
            break
    ws.close()
    failures += not (kinds and kinds[0] == "started" and kinds[-1] == "done")
    return failures


class Checks:
    def __init__(self):
        self.failed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        print(f"{'ok ' if ok else 'FAIL'} {what}{': ' + detail[:300] if detail else ''}")
        self.failed += not ok
        return ok


def wait_for(probe, timeout: float, every: float = 2.0):
    """probe() → (done, value) until done or the timeout; the last value."""
    deadline = time.monotonic() + timeout
    while True:
        done, value = probe()
        if done or time.monotonic() > deadline:
            return done, value
        time.sleep(every)


def notification(ws, needle: str, timeout: float):
    """The first notification whose body holds `needle`, read from `ws` within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ws.sock.settimeout(max(1.0, deadline - time.monotonic()))
        try:
            text = ws.recv()
        except (socket.timeout, TimeoutError):
            return None
        if text is None:
            return None
        event = parsed(text)
        if event.get("type") == "notification" and needle in json.dumps(event):
            return event
    return None


# What Bedrock's AccessDeniedException says when the account cannot use the
# chat model yet, and what to do about it (the first call to a third-party
# model starts its AWS Marketplace subscription; Anthropic wants its one-time
# use-case form first).
MODEL_ACCESS_ADVICE = [
    (("use case",),
     "Anthropic's one-time use-case form is not submitted for this account. Open any Claude model in the "
     "Bedrock console's model catalog, submit the use-case details it asks for (once per account, or in "
     "the organization's management account), wait about 15 minutes, and run the smoke test again."),
    (("payment",),
     "The model's AWS Marketplace subscription needs a valid payment method on the account (Billing → "
     "Payment preferences). Add one, wait about 15 minutes, and run the smoke test again."),
    (("aws-marketplace",),
     "The chat functions' roles could not start the model's AWS Marketplace subscription (they need "
     "aws-marketplace:Subscribe, Unsubscribe and ViewSubscriptions; the stack grants them: make plan-<env> "
     "and deploy-<env> if this env predates that). Or run the model once in the Bedrock console's "
     "playground, which subscribes the account. Then wait a few minutes and run the smoke test again."),
    (("access to the model",),
     "The account has no access to the chat model yet. Open it in the Bedrock console's model catalog and "
     "run it once in the playground (that starts its subscription); make preflight-<env> says what else "
     "the account lacks."),
    (("bedrock:invokemodel", "not authorized"),
     "The chat function's role may not invoke the model (an SCP or a changed role?). make preflight-<env> "
     "checks the account's access; the role's grants are in terraform/modules/functions/catalog.tf."),
]


def model_access_advice(message: str):
    """The sentence that says what to do about a Bedrock AccessDenied, or None."""
    if "AccessDenied" not in message:
        return None
    lower = message.lower()
    for needles, advice in MODEL_ACCESS_ADVICE:
        if any(n in lower for n in needles):
            return advice
    return ("Bedrock denied the chat model (AccessDeniedException). make preflight-<env> asks the "
            "account what it lacks.")


def diagnose_chat(out: dict, since_ms: int, logs=None):
    """Why POST /chat failed, from the api-chat function's log since `since_ms`:
    the advice for a Bedrock AccessDenied it logged, or None."""
    name = (out.get("function_names") or {}).get("api-chat")
    if not name:
        return None
    if logs is None:
        import boto3

        logs = boto3.client("logs", region_name=out["user_pool_id"].split("_")[0])
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", startTime=since_ms,
                                        filterPattern='"AccessDeniedException"', limit=20)["events"]
    except Exception as err:  # noqa: BLE001 — diagnosis is best effort, the check already failed
        return f"(could not read {name}'s log to say why: {err})"
    for event in events:
        advice = model_access_advice(event["message"])
        if advice:
            return advice
    return None


def round_trip(api: str, ws_url: str, bearer: str, reminder_minutes: int, wait: float,
               diagnose=None) -> int:
    c = Checks()
    nonce = uuid.uuid4().hex[:10]
    word = f"heron-{nonce}"
    name = f"smoke-{nonce}.md"

    status, body = call("GET", f"{api}/healthz")
    c.check(status == 200, "GET /healthz", f"{status} {body}")

    status, body = call("GET", f"{api}/documents?limit=200", bearer=bearer)
    if not c.check(status == 200, "GET /documents", f"{status} {body}"):
        return c.failed
    theirs = [d["id"] for d in parsed(body).get("documents", [])
              if not d.get("source", {}).get("key", "").rsplit("/", 1)[-1].startswith("smoke-")]
    if theirs:
        print(f"This user has {len(theirs)} document(s) the smoke test did not make, and the smoke "
              "test erases all of its user's data: sign in as a dedicated test user.")
        return c.failed + 1

    sep = "&" if "?" in ws_url else "?"
    listener = WebSocket(f"{ws_url}{sep}token={urllib.parse.quote(bearer)}")
    c.check(listener.status == 101, "WebSocket open for notifications", str(listener.status))

    # A file, through a pre-signed upload.
    text = (f"# Smoke test {nonce}\n\nThe smoke test code word is {word}. "
            "It was written by make smoke to check the whole round trip.\n").encode()
    status, body = call("POST", f"{api}/uploads",
                        {"name": name, "content_type": "text/markdown", "size": len(text)}, bearer)
    ticket = parsed(body)
    if not c.check(status == 201, "POST /uploads", f"{status} {body}"):
        return c.failed
    upload = ticket["upload"]
    status, body = call(upload["method"], upload["url"], raw=text, headers=upload["headers"])
    c.check(status == 200, "PUT to the pre-signed URL", f"{status} {body}")
    doc_id = ticket["document_id"]

    def indexed():
        status, body = call("GET", f"{api}/documents/{doc_id}", bearer=bearer)
        state = parsed(body).get("status")
        return state in ("indexed", "failed", "skipped"), (status, state, body)

    done, (status, state, body) = wait_for(indexed, wait)
    c.check(state == "indexed", f"{name} indexed", f"{status} {body}")

    status, body = call("POST", f"{api}/search", {"query": word, "limit": 5}, bearer)
    hits = parsed(body).get("hits", [])
    c.check(status == 200 and any(h.get("document_id") == doc_id for h in hits),
            "POST /search finds it", f"{status} {body}")

    status, body = call("POST", f"{api}/chat",
                        {"message": f"What is the smoke test code word ({nonce})?"}, bearer)
    answer = parsed(body)
    cited = [x.get("document_id") for x in answer.get("citations", [])]
    if not c.check(status == 200 and doc_id in cited and nonce in answer.get("answer", ""),
                   "POST /chat answers with the code word, citing the file", f"{status} {body}"):
        advice = diagnose() if diagnose else None
        if advice:
            print(f"     → {advice}")

    status, body = call("POST", f"{api}/reminders",
                        {"text": f"smoke reminder {nonce}",
                         "when": f"in {reminder_minutes} minute{'s' if reminder_minutes != 1 else ''}"},
                        bearer)
    c.check(status == 201, "POST /reminders", f"{status} {body}")
    event = notification(listener, nonce, reminder_minutes * 60 + 180)
    c.check(event is not None, "the reminder is delivered to the user's WebSocket",
            json.dumps(event) if event else "nothing arrived")
    listener.close()

    c.failed += streamed_turn(ws_url, bearer)

    status, body = call("DELETE", f"{api}/me/data", bearer=bearer)
    c.check(status == 202, "DELETE /me/data", f"{status} {body}")

    def erased():
        status, body = call("GET", f"{api}/me/data/erasure", bearer=bearer)
        return parsed(body).get("state") == "done", (status, body)

    done, (status, body) = wait_for(erased, wait)
    c.check(done, "the erasure is done", f"{status} {body}")
    status, body = call("GET", f"{api}/documents/{doc_id}", bearer=bearer)
    c.check(status == 404, "the file is gone", f"{status} {body}")
    status, body = call("POST", f"{api}/search", {"query": word, "limit": 5}, bearer)
    c.check(status == 200 and not parsed(body).get("hits"), "its chunks are gone", f"{status} {body}")
    status, body = call("GET", f"{api}/reminders", bearer=bearer)
    c.check(status == 200 and nonce not in body, "the reminder is gone", f"{status} {body}")
    return c.failed


def main() -> int:
    args = argparse.ArgumentParser(description="Smoke test of a Jarvis deployment (see the module doc).")
    args.add_argument("env_dir", nargs="?")
    args.add_argument("--api")
    args.add_argument("--websocket")
    args.add_argument("--reminder-minutes", type=int, default=1)
    args.add_argument("--wait", type=float, default=300, help="seconds to wait for indexing and erasure")
    a = args.parse_args()
    if a.websocket and not (a.api or a.env_dir):
        bearer = os.environ.get("JARVIS_TOKEN") or sys.exit("set JARVIS_TOKEN")
        failures = streamed_turn(a.websocket, bearer)
    elif a.api:
        bearer = os.environ.get("JARVIS_TOKEN") or sys.exit("set JARVIS_TOKEN")
        failures = round_trip(a.api.rstrip("/"), a.websocket or a.api.replace("http", "ws", 1).rstrip("/") + "/chat/stream",
                              bearer, a.reminder_minutes, a.wait)
    elif a.env_dir:
        out = outputs(a.env_dir)
        started = int(time.time() * 1000)
        failures = round_trip(out["api_url"].rstrip("/"), out["websocket_url"], token(out),
                              a.reminder_minutes, a.wait, diagnose=lambda: diagnose_chat(out, started))
    else:
        args.error("give ENV_DIR, or --api (and --websocket)")
    print("smoke: OK" if not failures else f"smoke: {failures} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
