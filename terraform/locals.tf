locals {
  # The nodes' zone: the one given, else zone b of the region (europe-west1 has no zone a).
  zone = coalesce(var.zone, "${var.region}-b")

  # Labels on every resource that takes them; the user's labels first, ours cannot be overridden.
  labels = merge(var.labels, {
    managed-by = "terraform"
    platform   = "englab-mlops"
  })

  # The zones serving nodes are spread over, in order: serving_zones, else the nodes' zone first and
  # then the region's other zones that are up (read only when there is more than one serving node).
  # A region has at least three zones; node i goes to zone slot i % serving_zone_slots, which is known
  # at plan even when the zones' names are not yet (first apply: the Compute API is being enabled).
  serving_zone_slots = min(var.serving_node_count, length(var.serving_zones) > 0 ? length(var.serving_zones) : 3)
  # Zone slot 0 is known at plan whatever happens (the seed's serving node never moves); the others
  # may be known only once the Compute API answers.
  serving_first_zone = length(var.serving_zones) > 0 ? var.serving_zones[0] : local.zone
  serving_other_zones = (
    length(var.serving_zones) > 0 ? slice(var.serving_zones, 1, length(var.serving_zones)) :
    var.serving_node_count == 1 ? [] :
    [for z in sort(data.google_compute_zones.serving[0].names) : z if z != local.zone]
  )
  serving_slot_zone = [
    for slot in range(local.serving_zone_slots) :
    slot == 0 ? local.serving_first_zone : element(local.serving_other_zones, slot - 1)
  ]

  # The nodes of the seed, keyed by their seed name; the resource name adds var.prefix. Each has its
  # own service account (iam.tf).
  seed_nodes = {
    training-node = {
      group        = "training"
      machine_type = var.training_machine_type
      disk_size_gb = var.training_disk_size_gb
      gpu_count    = var.gpu_count
      # A2, A3 and G2 carry built-in GPUs: they cannot live-migrate either.
      gpus      = var.gpu_count > 0 || contains(["a2", "a3", "g2"], split("-", var.training_machine_type)[0])
      zone      = local.zone
      zone_slot = 0
      identity  = "training-node"
    }
    tracking-node = {
      group        = "tracking"
      machine_type = var.tracking_machine_type
      disk_size_gb = var.tracking_disk_size_gb
      gpu_count    = 0
      gpus         = false
      zone         = local.zone
      zone_slot    = 0
      identity     = "tracking-node"
    }
    serving-node = {
      group        = "serving"
      machine_type = var.serving_machine_type
      disk_size_gb = var.serving_disk_size_gb
      gpu_count    = 0
      gpus         = false
      zone         = local.serving_slot_zone[0]
      zone_slot    = 0
      identity     = "serving-node"
    }
  }

  # serving-node-2 ... serving-node-N (serving_node_count): serving-node's twins over the zone slots.
  # One role, one identity: they run as serving-node's service account.
  extra_serving_nodes = {
    for i in range(1, var.serving_node_count) : "serving-node-${i + 1}" => merge(local.seed_nodes["serving-node"], {
      zone      = local.serving_slot_zone[i % local.serving_zone_slots]
      zone_slot = i % local.serving_zone_slots
    })
  }
  serving_nodes = merge({ serving-node = local.seed_nodes["serving-node"] }, local.extra_serving_nodes)
  nodes         = merge(local.seed_nodes, local.extra_serving_nodes)

  node_tag           = "${var.prefix}englab-node"
  serving_tag        = "${var.prefix}englab-serving"
  iap_range          = "35.235.240.0/20" # IAP TCP forwarding: SSH to every node, tracking_port to tracking
  tracking_https     = var.tracking_port
  artifact_bucket    = coalesce(var.artifact_bucket_name, "${var.prefix}${var.project_id}-englab-mlflow")
  secret_resource_id = "projects/${var.project_id}/secrets/${google_secret_manager_secret.db_password.secret_id}"
}
