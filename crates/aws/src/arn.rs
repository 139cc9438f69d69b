//! ARNs built from their parts: for resources whose ARN is deterministic (ECR repositories,
//! log groups), so that `plan` and `up` compute the same policy before the resource exists.

/// The partition of `region` (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// `arn:<partition>:<service>:<region>:<account>:<resource>`.
pub fn arn(service: &str, region: &str, account_id: &str, resource: &str) -> String {
    format!(
        "arn:{}:{service}:{region}:{account_id}:{resource}",
        partition(region)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(
            arn("ecr", "cn-north-1", "1", "repository/x"),
            "arn:aws-cn:ecr:cn-north-1:1:repository/x"
        );
    }
}
