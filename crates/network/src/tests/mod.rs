//! Unit tests with aws-smithy-mocks.
