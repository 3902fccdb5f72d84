#!/usr/bin/env python3
"""Checks an OpenAPI 3.1 document, and JSON bodies against it.

    check-openapi.py DOC.json [CASES.json]

DOC must be a valid OpenAPI 3.1 document (openapi-spec-validator). CASES is a
list of {"route": "POST /search", "kind": "request" | "response",
"status": 200, "body": ...}: each body must validate (JSON Schema 2020-12,
the document's own dialect) against the schema the document gives that
request or response. Prints each failure; exit status 1 when any.

Both packages come with the emulator (`moto[server]`, which make test installs)."""

import json
import sys

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate


def schema_for(doc: dict, case: dict):
    method, path = case["route"].split(" ", 1)
    op = doc["paths"].get(path, {}).get(method.lower())
    if op is None:
        return None, f"{case['route']} is not in the document"
    if case["kind"] == "request":
        content = op.get("requestBody", {}).get("content", {})
    else:
        response = op["responses"].get(str(case["status"]))
        if response is None:
            return None, f"{case['route']} does not document status {case['status']}"
        content = response.get("content", {})
    media = content.get("application/json")
    if media is None:
        return None, f"{case['route']} {case['kind']} {case.get('status', '')} has no JSON schema"
    return media["schema"], None


def main() -> int:
    doc = json.load(open(sys.argv[1]))
    validate(doc)
    print(f"the document is valid OpenAPI {doc['openapi']}: {len(doc['paths'])} paths")
    cases = json.load(open(sys.argv[2])) if len(sys.argv) > 2 else []
    failures = 0
    for case in cases:
        schema, why = schema_for(doc, case)
        if why:
            print(f"FAIL {why}")
            failures += 1
            continue
        root = dict(schema, components=doc["components"])
        errors = sorted(Draft202012Validator(root).iter_errors(case["body"]), key=str)
        label = f"{case['route']} {case['kind']} {case.get('status', '')}".strip()
        if errors:
            failures += 1
            for e in errors[:3]:
                where = "/".join(str(p) for p in e.absolute_path)
                print(f"FAIL {label}: at /{where}: {e.message[:300]}")
        else:
            print(f"ok   {label}")
    print(f"{len(cases) - failures} of {len(cases)} bodies match")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
