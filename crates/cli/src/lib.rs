//! orchestrate-cli
