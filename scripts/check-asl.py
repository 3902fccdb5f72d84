#!/usr/bin/env python3
"""Renders the state machine's ASL template the way Terraform's templatefile
does (every ${fn_<name>} becomes a Lambda ARN, every other ${var} a number) and
validates it with asl-validator (npm). Usage: check-asl.py ASL_FILE VALIDATOR."""

import json
import os
import re
import subprocess
import sys
import tempfile


def render(text: str) -> str:
    text = re.sub(
        r"\$\{fn_([a-z0-9_]+)\}",
        lambda m: "arn:aws:lambda:eu-west-1:123456789012:function:jarvis-dev-"
        + m.group(1).replace("_", "-"),
        text,
    )
    # Numbers: poll_seconds, max_polls, execution_timeout_seconds.
    return re.sub(r"\$\{[a-z_]+\}", "60", text)


def main() -> int:
    asl_file, validator = sys.argv[1], sys.argv[2]
    rendered = render(open(asl_file, encoding="utf-8").read())
    json.loads(rendered)  # a JSON error names its line here, before the validator
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(rendered)
    try:
        return subprocess.run([validator, "--json-path", f.name]).returncode
    finally:
        os.unlink(f.name)


if __name__ == "__main__":
    sys.exit(main())
