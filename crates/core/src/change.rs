//! What `plan` shows and `up` acts on: one [`Change`] per resource.

use std::fmt;

use serde::Serialize;

use crate::phase::Phase;

/// One differing field of a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// Field name as AWS calls it (`InstanceClass`, `ingress`, ...).
    pub field: String,
    /// What AWS has now (`None`: absent). `(sensitive)` when the field is secret.
    pub from: Option<String>,
    /// What the spec wants.
    pub to: Option<String>,
}

impl FieldChange {
    /// A plain field change.
    pub fn new(
        field: &str,
        from: impl Into<Option<String>>,
        to: impl Into<Option<String>>,
    ) -> Self {
        Self {
            field: field.into(),
            from: from.into(),
            to: to.into(),
        }
    }

    /// A change of a secret field: values are never shown.
    pub fn sensitive(field: &str) -> Self {
        Self {
            field: field.into(),
            from: Some(SENSITIVE.into()),
            to: Some(SENSITIVE.into()),
        }
    }
}

/// What is shown in place of a secret value.
pub const SENSITIVE: &str = "(sensitive)";

/// What will happen to a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// It does not exist and will be created.
    Create,
    /// It exists and these fields will change in place.
    Update {
        /// The differing fields.
        fields: Vec<FieldChange>,
    },
    /// It exists as desired.
    NoChange,
    /// It exists and will be deleted.
    Delete,
}

/// One resource's planned action. In JSON its phase is a number with a `phase_name` beside it
/// (as in every document orchestrate writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "ChangeJson")]
pub struct Change {
    /// Phase the resource belongs to.
    pub phase: Phase,
    /// Resource kind, e.g. `ec2/vpc`, `rds/db-instance`.
    pub kind: String,
    /// Its deterministic name.
    pub name: String,
    /// What will happen.
    #[serde(flatten)]
    pub action: Action,
}

/// [`Change`] as JSON: `phase` a number, `phase_name` its name.
#[derive(Serialize)]
struct ChangeJson {
    phase: u8,
    phase_name: &'static str,
    kind: String,
    name: String,
    #[serde(flatten)]
    action: Action,
}

impl From<Change> for ChangeJson {
    fn from(c: Change) -> Self {
        Self {
            phase: c.phase.number(),
            phase_name: c.phase.name(),
            kind: c.kind,
            name: c.name,
            action: c.action,
        }
    }
}

impl Change {
    /// A change for `kind`/`name` in `phase`.
    pub fn new(phase: Phase, kind: &str, name: &str, action: Action) -> Self {
        Self {
            phase,
            kind: kind.into(),
            name: name.into(),
            action,
        }
    }

    /// True when the change would call a mutating API.
    pub fn is_mutation(&self) -> bool {
        !matches!(self.action, Action::NoChange)
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = match &self.action {
            Action::Create => "+",
            Action::Update { .. } => "~",
            Action::NoChange => "=",
            Action::Delete => "-",
        };
        let verb = match &self.action {
            Action::Create => "create",
            Action::Update { .. } => "update",
            Action::NoChange => "no change",
            Action::Delete => "delete",
        };
        write!(f, "{mark} {} {} ({verb})", self.kind, self.name)?;
        if let Action::Update { fields } = &self.action {
            for field in fields {
                let from = field.from.as_deref().unwrap_or("(none)");
                let to = field.to.as_deref().unwrap_or("(none)");
                write!(f, "\n    {}: {from} -> {to}", field.field)?;
            }
        }
        Ok(())
    }
}

/// Every change of a run, in phase order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The changes.
    pub changes: Vec<Change>,
}

impl Plan {
    /// Counts of (create, update, delete, unchanged).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut counts = (0, 0, 0, 0);
        for change in &self.changes {
            match change.action {
                Action::Create => counts.0 += 1,
                Action::Update { .. } => counts.1 += 1,
                Action::Delete => counts.2 += 1,
                Action::NoChange => counts.3 += 1,
            }
        }
        counts
    }

    /// True when nothing would change.
    pub fn is_converged(&self) -> bool {
        self.changes.iter().all(|c| !c.is_mutation())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_carries_the_phase_as_a_number_and_its_name() {
        let change = Change::new(
            Phase::Scheduler,
            "ecs/service",
            "demo-scheduler",
            Action::Create,
        );
        let json = serde_json::to_value(&change).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"phase": 3, "phase_name": "scheduler", "kind": "ecs/service",
                               "name": "demo-scheduler", "action": "create"})
        );
    }

    #[test]
    fn display_shows_fields_and_hides_secrets() {
        let change = Change::new(
            Phase::Storage,
            "rds/db-instance",
            "demo-metadata",
            Action::Update {
                fields: vec![
                    FieldChange::new(
                        "DBInstanceClass",
                        Some("db.t4g.small".into()),
                        Some("db.t4g.medium".into()),
                    ),
                    FieldChange::sensitive("MasterUserPassword"),
                ],
            },
        );
        let shown = change.to_string();
        assert!(
            shown.starts_with("~ rds/db-instance demo-metadata (update)"),
            "{shown}"
        );
        assert!(shown.contains("DBInstanceClass: db.t4g.small -> db.t4g.medium"));
        assert!(shown.contains("MasterUserPassword: (sensitive) -> (sensitive)"));
    }

    #[test]
    fn plan_counts_and_convergence() {
        let mut plan = Plan::default();
        plan.changes.push(Change::new(
            Phase::Storage,
            "ec2/vpc",
            "demo-vpc",
            Action::NoChange,
        ));
        assert!(plan.is_converged());
        plan.changes.push(Change::new(
            Phase::Storage,
            "ec2/subnet",
            "demo-private-a",
            Action::Create,
        ));
        assert!(!plan.is_converged());
        assert_eq!(plan.counts(), (1, 0, 0, 1));
    }
}
