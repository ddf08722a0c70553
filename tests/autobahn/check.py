#!/usr/bin/env python3
"""Reads an Autobahn TestSuite index.json and fails unless every expected case passed.

usage: check.py INDEX_JSON AGENT LABEL [EXPECTED_CASES]

A case passes when both its behavior and its close behavior are OK, or INFORMATIONAL
where the suite itself says so. NON-STRICT, FAILED, UNCLEAN, WRONG CODE, UNIMPLEMENTED
and a missing case all fail: a peer that died mid-run cannot pass by leaving cases out.
"""
import collections
import json
import sys

PASS = {"OK", "INFORMATIONAL"}


def main():
    path, agent, label = sys.argv[1:4]
    expected = int(sys.argv[4]) if len(sys.argv) > 4 else 301
    with open(path) as f:
        index = json.load(f)
    cases = index.get(agent, {})
    tally = collections.Counter()
    bad = []
    for case_id, result in sorted(cases.items(), key=lambda kv: [int(x) for x in kv[0].split(".")]):
        behavior, close = result.get("behavior"), result.get("behaviorClose")
        tally[behavior] += 1
        if behavior not in PASS or close not in PASS:
            bad.append("%s: behavior %s, close %s" % (case_id, behavior, close))
    missing = expected - len(cases)
    summary = ", ".join("%d %s" % (n, b) for b, n in sorted(tally.items()))
    print("autobahn %s: %d of %d cases run: %s" % (label, len(cases), expected, summary or "none"))
    for line in bad:
        print("  FAIL " + line)
    if missing > 0:
        print("  FAIL %d cases missing from the report" % missing)
    passed = len(cases) - len(bad)
    print("%d passed, %d failed" % (passed, len(bad) + max(missing, 0)))
    sys.exit(1 if bad or missing != 0 else 0)


if __name__ == "__main__":
    main()
