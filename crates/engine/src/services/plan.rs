//! `plan` for phases 2-5: the same task definitions, services and load balancer `up` would
//! converge — computed by the same [`Graph`] functions from a [`Known`] observed read-only —
//! compared with what exists.

use orchestrate_airflow::Component;
use orchestrate_core::Phase;

use crate::Engine;
use crate::error::EngineError;
use crate::error::{ecs_step, step};
use crate::graph::{Graph, Known, NEW_REVISION};

/// What `up --phase up_to` would change in phases 2..=up_to (read-only): the cluster, the
/// load balancer, each task definition (per field), the Cloud Map service, each ECS service
/// (a revision not registered yet shows as [`NEW_REVISION`]) and the worker's autoscaling.
pub async fn plan(
    engine: &Engine,
    graph: &Graph<'_>,
    known: &Known,
    up_to: Phase,
) -> Result<Vec<orchestrate_core::Change>, EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let mut changes = Vec::new();
    // The certificate orchestrate requests for the domain, first: the HTTPS listener's
    // certificate is the issued one.
    let mut with_certificate;
    let known = match graph.certificate(known) {
        Some(desired) => {
            let (certificate, issued) =
                orchestrate_domain::certificate::plan(&aws.acm, &aws.route53, cx, &desired)
                    .await
                    .map_err(step("plan the domain's certificate"))?;
            changes.extend(certificate);
            with_certificate = known.clone();
            with_certificate.certificate_arn = issued;
            &with_certificate
        }
        None => known,
    };
    let cluster_desired = graph.cluster();
    let lb_desired = graph.load_balancer(known);
    let (cluster, lb) = tokio::try_join!(
        async {
            orchestrate_ecs::cluster::plan_cluster(&aws.ecs, &cluster_desired)
                .await
                .map_err(ecs_step("plan the ECS cluster"))
        },
        async {
            orchestrate_loadbalancer::plan_load_balancer(&aws.elbv2, cx, &lb_desired)
                .await
                .map_err(step("plan the load balancer"))
        },
    )?;
    changes.push(cluster);
    changes.extend(lb);
    if let Some(alias) = graph.alias_record(known) {
        let records =
            orchestrate_domain::record::find_all(&aws.route53, &alias.zone_id, &alias.name)
                .await
                .map_err(step("read the domain's alias record"))?;
        changes.push(orchestrate_domain::record::diff_alias(&alias, &records));
    }
    changes.extend(crate::alarms::plan(engine, graph, known, up_to).await?);
    match graph.discovery_service(known) {
        Some(desired) => {
            let observed = orchestrate_discovery::service::find_in(
                &aws.discovery,
                &engine.cx,
                &desired.namespace_id,
                &desired.name,
            )
            .await
            .map_err(step("read the api-server Cloud Map service"))?;
            changes.push(orchestrate_discovery::service::diff(
                &desired,
                observed.as_ref(),
            ));
        }
        None => changes.push(orchestrate_core::Change::new(
            Phase::ApiServer,
            orchestrate_discovery::service::KIND,
            orchestrate_discovery::API_SERVER_SERVICE,
            orchestrate_core::Action::Create,
        )),
    }
    let wiring = graph.wiring(known);
    let components: Vec<Component> = Component::ALL
        .iter()
        .copied()
        .filter(|c| c.phase() <= up_to)
        .collect();
    for component in components {
        let (json, _) = graph.task_definition(&wiring, component);
        let family = cx.names.service(component.name());
        let active = orchestrate_ecs::taskdef::find_active(&aws.ecs, &family)
            .await
            .map_err(ecs_step(format!(
                "read the {} task definition",
                component.name()
            )))?;
        let change =
            orchestrate_ecs::taskdef::diff(component.phase(), &json, active.as_ref()).map_err(
                ecs_step(format!("plan the {} task definition", component.name())),
            )?;
        let arn = match (&change.action, &active) {
            (orchestrate_core::Action::NoChange, Some(active)) => active.arn.clone(),
            _ => NEW_REVISION.to_string(),
        };
        changes.push(change);
        if !component.is_service() {
            continue;
        }
        let desired = graph.service(known, component, &arn);
        changes.push(
            orchestrate_ecs::service::plan_service(&aws.ecs, &desired)
                .await
                .map_err(ecs_step(format!("plan service {}", desired.name)))?,
        );
        if component == Component::Worker {
            let scaling = graph.worker_scaling();
            changes.extend(
                orchestrate_ecs::autoscaling::plan_autoscaling(&aws.autoscaling, &scaling)
                    .await
                    .map_err(ecs_step("plan the worker's autoscaling"))?,
            );
        }
    }
    Ok(changes)
}

/// The services of phases after `up_to` that run another Airflow version than the spec's
/// (read from the `orchestrate:airflow-version` tag of the revision each runs): a phase-limited
/// `up` would leave the deployment on mixed versions. One note per such service; none when
/// `up_to` is the last phase or the later phases are not deployed. Revisions registered
/// before the tag existed are not judged. Read-only.
///
/// # Errors
/// A failed DescribeServices or DescribeTaskDefinition.
pub async fn version_skew(engine: &Engine, up_to: Phase) -> Result<Vec<String>, EngineError> {
    let (aws, cx) = (&engine.aws, &engine.cx);
    let want = &engine.spec.image.airflow_version;
    let cluster = cx.names.cluster();
    let mut notes = Vec::new();
    for component in Component::ALL
        .iter()
        .filter(|c| c.is_service() && c.phase() > up_to)
    {
        let name = cx.names.service(component.name());
        let Some(observed) = orchestrate_ecs::service::find(&aws.ecs, &cluster, &name)
            .await
            .map_err(ecs_step(format!("read service {name}")))?
        else {
            continue;
        };
        let tags =
            orchestrate_ecs::operate::task_definition_tags(&aws.ecs, &observed.task_definition)
                .await
                .map_err(ecs_step(format!("read the task definition of {name}")))?;
        if let Some(running) = tags.get(crate::graph::AIRFLOW_VERSION_TAG)
            && running != want
        {
            notes.push(format!(
                "{name} (phase {}) stays on Airflow {running} while phases 1-{} move to {want}: \
                 components on mixed versions share one metadata database; run `orchestrate \
                 up` (all phases) to move every component",
                component.phase().number(),
                up_to.number()
            ));
        }
    }
    Ok(notes)
}
