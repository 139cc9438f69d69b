//! What every resource operation receives besides its own AWS client.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::names::{Names, Tags};
use crate::phase::Phase;
use crate::progress::{Reporter, Silent};
use crate::wait::Timing;

/// The deployment's identity, the progress sink and the clock scale, shared by every crate.
///
/// Cheap to clone; holds no AWS client (each resource crate owns its own).
#[derive(Clone)]
pub struct Context {
    /// Resource names of this deployment.
    pub names: Names,
    /// The user's extra tags.
    pub user_tags: BTreeMap<String, String>,
    /// Where progress goes.
    pub reporter: Arc<dyn Reporter>,
    /// Poll and deadline scale.
    pub timing: Timing,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("names", &self.names)
            .field("timing", &self.timing)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context for `deployment` with the given reporter.
    pub fn new(
        deployment: &str,
        user_tags: BTreeMap<String, String>,
        reporter: Arc<dyn Reporter>,
        timing: Timing,
    ) -> Self {
        Self {
            names: Names::new(deployment),
            user_tags,
            reporter,
            timing,
        }
    }

    /// A silent, unscaled context (tests).
    pub fn for_tests(deployment: &str) -> Self {
        Self::new(
            deployment,
            BTreeMap::new(),
            Arc::new(Silent),
            Timing { scale: 0.001 },
        )
    }

    /// The tags of a resource of `component` in `phase`, with a `Name` tag.
    pub fn tags(&self, component: &str, phase: Phase, name: &str) -> Tags {
        Tags::new(self.names.deployment(), component, phase, &self.user_tags).with("Name", name)
    }
}
