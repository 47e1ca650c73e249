"""Verifies outhook deliveries signed with the configurable scheme, hex encoding, timestamp.rawBody,
independently of outhook's Go code: Python's standard library only (hmac, hashlib).

stdin:  a JSON array of {"headers": {"name": "value"}, "body": "<base64 of the raw body>", "secret": "<raw secret>",
        "header": "<signature header>", "timestampHeader": "<timestamp header>", "tolerance": <seconds>}
stdout: a JSON array of {"ok": true} or {"ok": false, "error": "..."}, one per input, in order.

The signed payload is "<timestamp>.<raw body>"; the header holds one lowercase-hex HMAC-SHA256 per
secret in use, separated by spaces. A secret without a whsec_/whcms_ prefix is its own raw bytes.
"""
import base64
import hashlib
import hmac
import json
import sys
import time


def check(case):
    headers = {k.lower(): v for k, v in case["headers"].items()}
    body = base64.b64decode(case["body"])
    secret = case["secret"]
    for prefix in ("whsec_", "whcms_"):
        if secret.startswith(prefix):
            key = base64.b64decode(secret[len(prefix):])
            break
    else:
        key = secret.encode("utf-8")
    signatures = headers.get(case["header"].lower(), "").split()
    stamp = headers.get(case["timestampHeader"].lower(), "")
    if not signatures:
        return {"ok": False, "error": "missing signature header"}
    if not stamp.isdigit():
        return {"ok": False, "error": "missing or malformed timestamp"}
    if abs(time.time() - int(stamp)) > case.get("tolerance", 300):
        return {"ok": False, "error": "timestamp outside the tolerance"}
    expected = hmac.new(key, stamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    if any(hmac.compare_digest(expected, s) for s in signatures):
        return {"ok": True}
    return {"ok": False, "error": "no signature matches"}


def main():
    cases = json.load(sys.stdin)
    json.dump([check(c) for c in cases], sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
