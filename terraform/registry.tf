resource "google_artifact_registry_repository" "docker" {
  repository_id = "${var.prefix}englab-repository"
  location      = var.region
  format        = "DOCKER"
  description   = "Model-serving images built by serving-node."
  labels        = local.labels

  depends_on = [google_project_service.apis]
}
