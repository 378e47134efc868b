resource "google_compute_instance" "node" {
  for_each = local.nodes

  #checkov:skip=CKV_GCP_40:No node has an external IP unless the operator lists it in external_ip_nodes (default empty, asserted by tests/terraform); checkov cannot evaluate the dynamic access_config.
  #checkov:skip=CKV_GCP_38:Boot disks use Google-managed encryption; customer-supplied keys (CSEK) would have to be handed to Terraform and stored in its state, which is the weakness this root removes. CMEK is a documented extension.
  name         = "${var.prefix}${each.key}"
  machine_type = each.value.machine_type
  zone         = each.value.zone
  description  = "englab ${each.value.group} node"

  labels = merge(local.labels, { role = each.value.group })
  # Serving nodes also carry the serving tag (their firewall rules, whatever their number).
  tags = concat([local.node_tag, "${var.prefix}${each.key}"], each.value.group == "serving" ? [local.serving_tag] : [])

  allow_stopping_for_update = true
  can_ip_forward            = false

  boot_disk {
    auto_delete = true

    initialize_params {
      image  = var.node_image
      size   = each.value.disk_size_gb
      type   = var.node_disk_type
      labels = merge(local.labels, { role = each.value.group })
    }
  }

  network_interface {
    subnetwork = google_compute_subnetwork.nodes.id

    # No external IP unless this node is listed in external_ip_nodes; egress goes through Cloud NAT.
    dynamic "access_config" {
      for_each = contains(var.external_ip_nodes, each.key) ? [1] : []
      content {
        network_tier = "PREMIUM"
      }
    }
  }

  metadata = {
    enable-oslogin         = "TRUE"
    block-project-ssh-keys = "TRUE"
    serial-port-enable     = "FALSE"
  }

  # Secure Boot only loads signed kernel modules; roles/training_node installs Debian's DKMS
  # nvidia-driver, built on the node and unsigned, so on a node with GPUs it is off unless
  # gpu_secure_boot says the operator signs the module (MOK) or installs a signed driver.
  # vTPM and integrity monitoring stay on for every node.
  shielded_instance_config {
    enable_secure_boot          = each.value.gpus ? var.gpu_secure_boot : true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  service_account {
    email = google_service_account.node[each.value.identity].email
    # Access is decided by this node's own service account's IAM grants (iam.tf), as Google recommends.
    scopes = ["cloud-platform"]
  }

  dynamic "guest_accelerator" {
    for_each = each.value.gpu_count > 0 ? [1] : []
    content {
      type  = var.gpu_type
      count = each.value.gpu_count
    }
  }

  scheduling {
    # GPUs cannot live-migrate: Compute Engine requires TERMINATE on host maintenance.
    on_host_maintenance = each.value.gpus ? "TERMINATE" : "MIGRATE"
    automatic_restart   = true
    preemptible         = false
  }

  depends_on = [google_compute_router_nat.nat]
}
