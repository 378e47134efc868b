resource "google_storage_bucket" "artifacts" {
  #checkov:skip=CKV_GCP_62:Access to MLflow artifacts is recorded by Cloud Audit Logs (data access logs), Google's recommended replacement for legacy bucket usage logs; a second log bucket adds cost without coverage.
  name          = local.artifact_bucket
  location      = upper(var.region)
  storage_class = "STANDARD"
  labels        = local.labels
  # Destroy deletes the artifacts only when asked (destroy_data, which needs deletion_protection
  # off); it must be applied before the destroy, since destroy reads force_destroy from state.
  force_destroy = var.destroy_data

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  # Overwritten or deleted artifacts stay recoverable for a while, then go.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.artifact_noncurrent_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [time_sleep.apis]
}
