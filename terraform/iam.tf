# One identity for the platform's nodes, holding only what MLflow needs, each grant scoped to
# its resource where Google Cloud allows it.
resource "google_service_account" "mlflow_data" {
  account_id   = "${var.prefix}mlflow-data"
  display_name = "englab MLflow platform nodes"
  description  = "Used by training-node, tracking-node and serving-node; least privilege."
}

locals {
  mlflow_data_member = "serviceAccount:${google_service_account.mlflow_data.email}"
}

resource "google_storage_bucket_iam_member" "artifacts_object_admin" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectAdmin"
  member = local.mlflow_data_member
}

# Writer includes reader: serving-node pushes and pulls images, training-node may pull.
resource "google_artifact_registry_repository_iam_member" "repository_writer" {
  project    = google_artifact_registry_repository.docker.project
  location   = google_artifact_registry_repository.docker.location
  repository = google_artifact_registry_repository.docker.name
  role       = "roles/artifactregistry.writer"
  member     = local.mlflow_data_member
}

resource "google_secret_manager_secret_iam_member" "db_password_accessor" {
  project   = google_secret_manager_secret.db_password.project
  secret_id = google_secret_manager_secret.db_password.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.mlflow_data_member
}

# Cloud SQL client is granted on the project (Cloud SQL has no instance-level IAM policy), narrowed
# by an IAM condition to this platform's instance.
resource "google_project_iam_member" "cloudsql_client" {
  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = local.mlflow_data_member

  condition {
    title       = "${var.prefix}englab-db-only"
    description = "Only the englab Cloud SQL instance."
    expression  = "resource.type == \"sqladmin.googleapis.com/Instance\" && resource.name == \"projects/${var.project_id}/instances/${google_sql_database_instance.db.name}\""
  }
}

# Logging and monitoring agents on the nodes; these roles only exist at project level.
resource "google_project_iam_member" "log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = local.mlflow_data_member
}

resource "google_project_iam_member" "metric_writer" {
  project = var.project_id
  role    = "roles/monitoring.metricWriter"
  member  = local.mlflow_data_member
}
