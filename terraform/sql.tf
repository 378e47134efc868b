# Cloud SQL instance names cannot be reused for a week after deletion: a random suffix, as the seed.
resource "random_id" "db_suffix" {
  byte_length = 3
}

resource "google_sql_database_instance" "db" {
  #checkov:skip=CKV_GCP_6:ssl_mode ENCRYPTED_ONLY refuses every unencrypted connection; TRUSTED_CLIENT_CERTIFICATE_REQUIRED would need client keys made by google_sql_ssl_cert, whose private key Terraform keeps in state, the very leak this root removes.
  #checkov:skip=CKV_GCP_79:The major version is the db_version variable (default POSTGRES_17, a conservative choice for a new Cloud SQL major); POSTGRES_18 is accepted by the variable.
  name                = "${var.prefix}englab-${random_id.db_suffix.hex}"
  database_version    = var.db_version
  region              = var.region
  deletion_protection = var.deletion_protection

  settings {
    tier                        = var.db_tier
    edition                     = "ENTERPRISE"
    availability_type           = var.db_availability_type
    disk_type                   = "PD_SSD"
    disk_size                   = var.db_disk_size_gb
    disk_autoresize             = true
    deletion_protection_enabled = var.deletion_protection
    user_labels                 = local.labels

    ip_configuration {
      # Private IP only, through the VPC peering in network.tf; no public address, no authorized networks.
      ipv4_enabled    = false
      private_network = google_compute_network.vpc.id
      ssl_mode        = "ENCRYPTED_ONLY"

      enable_private_path_for_google_cloud_services = true
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = var.db_backup_start_time
      transaction_log_retention_days = 7

      backup_retention_settings {
        retained_backups = var.db_retained_backups
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7
      hour         = 3
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = false
      record_client_address   = false
    }

    # PostgreSQL logging flags of the CIS Google Cloud benchmark (static blocks so scanners see them).
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_duration"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_min_messages"
      value = "warning"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    # MLflow's pools (about 95 connections per tracking server worker under a burst) outgrow the tier's 100.
    database_flags {
      name  = "max_connections"
      value = tostring(var.db_max_connections)
    }
  }

  depends_on = [google_service_networking_connection.sql]
}

resource "google_sql_database" "mlflow" {
  name     = var.db_name
  instance = google_sql_database_instance.db.name
}

# One password, two places, and no run may split them. The password is an ephemeral INPUT
# (var.db_password): in no plan, state or output, and the same value on every run until it is
# rotated, so whichever of the two writes a failed apply left undone, the re-run writes the SAME
# value. Not generated here: an ephemeral random_password is new on every run, so a first apply
# that stopped after one write, then a re-run, left Cloud SQL and Secret Manager with different
# passwords. Not read back from Secret Manager either: the ephemeral
# google_secret_manager_secret_version only exists from google 7.x (this root is pinned to 6.x),
# and the data source of that name would put the password in state. The provision role generates
# the value once per db_password_version and keeps it on the controller (0600); see README.md.
resource "google_sql_user" "mlflow" {
  name     = var.db_user
  instance = google_sql_database_instance.db.name

  password_wo         = var.db_password
  password_wo_version = var.db_password_version

  # PostgreSQL refuses to drop a role that owns objects; leave it to the instance's deletion.
  deletion_policy = "ABANDON"
}

resource "google_secret_manager_secret" "db_password" {
  secret_id = "${var.prefix}englab-db-password"
  labels    = local.labels

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }

  depends_on = [time_sleep.apis]
}

# The same input as google_sql_user.mlflow, under the same version: raising db_password_version
# (with a new db_password) rewrites both in one run (rotation); a re-run after a failure rewrites
# neither or the missing one, with the same value.
resource "google_secret_manager_secret_version" "db_password" {
  secret = google_secret_manager_secret.db_password.id

  secret_data_wo         = var.db_password
  secret_data_wo_version = var.db_password_version
}
