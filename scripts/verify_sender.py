"""Verifies the sender identity on the local SES stand-in (moto).

Like the SES sandbox, moto rejects mail from an unverified sender (MessageRejected), so the
stack verifies SES_SENDER once at start. Idempotent.

Run with the project venv:  .tools/venv/bin/python scripts/verify_sender.py
Reads SES_SENDER, AWS_ENDPOINT_URL_SES and AWS_REGION (set by scripts/env.sh).
"""

from __future__ import annotations

import os
import sys

from botocore.exceptions import BotoCoreError, ClientError

import stand_in


def main() -> int:
    sender = os.environ.get("SES_SENDER")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_SES")
    if not sender or not endpoint:
        print("verify_sender: SES_SENDER and AWS_ENDPOINT_URL_SES must be set", file=sys.stderr)
        return 2
    client = stand_in.client("ses", endpoint)
    try:
        client.verify_email_identity(EmailAddress=sender)
        identities = client.list_identities(IdentityType="EmailAddress")["Identities"]
    except (BotoCoreError, ClientError) as error:
        print(f"verify_sender: {error}", file=sys.stderr)
        return 1
    if sender not in identities:
        print("verify_sender: the SES stand-in did not keep the sender identity", file=sys.stderr)
        return 1
    # The address itself stays out of the output: logs carry no email addresses.
    print("SES sender identity verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
