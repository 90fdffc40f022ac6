"""Test driver for pyjwt_verify.py (the README's snippet): one JSON request
per stdin line ({"token": "..."}), one JSON answer per stdout line
({"ok": bool, "error": "...", "user_id": n}). The first line names the
verifier and its version."""
import json
import sys

import cryptography
import jwt

from pyjwt_verify import verify_access_token


def main():
    hello = {"name": "PyJWT", "version": jwt.__version__,
             "runtime": f"python {sys.version.split()[0]}, cryptography {cryptography.__version__}"}
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        token = json.loads(line)["token"]
        try:
            claims = verify_access_token(token)
            answer = {"ok": True, "user_id": claims.get("user_id")}
        except Exception as e:  # any exception is a refusal; the test reads its type
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
