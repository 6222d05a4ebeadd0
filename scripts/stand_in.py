"""A boto3 client for one local stand-in, as the stack's set-up scripts use it.

Short timeouts and a few retries: the stand-ins run on this machine, so a slow answer means a
stand-in that is not up, and the stack start should say so quickly.
"""

from __future__ import annotations

import os

import boto3
from botocore.config import Config


def client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 3}),
    )
