"""make lambda-tools on a Python that refuses system installs (PEP 668, as
Debian 12 and Ubuntu 24.04 ship it): the pinned cargo-lambda and ziglang go
into a virtualenv under target/tools, and `make build` puts its bin first on
PATH. Offline: pip installs from stand-in wheels of the pinned versions
(PIP_NO_INDEX), so the test checks what make does, not PyPI."""

import base64
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest
import zipfile

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

# A `python3` that behaves as an externally managed one: outside a virtualenv
# `-m pip install` fails with pip's PEP 668 error, and every call is logged.
REFUSING_PYTHON = """#!/bin/sh
echo "$*" >> "{log}"
if [ "$1 $2 $3" = "-m pip install" ]; then
  echo "error: externally-managed-environment" >&2
  echo "This environment is externally managed (PEP 668)." >&2
  exit 1
fi
exec "{python}" "$@"
"""


def make_value(name: str) -> str:
    with open(os.path.join(REPO, "Makefile")) as f:
        m = re.search(rf"^{name}\s*\?=\s*(\S+)$", f.read(), re.M)
    assert m, f"the Makefile sets {name}"
    return m.group(1)


def wheel(folder: str, name: str, version: str, script: str = None) -> None:
    """A minimal wheel `name==version`, installing `script` as an executable when given."""
    dist = f"{name.replace('-', '_')}-{version}"
    files = {
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    if script:
        files[f"{dist}.data/scripts/{script}"] = f"#!/bin/sh\necho {script} {version}\n"
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(os.path.join(folder, f"{dist}-py3-none-any.whl"), "w") as z:
        for path, text in files.items():
            info = zipfile.ZipInfo(path)
            info.external_attr = (0o755 if "/scripts/" in path else 0o644) << 16
            z.writestr(info, text)


class LambdaTools(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lambda-tools-")
        self.log = os.path.join(self.tmp, "python-calls")
        self.python = os.path.join(self.tmp, "python3")
        with open(self.python, "w") as f:
            f.write(REFUSING_PYTHON.format(log=self.log, python=sys.executable))
        os.chmod(self.python, os.stat(self.python).st_mode | stat.S_IEXEC)
        self.wheels = os.path.join(self.tmp, "wheels")
        os.mkdir(self.wheels)
        self.cargo_lambda = make_value("CARGO_LAMBDA_VERSION")
        self.zig = make_value("ZIGLANG_VERSION")
        wheel(self.wheels, "cargo-lambda", self.cargo_lambda, script="cargo-lambda")
        wheel(self.wheels, "ziglang", self.zig)
        self.env = dict(os.environ, PIP_NO_INDEX="1", PIP_FIND_LINKS=self.wheels,
                        PIP_DISABLE_PIP_VERSION_CHECK="1")
        self.tools = os.path.join(self.tmp, "tools")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def make(self, *args):
        return subprocess.run(["make", "-s", f"PYTHON={self.python}", f"TOOLS={self.tools}", *args],
                              cwd=REPO, env=self.env, capture_output=True, text=True, timeout=600)

    def test_the_refusing_python_refuses(self):
        done = subprocess.run([self.python, "-m", "pip", "install", "ziglang"], env=self.env,
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 1)
        self.assertIn("externally-managed-environment", done.stderr)

    def test_the_pinned_tools_install_into_their_own_virtualenv(self):
        venv = os.path.join(self.tools, f"lambda-{self.cargo_lambda}-zig-{self.zig}")
        done = self.make(os.path.join(venv, "bin", "cargo-lambda"))
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        out = subprocess.run(["sh", os.path.join(venv, "bin", "cargo-lambda")], capture_output=True, text=True)
        self.assertEqual(out.stdout.strip(), f"cargo-lambda {self.cargo_lambda}")
        freeze = subprocess.run([os.path.join(venv, "bin", "pip"), "freeze"], env=self.env,
                                capture_output=True, text=True).stdout
        self.assertIn(f"cargo-lambda=={self.cargo_lambda}", freeze)
        self.assertIn(f"ziglang=={self.zig}", freeze)
        with open(self.log) as f:
            calls = f.read().splitlines()
        self.assertEqual(calls, [f"-m venv {venv}"], "the system Python only made the virtualenv")
        # Made once: a second run does nothing.
        done = self.make(os.path.join(venv, "bin", "cargo-lambda"))
        self.assertEqual(done.returncode, 0)
        with open(self.log) as f:
            self.assertEqual(len(f.read().splitlines()), 1)

    def test_build_runs_cargo_lambda_from_the_virtualenv(self):
        venv = os.path.abspath(os.path.join(self.tools, f"lambda-{self.cargo_lambda}-zig-{self.zig}"))
        done = self.make("-n", "build")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn(f"{self.python} -m venv {self.tools}/lambda-", done.stdout)
        self.assertIn(f'PATH="{venv}/bin:$PATH" cargo lambda build --release --arm64', done.stdout)
        self.assertNotIn("-m pip install", done.stdout.replace("/bin/pip install", ""))


if __name__ == "__main__":
    unittest.main()
