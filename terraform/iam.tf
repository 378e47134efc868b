# One identity per node, each holding only what that node uses, every grant scoped to its resource
# where Google Cloud allows it. No Cloud SQL role: the tracking node reaches the database over its
# private IP with password authentication, which needs no IAM.
#   tracking-node: the database password secret (accessor), the artifact bucket (object admin)
#   serving-node:  the Docker repository (writer: push and pull its images); every serving node runs as it
#   training-node: nothing beyond logs and metrics (artifacts go through the tracking server)
resource "google_service_account" "node" {
  # One per node of the seed; serving-node-2 ... run as serving-node's.
  for_each = local.seed_nodes

  account_id   = "${var.prefix}${each.value.group}-sa"
  display_name = "englab MLflow ${each.key}"
  description  = "Identity of ${var.prefix}${each.key} only; least privilege."

  depends_on = [time_sleep.apis]
}

locals {
  node_member = { for key, sa in google_service_account.node : key => "serviceAccount:${sa.email}" }

  # Logging and monitoring agents run on every node; these roles only exist at project level.
  agent_roles = ["roles/logging.logWriter", "roles/monitoring.metricWriter"]
  agent_grants = {
    for pair in setproduct(keys(google_service_account.node), local.agent_roles) :
    "${pair[0]}/${pair[1]}" => { node = pair[0], role = pair[1] }
  }
}

resource "google_storage_bucket_iam_member" "tracking_artifacts" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectAdmin"
  member = local.node_member["tracking-node"]
}

resource "google_secret_manager_secret_iam_member" "tracking_db_password" {
  project   = google_secret_manager_secret.db_password.project
  secret_id = google_secret_manager_secret.db_password.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.node_member["tracking-node"]
}

# Writer includes reader: serving-node pushes and pulls its images, in this repository only.
resource "google_artifact_registry_repository_iam_member" "serving_repository" {
  project    = google_artifact_registry_repository.docker.project
  location   = google_artifact_registry_repository.docker.location
  repository = google_artifact_registry_repository.docker.name
  role       = "roles/artifactregistry.writer"
  member     = local.node_member["serving-node"]
}

resource "google_project_iam_member" "agent" {
  for_each = local.agent_grants

  project = var.project_id
  role    = each.value.role
  member  = local.node_member[each.value.node]

  depends_on = [time_sleep.apis]
}
