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


def start():
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    try:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    except ImportError:
        sys.exit("moto is not installed: pip install 'moto[server]' (make test does this)")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
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
