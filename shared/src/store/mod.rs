//! DynamoDB adapters behind the ports.
