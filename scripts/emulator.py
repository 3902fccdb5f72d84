#!/usr/bin/env python3
"""The local AWS emulator (moto server, from PyPI) on a free loopback port.

    emulator.py                 print the endpoint, serve until stdin closes
    emulator.py -- CMD ARGS...  serve while CMD runs, with JARVIS_TEST_AWS_ENDPOINT
                                set to the endpoint; exit with CMD's status

`make test` uses the second form, so every AWS test in the run shares one
emulator (each test makes its own uniquely named resources). A test run without
it (plain `cargo test`) starts a private one through the first form.
"""
import os
import subprocess
import sys
import threading


class AtomicDynamoDB:
    """WSGI middleware: one DynamoDB request at a time.

    AWS rule: a DynamoDB conditional write is atomic -- of concurrent
    `PutItem`s conditioned on the same version, exactly one succeeds. moto's
    server handles requests on threads and checks the condition, then writes,
    without a lock, so under load two of them can both succeed (seen here: 4 of
    300 races of 20 writers on a busy 2-core machine). Serializing DynamoDB
    requests restores the rule the compare-and-set tests rely on; every other
    service stays concurrent.
    """

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self.lock:
                # The whole body is produced under the lock.
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


class Server:
    """moto's threaded server (as `ThreadedMotoServer` builds it), behind `AtomicDynamoDB`."""

    def __init__(self):
        from werkzeug.serving import make_server
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        app = AtomicDynamoDB(DomainDispatcherApplication(create_backend_app))
        self.server = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join()


def start():
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    try:
        import moto.moto_server.werkzeug_app  # noqa: F401
    except ImportError:
        sys.exit("moto is not installed: pip install 'moto[server]' (make test does this)")
    server = Server()
    host, port = server.server.server_address[:2]
    return server, f"http://{host}:{port}"


def main():
    server, endpoint = start()
    if "--" in sys.argv:
        cmd = sys.argv[sys.argv.index("--") + 1 :]
        env = dict(os.environ, JARVIS_TEST_AWS_ENDPOINT=endpoint)
        print(f"AWS emulator (moto) on {endpoint}", file=sys.stderr, flush=True)
        try:
            code = subprocess.call(cmd, env=env)
        finally:
            server.stop()
        sys.exit(code)
    print(endpoint, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
