//! The crate's one error type.

use orchestrate_aws::AwsError;
use orchestrate_core::{Classify, ErrorKind, WaitError};

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DescribeAvailabilityZones failed.
    #[error(transparent)]
    DescribeZones(AwsError),
    /// The region offers fewer usable availability zones than the spec asks for.
    #[error(
        "failed to resolve {wanted} availability zones: the region offers only {found} \
         (available, opt-in not required): {zones}"
    )]
    NotEnoughZones {
        /// Zones asked for.
        wanted: usize,
        /// Zones found.
        found: usize,
        /// The zones found.
        zones: String,
    },
    /// The VPC CIDR / subnet prefix cannot be carved as asked (validation catches this first).
    #[error("failed to plan subnets of {vpc_cidr}: {message}")]
    SubnetPlan {
        /// The VPC CIDR.
        vpc_cidr: String,
        /// What is wrong.
        message: String,
    },
    /// DescribeVpcs / DescribeVpcAttribute failed.
    #[error(transparent)]
    DescribeVpc(AwsError),
    /// CreateVpc failed.
    #[error(transparent)]
    CreateVpc(AwsError),
    /// ModifyVpcAttribute failed.
    #[error(transparent)]
    UpdateVpc(AwsError),
    /// DeleteVpc failed (other than "not found", which is success).
    #[error(transparent)]
    DeleteVpc(AwsError),
    /// DescribeSubnets failed.
    #[error(transparent)]
    DescribeSubnet(AwsError),
    /// DescribeNetworkInterfaces failed (is a duplicate subnet in use?).
    #[error(transparent)]
    DescribeNetworkInterface(AwsError),
    /// CreateSubnet failed.
    #[error(transparent)]
    CreateSubnet(AwsError),
    /// ModifySubnetAttribute failed.
    #[error(transparent)]
    UpdateSubnet(AwsError),
    /// DeleteSubnet failed.
    #[error(transparent)]
    DeleteSubnet(AwsError),
    /// DescribeInternetGateways failed.
    #[error(transparent)]
    DescribeInternetGateway(AwsError),
    /// CreateInternetGateway failed.
    #[error(transparent)]
    CreateInternetGateway(AwsError),
    /// AttachInternetGateway failed.
    #[error(transparent)]
    AttachInternetGateway(AwsError),
    /// DetachInternetGateway / DeleteInternetGateway failed.
    #[error(transparent)]
    DeleteInternetGateway(AwsError),
    /// DescribeAddresses failed.
    #[error(transparent)]
    DescribeAddress(AwsError),
    /// AllocateAddress failed.
    #[error(transparent)]
    AllocateAddress(AwsError),
    /// ReleaseAddress failed.
    #[error(transparent)]
    ReleaseAddress(AwsError),
    /// DescribeNatGateways failed.
    #[error(transparent)]
    DescribeNatGateway(AwsError),
    /// CreateNatGateway failed.
    #[error(transparent)]
    CreateNatGateway(AwsError),
    /// DeleteNatGateway failed.
    #[error(transparent)]
    DeleteNatGateway(AwsError),
    /// DescribeRouteTables failed.
    #[error(transparent)]
    DescribeRouteTable(AwsError),
    /// CreateRouteTable failed.
    #[error(transparent)]
    CreateRouteTable(AwsError),
    /// CreateRoute / ReplaceRoute / (Re|Dis)associateRouteTable failed.
    #[error(transparent)]
    UpdateRouteTable(AwsError),
    /// DeleteRouteTable failed.
    #[error(transparent)]
    DeleteRouteTable(AwsError),
    /// DescribeSecurityGroups failed.
    #[error(transparent)]
    DescribeSecurityGroup(AwsError),
    /// CreateSecurityGroup failed.
    #[error(transparent)]
    CreateSecurityGroup(AwsError),
    /// Authorize/RevokeSecurityGroupIngress/Egress failed.
    #[error(transparent)]
    UpdateSecurityGroupRules(AwsError),
    /// DeleteSecurityGroup failed.
    #[error(transparent)]
    DeleteSecurityGroup(AwsError),
    /// DescribeVpcEndpoints failed.
    #[error(transparent)]
    DescribeVpcEndpoint(AwsError),
    /// The existing network the spec names (`[network] vpc_id`) cannot carry the deployment;
    /// each problem names the offending VPC, subnet or route table and the fix. Found before
    /// any mutating call.
    #[error(
        "the existing network {vpc_id} cannot carry the deployment:\n{}",
        problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
    )]
    ExistingNetwork {
        /// The VPC of the spec.
        vpc_id: String,
        /// What is wrong, one line each, with the fix.
        problems: Vec<String>,
    },
    /// DescribeAccountAttributes failed (`orchestrate verify`).
    #[error(transparent)]
    DescribeAccountAttributes(AwsError),
    /// An existing resource contradicts the spec in a way that cannot change in place.
    #[error("failed to converge {kind} {name}: {message}")]
    Conflict {
        /// Resource kind (`ec2/subnet`, ...).
        kind: String,
        /// Resource name.
        name: String,
        /// What contradicts the spec and how to fix it.
        message: String,
    },
    /// AWS answered without a field this crate needs (an id).
    #[error("failed to read {what}: AWS returned no {field}")]
    MissingField {
        /// What was read.
        what: String,
        /// The missing field.
        field: &'static str,
    },
    /// A wait (NAT gateway deletion, a delete blocked by dependencies) did not finish.
    #[error("failed to wait for {what}: {source}")]
    Wait {
        /// What was waited on.
        what: String,
        /// What the wait last saw.
        #[source]
        source: Box<WaitError<Error>>,
    },
}

impl Error {
    /// The AWS error inside, if this failure is an AWS call's.
    pub fn aws(&self) -> Option<&AwsError> {
        use Error::*;
        match self {
            DescribeZones(e)
            | DescribeVpc(e)
            | CreateVpc(e)
            | UpdateVpc(e)
            | DeleteVpc(e)
            | DescribeSubnet(e)
            | DescribeNetworkInterface(e)
            | CreateSubnet(e)
            | UpdateSubnet(e)
            | DeleteSubnet(e)
            | DescribeInternetGateway(e)
            | CreateInternetGateway(e)
            | AttachInternetGateway(e)
            | DeleteInternetGateway(e)
            | DescribeAddress(e)
            | AllocateAddress(e)
            | ReleaseAddress(e)
            | DescribeNatGateway(e)
            | CreateNatGateway(e)
            | DeleteNatGateway(e)
            | DescribeRouteTable(e)
            | CreateRouteTable(e)
            | UpdateRouteTable(e)
            | DeleteRouteTable(e)
            | DescribeSecurityGroup(e)
            | CreateSecurityGroup(e)
            | UpdateSecurityGroupRules(e)
            | DeleteSecurityGroup(e)
            | DescribeVpcEndpoint(e)
            | DescribeAccountAttributes(e) => Some(e),
            NotEnoughZones { .. }
            | SubnetPlan { .. }
            | Conflict { .. }
            | MissingField { .. }
            | ExistingNetwork { .. }
            | Wait { .. } => None,
        }
    }
}

impl Classify for Error {
    /// The kind of the AWS error or wait inside, or of this crate's own verdict.
    fn kind(&self) -> ErrorKind {
        match self {
            Error::DescribeZones(e)
            | Error::DescribeVpc(e)
            | Error::CreateVpc(e)
            | Error::UpdateVpc(e)
            | Error::DeleteVpc(e)
            | Error::DescribeSubnet(e)
            | Error::DescribeNetworkInterface(e)
            | Error::CreateSubnet(e)
            | Error::UpdateSubnet(e)
            | Error::DeleteSubnet(e)
            | Error::DescribeInternetGateway(e)
            | Error::CreateInternetGateway(e)
            | Error::AttachInternetGateway(e)
            | Error::DeleteInternetGateway(e)
            | Error::DescribeAddress(e)
            | Error::AllocateAddress(e)
            | Error::ReleaseAddress(e)
            | Error::DescribeNatGateway(e)
            | Error::CreateNatGateway(e)
            | Error::DeleteNatGateway(e)
            | Error::DescribeRouteTable(e)
            | Error::CreateRouteTable(e)
            | Error::UpdateRouteTable(e)
            | Error::DeleteRouteTable(e)
            | Error::DescribeSecurityGroup(e)
            | Error::CreateSecurityGroup(e)
            | Error::UpdateSecurityGroupRules(e)
            | Error::DeleteSecurityGroup(e)
            | Error::DescribeVpcEndpoint(e)
            | Error::DescribeAccountAttributes(e) => e.kind(),
            Error::Wait { source, .. } => source.kind(),
            Error::NotEnoughZones { .. } | Error::Conflict { .. } => ErrorKind::Refused,
            Error::SubnetPlan { .. } | Error::ExistingNetwork { .. } => ErrorKind::Invalid,
            Error::MissingField { .. } => ErrorKind::Internal,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
