resource "google_artifact_registry_repository" "docker" {
  #checkov:skip=CKV_GCP_84:Images hold no secrets (models come from the tracking server at run time) and are encrypted with Google-managed keys; CMEK needs a Cloud KMS key ring whose lifecycle belongs outside this root.
  repository_id = "${var.prefix}englab-repository"
  location      = var.region
  format        = "DOCKER"
  description   = "Model-serving images built by serving-node."
  labels        = local.labels

  depends_on = [time_sleep.apis]
}
