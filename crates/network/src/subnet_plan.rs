//! The subnet plan: how the VPC CIDR is carved (pure, deterministic).
//!
//! The VPC CIDR is split into blocks of `/subnet_prefix` in address order: the first
//! `az_count` blocks are the public subnets (one per AZ, in AZ order), the next `az_count` the
//! private ones. The same spec and the same pinned AZs always give the same subnets.

use ipnet::Ipv4Net;

use crate::error::{Error, Result};

/// Public and private subnet CIDRs, index `i` belonging to the `i`-th AZ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetPlan {
    /// The VPC CIDR.
    pub vpc: Ipv4Net,
    /// One public subnet per AZ.
    pub public: Vec<Ipv4Net>,
    /// One private subnet per AZ.
    pub private: Vec<Ipv4Net>,
}

/// Carves `vpc_cidr` into `az_count` public then `az_count` private `/subnet_prefix` blocks.
///
/// # Errors
/// [`Error::SubnetPlan`] when the CIDR does not parse, has host bits set, or is too small.
pub fn plan_subnets(vpc_cidr: &str, subnet_prefix: u8, az_count: usize) -> Result<SubnetPlan> {
    let fail = |message: String| Error::SubnetPlan {
        vpc_cidr: vpc_cidr.to_string(),
        message,
    };
    let vpc: Ipv4Net = vpc_cidr
        .parse()
        .map_err(|e| fail(format!("not an IPv4 CIDR: {e}")))?;
    if vpc.trunc() != vpc {
        return Err(fail(format!(
            "host bits are set (the network is {})",
            vpc.trunc()
        )));
    }
    if subnet_prefix <= vpc.prefix_len() || subnet_prefix > 28 {
        return Err(fail(format!(
            "subnets of /{subnet_prefix} cannot be carved from a /{} VPC",
            vpc.prefix_len()
        )));
    }
    let blocks: Vec<Ipv4Net> = vpc
        .subnets(subnet_prefix)
        .map_err(|e| fail(e.to_string()))?
        .take(az_count * 2)
        .collect();
    if blocks.len() < az_count * 2 {
        return Err(fail(format!(
            "holds only {} subnets of /{subnet_prefix}, {} needed",
            blocks.len(),
            az_count * 2
        )));
    }
    let (public, private) = blocks.split_at(az_count);
    Ok(SubnetPlan {
        vpc,
        public: public.to_vec(),
        private: private.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(nets: &[Ipv4Net]) -> Vec<String> {
        nets.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn default_spec_carves_public_then_private() {
        let plan = plan_subnets("10.40.0.0/16", 20, 2).expect("plan");
        assert_eq!(strings(&plan.public), ["10.40.0.0/20", "10.40.16.0/20"]);
        assert_eq!(strings(&plan.private), ["10.40.32.0/20", "10.40.48.0/20"]);
        assert_eq!(plan, plan_subnets("10.40.0.0/16", 20, 2).expect("again"));
    }

    #[test]
    fn three_azs_and_small_vpcs() {
        let plan = plan_subnets("192.168.0.0/24", 27, 3).expect("plan");
        assert_eq!(
            strings(&plan.public),
            ["192.168.0.0/27", "192.168.0.32/27", "192.168.0.64/27"]
        );
        assert_eq!(
            strings(&plan.private),
            ["192.168.0.96/27", "192.168.0.128/27", "192.168.0.160/27"]
        );
    }

    #[test]
    fn rejects_what_cannot_be_carved() {
        assert!(plan_subnets("10.0.0.0/24", 26, 3).is_err(), "4 blocks < 6");
        assert!(plan_subnets("10.0.0.1/16", 20, 2).is_err(), "host bits");
        assert!(
            plan_subnets("10.0.0.0/16", 16, 2).is_err(),
            "prefix too short"
        );
        assert!(plan_subnets("nonsense", 20, 2).is_err());
    }
}
