//! Unit tests with aws-smithy-mocks: one file per resource type.

mod internet_gateway;
mod nat;
mod network;
mod route_table;
mod security_group;
mod subnet;
mod vpc;

use std::sync::Arc;

use aws_sdk_ec2::types::{Tag, TagSpecification};
use orchestrate_core::progress::Recorder;
use orchestrate_core::{Context, Spec, Timing};

use crate::Owner;
use crate::util::tag_map;

/// A test context and the recorder of its events.
pub(crate) fn cx() -> (Context, Recorder) {
    let recorder = Recorder::default();
    let cx = Context::new(
        "demo",
        Default::default(),
        Arc::new(recorder.clone()),
        Timing { scale: 0.001 },
    );
    (cx, recorder)
}

/// The owner of the test deployment.
pub(crate) fn owner() -> Owner {
    Owner::from_spec(&Spec::minimal("demo", "us-east-1"))
}

/// SDK tags of a resource of `component` named `name`.
pub(crate) fn tags(component: &str, name: &str) -> Vec<Tag> {
    owner()
        .tags(component, name)
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// True when the request's tag specifications carry the deployment, component and name.
pub(crate) fn tagged(specs: &[TagSpecification], component: &str, name: &str) -> bool {
    specs.iter().any(|s| {
        let t = tag_map(s.tags());
        t.get("orchestrate:deployment").map(String::as_str) == Some("demo")
            && t.get("orchestrate:component").map(String::as_str) == Some(component)
            && t.get("orchestrate:phase").map(String::as_str) == Some("1")
            && t.get("managed-by").map(String::as_str) == Some("orchestrate")
            && t.get("Name").map(String::as_str) == Some(name)
    })
}

/// A modelled-less EC2 error with `code` for operation error type `$ty`.
macro_rules! ec2_err {
    ($ty:ty, $code:expr) => {
        <$ty>::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code($code)
                .message("test")
                .build(),
        )
    };
}
pub(crate) use ec2_err;

/// True when the request filters contain `name` = `value`.
pub(crate) fn has_filter(filters: &[aws_sdk_ec2::types::Filter], name: &str, value: &str) -> bool {
    filters
        .iter()
        .any(|f| f.name() == Some(name) && f.values().iter().any(|v| v == value))
}
