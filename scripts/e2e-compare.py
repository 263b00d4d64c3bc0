#!/usr/bin/env python3
"""e2e-compare.py DIR TOL: compare cost-*.json and diagnose-*.json of the
embedded and the external (Thanos) servescope in DIR, written by
scripts/e2e-thanos.sh.

Every number (and every decimal money string) must agree within the
relative tolerance TOL (or 1e-6 absolute, for sums that are zero up to
rounding); every other string must be equal, except timestamps (the first
and last sample of a window depend on when each scraper scraped). Lists of
objects are matched by their name, subject or model, so order does not
matter but a finding, team or model present on one side only fails.
Prints what it compared and each difference; exits 1 on any.
"""

import json
import re
import sys

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def key(item):
    """The identity of a list item, or None to match by position."""
    if isinstance(item, dict):
        for k in ("name", "subject", "model", "signal"):
            if k in item:
                return json.dumps(item[k], sort_keys=True)
    return None


class Compare:
    def __init__(self, tol):
        self.tol = tol
        self.numbers = 0
        self.worst = (0.0, "")
        self.diffs = []

    def number(self, path, a, b):
        self.numbers += 1
        diff = abs(a - b)
        scale = max(abs(a), abs(b))
        rel = diff / scale if scale else 0.0
        if diff > 1e-6 and rel > self.worst[0]:
            self.worst = (rel, path)
        if diff > 1e-6 and rel > self.tol:
            self.diffs.append(f"{path}: embedded {a} external {b} ({rel:.3%})")

    def walk(self, path, a, b):
        if isinstance(a, bool) or isinstance(b, bool):
            if a != b:
                self.diffs.append(f"{path}: embedded {a} external {b}")
        elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
            self.number(path, float(a), float(b))
        elif isinstance(a, str) and isinstance(b, str):
            if TIME.match(a) and TIME.match(b):
                return
            if NUMBER.match(a) and NUMBER.match(b):
                self.number(path, float(a), float(b))
            elif a != b:
                self.diffs.append(f"{path}: embedded {a!r} external {b!r}")
        elif isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if k not in a or k not in b:
                    self.diffs.append(f"{path}.{k}: only in {'embedded' if k in a else 'external'}")
                    continue
                self.walk(f"{path}.{k}", a[k], b[k])
        elif isinstance(a, list) and isinstance(b, list):
            ka = [key(x) for x in a]
            kb = [key(x) for x in b]
            if a and None not in ka and None not in kb:
                da, db = dict(zip(ka, a)), dict(zip(kb, b))
                for k in sorted(set(da) | set(db)):
                    if k not in da or k not in db:
                        self.diffs.append(f"{path}[{k}]: only in {'embedded' if k in da else 'external'}")
                        continue
                    self.walk(f"{path}[{k}]", da[k], db[k])
            elif len(a) != len(b):
                self.diffs.append(f"{path}: {len(a)} items embedded, {len(b)} external")
            else:
                for i, (x, y) in enumerate(zip(a, b)):
                    self.walk(f"{path}[{i}]", x, y)
        elif a != b:
            self.diffs.append(f"{path}: embedded {a!r} external {b!r}")


def main():
    work, tol = sys.argv[1], float(sys.argv[2])
    c = Compare(tol)
    for name in ("cost", "diagnose"):
        with open(f"{work}/{name}-embedded.json") as f:
            emb = json.load(f)
        with open(f"{work}/{name}-external.json") as f:
            ext = json.load(f)
        c.walk(name, emb, ext)
    with open(f"{work}/cost-embedded.json") as f:
        totals = json.load(f)["sets"][0]["totals"]
    with open(f"{work}/diagnose-embedded.json") as f:
        diag = json.load(f)
    print(f"compared {c.numbers} figures of cost (per team and totals: reserved {totals['reservedGpuHours']:.4f}, "
          f"used {totals['usedGpuHours']:.4f} GPU-h, total cost {totals['totalCost']}) and diagnose "
          f"({len(diag.get('findings', []))} findings, fleet mean busy {diag.get('utilisation', {}).get('mean_busy')}) "
          f"over both clusters; largest relative difference {c.worst[0]:.4%} at {c.worst[1] or '-'} (tolerance {tol:.1%})")
    for d in c.diffs:
        print("DIFF", d)
    if c.diffs:
        print(f"e2e-compare: {len(c.diffs)} differences", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
