#!/usr/bin/env bash
# Builds config/image/Dockerfile (the official Airflow image plus your requirements.txt) for
# linux/amd64 and linux/arm64 with docker buildx, tags it with the git SHA and pushes it to the
# deployment's ECR repository <name>/airflow. Needs docker with buildx (and QEMU/binfmt for
# the platform you are not on) and the AWS CLI. See docs/images.md.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/build-image.sh --name NAME --region REGION [options]

Builds config/image for linux/amd64 and linux/arm64 and pushes it to
<account>.dkr.ecr.<region>.amazonaws.com/<name>/airflow:<tag>
(the repository `orchestrate up --phase 1` creates).

Options:
  --name NAME              deployment name ([deployment].name)
  --region REGION          AWS region ([deployment].region)
  --airflow-version VER    Airflow version to build on (default: 3.1.0; keep it equal to
                           [image].airflow_version)
  --tag TAG                image tag (default: the current git SHA, short, with -dirty when
                           the work tree has changes)
  --profile PROFILE        AWS CLI profile
  -h, --help               this help

Then point the spec at it and turn the sync off:

  [image]
  tag = "<tag>"
  sync = false

Example:
  scripts/build-image.sh --name demo --region eu-west-1
USAGE
}

name="" region="" airflow_version="3.1.0" tag="" profile=()
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name="$2"; shift 2 ;;
    --region) region="$2"; shift 2 ;;
    --airflow-version) airflow_version="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --profile) profile=(--profile "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [ -z "$name" ] || [ -z "$region" ]; then
  usage >&2
  exit 2
fi

cd "$(dirname "$0")/.."
if [ -z "$tag" ]; then
  tag="$(git rev-parse --short=12 HEAD)"
  git diff --quiet HEAD -- config/image || tag="$tag-dirty"
fi

account="$(aws "${profile[@]}" sts get-caller-identity --query Account --output text)"
registry="$account.dkr.ecr.$region.amazonaws.com"
image="$registry/$name/airflow:$tag"

echo "==> logging in to $registry"
aws "${profile[@]}" ecr get-login-password --region "$region" |
  docker login --username AWS --password-stdin "$registry"

echo "==> building and pushing $image (linux/amd64, linux/arm64)"
docker buildx build \
  --platform linux/amd64,linux/arm64 \
  --build-arg "AIRFLOW_VERSION=$airflow_version" \
  --tag "$image" \
  --push \
  config/image

echo "==> pushed $image"
echo "Set in your spec: [image] tag = \"$tag\" and sync = false; then: orchestrate images check"
