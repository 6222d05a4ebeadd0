"""Starts every function of the local router once, before a test run's first request.

`cargo lambda watch` starts (and, after a change, builds) a function on its first request; on a
busy machine that can take longer than a browser test waits. One request per function, as the
router of the top-level Cargo.toml lists them, with any answer accepted: only the start counts.

Usage: python3 scripts/warm_functions.py <API URL>
"""

import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDERS = {"{account}": "1000000001", "{id}": "00000000-0000-0000-0000-000000000000"}


def routes():
    """One (method, path) per function, its first route in the router."""
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))
    router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
    seen = {}
    for path, entries in router.items():
        for entry in entries:
            seen.setdefault(entry["function"], (entry["method"], path))
    return seen


def main(api_url):
    for function, (method, path) in routes().items():
        for placeholder, value in PLACEHOLDERS.items():
            path = path.replace(placeholder, value)
        request = urllib.request.Request(api_url + path, method=method, data=b"" if method == "POST" else None)
        try:
            urllib.request.urlopen(request, timeout=300).close()
        except urllib.error.HTTPError:
            pass  # an answer, whatever it says: the function is up
        except OSError as e:
            print(f"[warm] {function}: {e}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
