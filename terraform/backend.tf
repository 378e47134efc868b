# Remote state in a GCS bucket, configured at init time (partial configuration), because AWX
# runs every job in a throw-away execution environment: local state would be lost after each job.
#
#   terraform init \
#     -backend-config="bucket=<state bucket>" \
#     -backend-config="prefix=englab-mlops/<platform name>"
#
# For a one-off local run, put `terraform { backend "local" {} }` in a backend_override.tf
# (ignored by git), see README.md. The provision role writes englab_backend_override.tf itself:
# gcs with mlops_gcp_state_bucket, else local state in its working copy.
terraform {
  backend "gcs" {}
}
