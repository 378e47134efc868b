locals {
  # The nodes' zone: the one given, else zone b of the region (europe-west1 has no zone a).
  zone = coalesce(var.zone, "${var.region}-b")

  # Labels on every resource that takes them; the user's labels first, ours cannot be overridden.
  labels = merge(var.labels, {
    managed-by = "terraform"
    platform   = "englab-mlops"
  })

  # The three nodes of the seed, keyed by their seed name; the resource name adds var.prefix.
  nodes = {
    training-node = {
      group        = "training"
      machine_type = var.training_machine_type
      disk_size_gb = var.training_disk_size_gb
      gpu_count    = var.gpu_count
      # A2, A3 and G2 carry built-in GPUs: they cannot live-migrate either.
      gpus = var.gpu_count > 0 || contains(["a2", "a3", "g2"], split("-", var.training_machine_type)[0])
    }
    tracking-node = {
      group        = "tracking"
      machine_type = var.tracking_machine_type
      disk_size_gb = var.tracking_disk_size_gb
      gpu_count    = 0
      gpus         = false
    }
    serving-node = {
      group        = "serving"
      machine_type = var.serving_machine_type
      disk_size_gb = var.serving_disk_size_gb
      gpu_count    = 0
      gpus         = false
    }
  }

  node_tag           = "${var.prefix}englab-node"
  iap_range          = "35.235.240.0/20" # IAP TCP forwarding: SSH to every node, tracking_port to tracking
  tracking_https     = var.tracking_port
  artifact_bucket    = coalesce(var.artifact_bucket_name, "${var.prefix}${var.project_id}-englab-mlflow")
  secret_resource_id = "projects/${var.project_id}/secrets/${google_secret_manager_secret.db_password.secret_id}"
}
