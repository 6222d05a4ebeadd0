"""The peer: the look-up's one DynamoDB read as a Python Lambda would write it (`make bench`).

What a Python team would deploy for `GET /accounts/{account}` at its leanest: Powertools' HTTP API
event handler for routing, one boto3 client built at import (Lambda's Init), one `GetItem` of the
account's profile per request, its balance as JSON. It does what the limit
(benches/src/bin/limit_getitem.rs) does, so the two compare a language and runtime, not features.

Run by awslambdaric (`python -m awslambdaric lookup.handler`, this folder on PYTHONPATH) under
benches/fake_runtime_api.py. Reads TABLE_NAME and boto3's own environment (region, credentials,
AWS_ENDPOINT_URL_DYNAMODB), as the functions do.
"""

from __future__ import annotations

import os

import boto3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

TABLE = os.environ["TABLE_NAME"]
dynamodb = boto3.client("dynamodb")
app = APIGatewayHttpResolver()

# The functions open their connection during init the same way: one read of a missing key.
try:
    dynamodb.get_item(TableName=TABLE, Key={"PK": {"S": "WARMUP"}, "SK": {"S": "WARMUP"}})
except Exception:  # noqa: BLE001 - a failed warm-up only moves the connection to the first request
    pass


def problem(status: int, error: str) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body={"error": error})


@app.get("/accounts/<account>")
def account(account: str) -> dict | Response:
    digits = "".join(ch for ch in account if ch.isascii() and ch.isdigit())
    if len(digits) != 10:
        return problem(400, "account number")
    try:
        found = dynamodb.get_item(
            TableName=TABLE,
            Key={"PK": {"S": f"ACCOUNT#{digits}"}, "SK": {"S": "PROFILE"}},
            # As the look-up reads: a customer who has just paid must see the credited balance.
            ConsistentRead=True,
        )
    except Exception:  # noqa: BLE001 - any SDK failure is the store being unavailable
        return problem(503, "unavailable")
    # The balance as the billing system exported it: the profile item's one money attribute.
    balance = found.get("Item", {}).get("billedBalance", {}).get("N")
    if balance is None:
        return problem(404, "not found")
    # DynamoDB's exact decimal text, passed through as the service passes money: a string.
    return {"balance": balance}


def handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
