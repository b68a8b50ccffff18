#!/usr/bin/env python3
"""Parse a Prometheus text exposition (standard input) with the Python `prometheus_client`
parser and print its samples as JSON, one object per sample: {"family", "type", "name",
"labels", "value"}. Used by tests/metrics.rs, which checks the values.

Exit 0 parsed; 1 the text does not parse or breaks a rule checked here; 3 prometheus_client is
not installed (run `conformance/run --venv` and use its python, as tools/test-all does).
"""

import json
import math
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as e:  # never a skip: the caller fails loudly on exit 3
    print(f"prometheus_client is not installed for {sys.executable}: {e}", file=sys.stderr)
    sys.exit(3)


def main() -> int:
    text = sys.stdin.read()
    samples = []
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and others on malformed text
        print(f"not a valid Prometheus text exposition: {e!r}", file=sys.stderr)
        return 1
    seen = set()
    for family in families:
        # Every family is declared (# TYPE): an untyped one means a TYPE line did not match
        # its samples' names.
        if family.type == "unknown":
            print(f"family {family.name} has no TYPE", file=sys.stderr)
            return 1
        if family.name in seen:
            print(f"family {family.name} appears twice", file=sys.stderr)
            return 1
        seen.add(family.name)
        for s in family.samples:
            if not math.isfinite(s.value) and s.value != math.inf:
                print(f"sample {s.name} is {s.value}", file=sys.stderr)
                return 1
            samples.append(
                {"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value}
            )
    if not samples:
        print("no samples", file=sys.stderr)
        return 1
    json.dump(samples, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
