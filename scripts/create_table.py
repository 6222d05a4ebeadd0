"""Creates the service's DynamoDB table on a local DynamoDB from its definition in template.yaml.

template.yaml is the only place that states the table's shape (keys, indexes, billing, TTL);
this script reads that resource and creates the same table on DynamoDB Local, so the local
table cannot drift from the deployed one. Idempotent: an existing table with the same keys is
left as it is (TTL is still ensured, an index the template gained is added); one with
other keys or an index the template no longer has is an error.

Run with the project venv (PyYAML + boto3):
    .tools/venv/bin/python scripts/create_table.py [--template template.yaml] [--resource Table]
The table name comes from TABLE_NAME, the endpoint from AWS_ENDPOINT_URL_DYNAMODB, the region
from AWS_REGION (all set by scripts/env.sh).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

TABLE_TYPE = "AWS::DynamoDB::Table"

# The CreateTable arguments that come straight from the resource's Properties: CloudFormation
# and the DynamoDB API spell them the same way.
PASSTHROUGH = ("AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput")
INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")


class TemplateError(Exception):
    """template.yaml does not hold a table this script can reproduce."""


class CloudFormationLoader(yaml.SafeLoader):
    """A safe YAML loader that accepts short-form intrinsics (!Ref, !Sub, !GetAtt, ...)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    return {name: value}


CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def table_properties(template: Path, resource: str | None) -> tuple[str, dict[str, Any]]:
    with template.open(encoding="utf-8") as f:
        document = yaml.load(f, Loader=CloudFormationLoader)  # noqa: S506 - safe loader subclass
    resources = (document or {}).get("Resources") or {}
    tables = {
        logical_id: body
        for logical_id, body in resources.items()
        if isinstance(body, dict) and body.get("Type") == TABLE_TYPE
    }
    if resource is not None:
        if resource not in tables:
            raise TemplateError(f"{template}: no {TABLE_TYPE} resource named {resource}")
        return resource, tables[resource].get("Properties") or {}
    if len(tables) != 1:
        names = ", ".join(sorted(tables)) or "none"
        raise TemplateError(
            f"{template}: expected exactly one {TABLE_TYPE} resource (found: {names}); "
            "pass --resource"
        )
    ((logical_id, body),) = tables.items()
    return logical_id, body.get("Properties") or {}


def _literal(name: str, value: Any) -> Any:
    """Rejects intrinsic functions where the local table needs a concrete value."""
    if isinstance(value, dict):
        if any(k == "Ref" or k.startswith("Fn::") for k in value):
            raise TemplateError(f"{name} must be a literal value in the template, not {value}")
        return {k: _literal(f"{name}.{k}", v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal(f"{name}[{i}]", v) for i, v in enumerate(value)]
    return value


def create_table_request(table_name: str, properties: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"TableName": table_name}
    for key in PASSTHROUGH:
        if key in properties:
            request[key] = _literal(key, properties[key])
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = _literal(key, properties.get(key) or [])
        if indexes:
            request[key] = [{k: ix[k] for k in INDEX_KEYS if k in ix} for ix in indexes]
    stream = _literal("StreamSpecification", properties.get("StreamSpecification"))
    if stream:
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    if "AttributeDefinitions" not in request or "KeySchema" not in request:
        raise TemplateError("the table needs AttributeDefinitions and KeySchema")
    return request


def ensure_ttl(client: Any, table_name: str, properties: dict[str, Any]) -> None:
    spec = _literal("TimeToLiveSpecification", properties.get("TimeToLiveSpecification"))
    if not spec or not spec.get("Enabled"):
        return
    current = client.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        if current.get("AttributeName") != spec["AttributeName"]:
            raise TemplateError(
                f"table {table_name} has TTL on {current.get('AttributeName')}, "
                f"the template says {spec['AttributeName']}: restart the stack"
            )
        return
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"AttributeName": spec["AttributeName"], "Enabled": True},
    )


def add_index(client: Any, request: dict[str, Any], index: dict[str, Any]) -> None:
    name = request["TableName"]
    client.update_table(
        TableName=name,
        AttributeDefinitions=request["AttributeDefinitions"],
        GlobalSecondaryIndexUpdates=[{"Create": index}],
    )
    for _ in range(60):
        table = client.describe_table(TableName=name)["Table"]
        statuses = {ix["IndexName"]: ix.get("IndexStatus") for ix in table.get("GlobalSecondaryIndexes", [])}
        if statuses.get(index["IndexName"]) == "ACTIVE":
            print(f"table {name}: index {index['IndexName']} added")
            return
        time.sleep(1)
    raise TemplateError(f"table {name}: index {index['IndexName']} did not become active")


def ensure_table(client: Any, request: dict[str, Any]) -> bool:
    """Creates the table unless it exists; True when it was created."""
    name = request["TableName"]
    try:
        existing = client.describe_table(TableName=name)["Table"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    else:
        wanted_keys = sorted((k["AttributeName"], k["KeyType"]) for k in request["KeySchema"])
        have_keys = sorted((k["AttributeName"], k["KeyType"]) for k in existing["KeySchema"])
        wanted_ix = sorted(ix["IndexName"] for ix in request.get("GlobalSecondaryIndexes", []))
        have_ix = sorted(ix["IndexName"] for ix in existing.get("GlobalSecondaryIndexes", []))
        if wanted_keys != have_keys or not set(have_ix) <= set(wanted_ix):
            raise TemplateError(
                f"table {name} exists with another shape (keys {have_keys}, indexes {have_ix}): "
                "restart the stack to recreate it"
            )
        # An index the template gained since the table was made is added to it, as a stack
        # update adds it to the deployed table, and the items already there are indexed.
        for index in request.get("GlobalSecondaryIndexes", []):
            if index["IndexName"] not in have_ix:
                add_index(client, request, index)
        return False
    client.create_table(**request)
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    return True


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=root / "template.yaml")
    parser.add_argument("--resource", help=f"logical id of the {TABLE_TYPE} resource")
    parser.add_argument("--table-name", default=os.environ.get("TABLE_NAME"))
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    args = parser.parse_args()
    if not args.table_name or not args.endpoint_url:
        parser.error("TABLE_NAME and AWS_ENDPOINT_URL_DYNAMODB must be set (scripts/env.sh)")

    try:
        logical_id, properties = table_properties(args.template, args.resource)
        request = create_table_request(args.table_name, properties)
        client = boto3.client(
            "dynamodb",
            endpoint_url=args.endpoint_url,
            region_name=args.region,
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 3}),
        )
        created = ensure_table(client, request)
        ensure_ttl(client, args.table_name, properties)
    except (TemplateError, BotoCoreError, ClientError, OSError, yaml.YAMLError) as error:
        print(f"create_table: {error}", file=sys.stderr)
        return 1
    state = "created" if created else "already exists"
    print(f"table {args.table_name} ({logical_id} in {args.template.name}): {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
