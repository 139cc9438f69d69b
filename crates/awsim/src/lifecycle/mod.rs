//! Lifecycles moto does not model: ECS deployments and tasks, and slow resources.

pub mod ecs;
pub mod slow;
