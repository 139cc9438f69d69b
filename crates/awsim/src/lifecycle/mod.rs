//! Lifecycles moto does not model: ECS deployments and tasks, slow resources, and the
//! deletion rules (dependencies, secrets pending deletion) AWS enforces and moto does not.

pub mod acm;
pub mod cache_groups;
pub mod cache_members;
pub mod discovery;
pub mod ecs;
pub mod groups;
pub mod replication_groups;
pub mod secrets;
pub mod slow;
