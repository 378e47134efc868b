# These outputs ARE the gcp side of the inventory contract (docs/inventory-contract.md); the
# provision stage turns them into in-memory groups and facts. No output carries a secret.

output "artifact_destination" {
  description = "Where the tracking server stores artifacts (mlops_artifact_destination)."
  value       = "gs://${google_storage_bucket.artifacts.name}"
}

output "db_host" {
  description = "Private IP of the Cloud SQL instance (mlops_db_host); it has no public IP."
  value       = google_sql_database_instance.db.private_ip_address
}

output "db_name" {
  description = "MLflow backend-store database (mlops_db_name)."
  value       = google_sql_database.mlflow.name
}

output "db_password_secret" {
  description = "Secret Manager secret holding the database password (mlops_db_password_secret); the tracking node reads its latest version with its service account."
  value       = local.secret_resource_id
}

output "db_port" {
  description = "PostgreSQL port (mlops_db_port)."
  value       = 5432
}

output "db_sslmode" {
  description = "libpq sslmode for the backend store (mlops_db_sslmode); the instance refuses unencrypted connections."
  value       = "require"
}

output "db_user" {
  description = "PostgreSQL user (mlops_db_user)."
  value       = google_sql_user.mlflow.name
}

output "deletion_protection" {
  description = "Whether the Cloud SQL instance is protected from deletion."
  value       = var.deletion_protection
}

output "name_prefix" {
  description = "Prefix prepended to every resource and inventory host name (mlops_name_prefix)."
  value       = var.prefix
}

output "nodes" {
  description = "Inventory hosts, keyed by instance name: group (training, tracking, serving), internal_ip, zone, external_ip (null when none) and instance_id (Compute Engine's numeric id, a digit string; SSH keeps the host key under <name>-<instance_id>, so a replaced VM is a new host)."
  value = {
    for key, node in local.nodes : google_compute_instance.node[key].name => {
      group       = node.group
      internal_ip = google_compute_instance.node[key].network_interface[0].network_ip
      zone        = google_compute_instance.node[key].zone
      external_ip = try(google_compute_instance.node[key].network_interface[0].access_config[0].nat_ip, null)
      instance_id = google_compute_instance.node[key].instance_id
    }
  }
}

output "project_id" {
  description = "Google Cloud project of the platform."
  value       = var.project_id
}

output "region" {
  description = "Region of the platform."
  value       = var.region
}

output "repository_login" {
  description = "How nodes log in to the repository (mlops_repository_login): gcp_token, an access token of the node's service account."
  value       = "gcp_token"
}

output "repository_url" {
  description = "Docker repository for serving images (mlops_repository_url)."
  value       = "${google_artifact_registry_repository.docker.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.docker.repository_id}"
}

output "service_accounts" {
  description = "Each node's own service account e-mail, keyed by instance name (as in nodes); informational, the inventory contract does not read it."
  value = {
    for key, node in local.nodes : google_compute_instance.node[key].name => google_service_account.node[node.identity].email
  }
}

output "ssh_user" {
  description = "OS Login user Ansible connects as (variable os_login_user). The provision role always sets it: mlops_ssh_user, or, when that is empty, the user it derives on the controller from the credentials in use (sa_<client_id> of a service-account key, else gcloud's OS Login profile). Empty only when the root is applied without it; the inventory contract then needs mlops_ssh_user."
  value       = var.os_login_user
}

output "tracking_url" {
  description = "URL nodes use for MLflow (mlops_tracking_url): HTTPS on the tracking node's internal IP, and tracking_port unless it is 443."
  value       = "https://${google_compute_instance.node["tracking-node"].network_interface[0].network_ip}${var.tracking_port == 443 ? "" : ":${var.tracking_port}"}"
}

output "tracking_port" {
  description = "Port of the tracking server's HTTPS proxy (mlops_tracking_port)."
  value       = var.tracking_port
}

output "serving_lb_url" {
  description = "URL of the serving load balancer (mlops_serving_lb_url): the internal passthrough load balancer in front of every serving node, for clients inside the VPC."
  value       = "http://${google_compute_forwarding_rule.serving_internal.ip_address}${var.serving_port == 80 ? "" : ":${var.serving_port}"}"
}

output "serving_external_url" {
  description = "URL of the external HTTPS load balancer (serving_external_enabled), or null. It answers serving_external_allowed_cidrs only, once serving_external_domain points at serving_external_ip and the managed certificate is active."
  value       = var.serving_external_enabled ? "https://${var.serving_external_domain}" : null
}

output "serving_external_ip" {
  description = "Address of the external HTTPS load balancer for serving_external_domain's A record, or null."
  value       = var.serving_external_enabled ? google_compute_global_address.serving_external[0].address : null
}

output "serving_port" {
  description = "Port of the serving node's model proxy (mlops_serving_port)."
  value       = var.serving_port
}
