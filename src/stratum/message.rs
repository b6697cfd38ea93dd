//! Borrowed JSON-RPC message types, parsed with serde_json only for candidate lines.
