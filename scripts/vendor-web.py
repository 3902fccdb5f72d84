#!/usr/bin/env python3
"""The web app's third-party modules, vendored as single ES-module files.

    vendor-web.py --check   verify web/vendor/* against web/vendor/VENDOR.json
                            (offline; `make test` runs it)
    vendor-web.py --fetch   fetch each package from the npm registry (npm pack),
                            check the source file's SHA-256, write the vendored
                            file (with its bare imports made relative), and check
                            that too

VENDOR.json names, for each file: the npm package and version, the file inside
the package, that file's SHA-256 as published, the rewrites applied (a bare
specifier such as `"preact"` becomes `"./preact.mjs"`, so no import map and so
no inline script is needed under the strict Content-Security-Policy), and the
vendored file's SHA-256. The same is done for the test-only axe-core, into a
folder given by --into (not committed).
"""
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENDOR = os.path.join(ROOT, "web", "vendor")
MANIFEST = os.path.join(VENDOR, "VENDOR.json")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def packed(package: str, version: str, member: str, workdir: str) -> bytes:
    subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--silent", "--pack-destination", workdir],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tarball = next(f for f in os.listdir(workdir) if f.endswith(".tgz"))
    with tarfile.open(os.path.join(workdir, tarball)) as t:
        data = t.extractfile(f"package/{member}").read()
    os.remove(os.path.join(workdir, tarball))
    return data


def rewritten(data: bytes, rewrites) -> bytes:
    text = data.decode("utf-8")
    for old, new in rewrites:
        if old not in text:
            raise SystemExit(f"rewrite {old!r} not found")
        text = text.replace(old, new)
    return text.encode("utf-8")


def fetch(entries, into):
    os.makedirs(into, exist_ok=True)
    for e in entries:
        with tempfile.TemporaryDirectory() as work:
            data = packed(e["package"], e["version"], e["source"], work)
        if sha256(data) != e["source_sha256"]:
            raise SystemExit(f"{e['package']}@{e['version']} {e['source']}: SHA-256 {sha256(data)} is not the one recorded")
        out = rewritten(data, e.get("rewrites", []))
        if sha256(out) != e["sha256"]:
            raise SystemExit(f"{e['file']}: vendored SHA-256 {sha256(out)} is not the one recorded")
        with open(os.path.join(into, e["file"]), "wb") as f:
            f.write(out)
        print(f"ok  {e['file']}  {e['package']}@{e['version']}  {len(out)} bytes")


def check(entries, folder):
    bad = 0
    for e in entries:
        path = os.path.join(folder, e["file"])
        try:
            data = open(path, "rb").read()
        except FileNotFoundError:
            print(f"MISSING {path}")
            bad += 1
            continue
        if sha256(data) != e["sha256"]:
            print(f"CHANGED {path}: {sha256(data)} != {e['sha256']}")
            bad += 1
        else:
            print(f"ok  {e['file']}  {e['package']}@{e['version']}")
    if bad:
        raise SystemExit(f"{bad} vendored file(s) do not match {MANIFEST}")


def main(argv):
    manifest = json.load(open(MANIFEST))
    tests = "--tests" in argv
    entries = manifest["tests" if tests else "app"]
    into = VENDOR
    if "--into" in argv:
        into = argv[argv.index("--into") + 1]
    if "--fetch" in argv:
        fetch(entries, into)
    elif "--check" in argv:
        check(entries, into)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
