#!/usr/bin/env bash
# Lints template.yaml with both linters, offline, with no AWS credentials:
#   - `sam validate` (the SAM transform) and `sam validate --lint` (SAM's bundled cfn-lint)
#   - cfn-lint 1.51.0 on its own: later releases miss errors inside SAM resources (a misspelt
#     !GetAtt target in a policy, an unknown Runtime), and it finds circular dependencies
#     between the API and a function that SAM's bundled version lets through.
# Any finding fails (cfn-lint exits non-zero on warnings too).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEMPLATE="${1:-$ROOT/template.yaml}"

# Any region works; SAM refuses to run without one. Credentials and profiles of the caller
# are kept out so the result cannot depend on who runs it.
export SAM_CLI_TELEMETRY=0 AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

"$ROOT/.tools/sam/bin/sam" validate --template-file "$TEMPLATE"
"$ROOT/.tools/sam/bin/sam" validate --lint --template-file "$TEMPLATE"
"$ROOT/.tools/cfn-lint/bin/cfn-lint" -- "$TEMPLATE"
echo "cfn-lint: $TEMPLATE has no findings"
