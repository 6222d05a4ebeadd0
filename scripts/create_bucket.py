"""Creates the import bucket on the local S3 stand-in (moto, the same server as SES).

In AWS the bucket is the template's ImportBucket and each chunk put under chunks/ invokes the
import function; locally the tests put chunks here and hand the function the S3 event themselves.
Idempotent.

Run with the project venv:  .tools/venv/bin/python scripts/create_bucket.py
Reads IMPORT_BUCKET, AWS_ENDPOINT_URL_S3 and AWS_REGION (set by scripts/env.sh).
"""

from __future__ import annotations

import os
import sys

from botocore.exceptions import BotoCoreError, ClientError

import stand_in


def main() -> int:
    bucket = os.environ.get("IMPORT_BUCKET")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3")
    if not bucket or not endpoint:
        print("create_bucket: IMPORT_BUCKET and AWS_ENDPOINT_URL_S3 must be set (scripts/env.sh)", file=sys.stderr)
        return 2
    client = stand_in.client("s3", endpoint)
    try:
        try:
            client.create_bucket(Bucket=bucket)
            state = "created"
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
            state = "already there"
        client.head_bucket(Bucket=bucket)
    except (BotoCoreError, ClientError) as error:
        print(f"create_bucket: {error}", file=sys.stderr)
        return 1
    print(f"bucket {bucket}: {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
