#!/usr/bin/env python3
"""Smoke test of a deployed environment: GET /healthz, then POST /search and
POST /chat with a Cognito token, then one chat turn streamed over the
WebSocket API (and a connection with a bad token refused).

Usage: smoke.py ENV_DIR
       smoke.py --websocket WS_URL    (only the streamed turn; the local
                                       runtime's ws://…/chat/stream works too)

The API URL and app client come from `terraform output`. The token is
JARVIS_TOKEN if set, else a USER_PASSWORD_AUTH sign-in with JARVIS_SMOKE_USER
and JARVIS_SMOKE_PASSWORD (boto3). Exit status 1 when a check fails.
Standard library only (the WebSocket client included)."""

import base64
import json
import os
import socket
import ssl
import subprocess
import sys
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


def main() -> int:
    if sys.argv[1:2] == ["--websocket"]:
        bearer = os.environ.get("JARVIS_TOKEN") or sys.exit("set JARVIS_TOKEN")
        failures = streamed_turn(sys.argv[2], bearer)
        print("smoke: OK" if not failures else f"smoke: {failures} check(s) failed")
        return 1 if failures else 0
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

    failures += streamed_turn(out["websocket_url"], bearer)

    print("smoke: OK" if not failures else f"smoke: {failures} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
