"""Checks an in-toto Statement with the in-toto project's own model: the
JSON parsed strictly into its Statement protobuf (unknown fields refused),
then its validate(). Prints `ok` and the subjects, or the error; exit 1 on
failure.

Usage: .venv/bin/python tests/peers/in_toto_check.py STATEMENT.json
"""
import json
import sys

import google.protobuf.json_format as pb_json
import in_toto_attestation.v1.statement_pb2 as spb
from in_toto_attestation.v1.statement import Statement


def main(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        proto = pb_json.Parse(text, spb.Statement(), ignore_unknown_fields=False)
        Statement.copy_from_pb(proto).validate()
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        print(json.dumps({"ok": False, "error": str(e)}))
        return 1
    subjects = [{"name": s.name, "digest": dict(s.digest)} for s in proto.subject]
    print(json.dumps({"ok": True, "predicateType": proto.predicate_type, "subjects": subjects}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
