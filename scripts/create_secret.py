"""Creates the functions' secret on the local Secrets Manager stand-in (moto), from local.env.

The functions read the VK and Facebook signing keys and the T-Bank terminal key and password
from the secret SECRETS_NAME names, as they do in AWS (shared/src/secrets). Locally that secret
holds local.env's demo values, so local.env stays the one place they are written: this script
creates it, or puts local.env's values back into it when it exists. Idempotent.

Run with the project venv:  .tools/venv/bin/python scripts/create_secret.py
Reads SECRETS_NAME, VK_APP_SECRET, FB_APP_SECRET, TBANK_TERMINAL_KEY, TBANK_PASSWORD, VK_SERVICE_TOKEN,
AWS_ENDPOINT_URL_SECRETS_MANAGER and AWS_REGION (set by scripts/env.sh).
"""

from __future__ import annotations

import json
import os
import sys

from botocore.exceptions import BotoCoreError, ClientError

import stand_in

# The secret's JSON keys and the local.env variables holding their demo values.
KEYS = {
    "vkAppSecret": "VK_APP_SECRET",
    "fbAppSecret": "FB_APP_SECRET",
    "tbankTerminalKey": "TBANK_TERMINAL_KEY",
    "tbankPassword": "TBANK_PASSWORD",
    "vkServiceToken": "VK_SERVICE_TOKEN",
}


def main() -> int:
    name = os.environ.get("SECRETS_NAME")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER")
    missing = [v for v in ("SECRETS_NAME", "AWS_ENDPOINT_URL_SECRETS_MANAGER", *KEYS.values()) if not os.environ.get(v)]
    if missing:
        print(f"create_secret: {', '.join(missing)} must be set (scripts/env.sh)", file=sys.stderr)
        return 2
    value = json.dumps({key: os.environ[variable] for key, variable in KEYS.items()})
    client = stand_in.client("secretsmanager", endpoint)
    try:
        try:
            client.create_secret(Name=name, SecretString=value)
            state = "created"
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceExistsException":
                raise
            client.put_secret_value(SecretId=name, SecretString=value)
            state = "reset to local.env's values"
        stored = json.loads(client.get_secret_value(SecretId=name)["SecretString"])
    except (BotoCoreError, ClientError) as error:
        print(f"create_secret: {error}", file=sys.stderr)
        return 1
    if stored != json.loads(value):
        print("create_secret: the Secrets Manager stand-in did not keep the values", file=sys.stderr)
        return 1
    # The values themselves stay out of the output.
    print(f"secret {name}: {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
