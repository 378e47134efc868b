# Remote state in a GCS bucket, configured at init time (partial configuration), because AWX
# runs every job in a throw-away execution environment: local state would be lost after each job.
#
#   terraform init \
#     -backend-config="bucket=<state bucket>" \
#     -backend-config="prefix=englab-mlops/<platform name>"
#
# For a one-off local run, put `terraform { backend "local" {} }` in a backend_override.tf
# (ignored by git), see README.md.
terraform {
  backend "gcs" {}
}
