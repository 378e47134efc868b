# Every API this root's resources call (the mapping is checked against the plan by
# tests/terraform/test_apis.py), plus the two the operator's SSH path needs: iap (TCP forwarding)
# and oslogin (enable-oslogin on every node). serviceusage answers google_project_service itself
# and is on in every new project; listing it keeps a project where it was turned off honest.
locals {
  apis = toset([
    "artifactregistry.googleapis.com",     # google_artifact_registry_*
    "cloudresourcemanager.googleapis.com", # google_project_iam_member
    "compute.googleapis.com",              # google_compute_*
    "iam.googleapis.com",                  # google_service_account
    "iap.googleapis.com",                  # SSH and the tracking UI through IAP TCP forwarding
    "oslogin.googleapis.com",              # enable-oslogin = TRUE on the nodes
    "secretmanager.googleapis.com",        # google_secret_manager_*
    "servicenetworking.googleapis.com",    # google_service_networking_connection
    "serviceusage.googleapis.com",         # google_project_service
    "sqladmin.googleapis.com",             # google_sql_*
    "storage.googleapis.com",              # google_storage_bucket*
  ])
}

resource "google_project_service" "apis" {
  for_each = var.enable_apis ? local.apis : toset([])

  service            = each.value
  disable_on_destroy = false
}

# An API just enabled answers "SERVICE_DISABLED" / 403 for a while (Google documents minutes):
# every resource that calls one depends on this wait, directly or through what it references
# (asserted from the plan). A new API in the set waits again; with enable_apis = false there is
# nothing to wait for.
resource "time_sleep" "apis" {
  count = var.enable_apis ? 1 : 0

  create_duration = "${var.api_propagation_seconds}s"
  triggers = {
    apis = join(",", sort(keys(google_project_service.apis)))
  }
}

resource "google_compute_network" "vpc" {
  name                    = "${var.prefix}englab-vpc"
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"

  depends_on = [time_sleep.apis]
}

resource "google_compute_subnetwork" "nodes" {
  name          = "${var.prefix}englab-subnet"
  network       = google_compute_network.vpc.id
  region        = var.region
  ip_cidr_range = var.subnet_cidr

  # Nodes have no external IP; Google APIs (GCS, Artifact Registry, Secret Manager) stay reachable.
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_5_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# Outbound internet (apt, PyPI) for nodes without external IPs.
resource "google_compute_router" "nat" {
  name    = "${var.prefix}englab-router"
  network = google_compute_network.vpc.id
  region  = var.region
}

resource "google_compute_router_nat" "nat" {
  name                               = "${var.prefix}englab-nat"
  router                             = google_compute_router.nat.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "LIST_OF_SUBNETWORKS"

  subnetwork {
    name                    = google_compute_subnetwork.nodes.id
    source_ip_ranges_to_nat = ["ALL_IP_RANGES"]
  }

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

resource "google_compute_firewall" "internal" {
  name        = "${var.prefix}englab-allow-internal"
  network     = google_compute_network.vpc.id
  description = "Traffic between the platform's nodes, inside the subnet only."
  direction   = "INGRESS"

  source_ranges = [var.subnet_cidr]
  target_tags   = [local.node_tag]

  allow {
    protocol = "tcp"
  }
  allow {
    protocol = "udp"
  }
  allow {
    protocol = "icmp"
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_firewall" "ssh" {
  name        = "${var.prefix}englab-allow-ssh"
  network     = google_compute_network.vpc.id
  description = "SSH through Identity-Aware Proxy TCP forwarding, plus optional admin networks."
  direction   = "INGRESS"

  source_ranges = distinct(concat([local.iap_range], var.admin_cidrs))
  target_tags   = [local.node_tag]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_firewall" "tracking_https" {
  name        = "${var.prefix}englab-allow-tracking-https"
  network     = google_compute_network.vpc.id
  description = "The MLflow tracking server (HTTPS) from the nodes and optional admin networks."
  direction   = "INGRESS"

  source_ranges = distinct(concat([var.subnet_cidr], var.admin_cidrs))
  target_tags   = ["${var.prefix}tracking-node"]

  allow {
    protocol = "tcp"
    ports    = [tostring(local.tracking_https)]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# The tracking UI from a workstation: `gcloud compute start-iap-tunnel tracking-node 443
# --local-host-port=localhost:8443`. IAP's forwarders connect from Google's range; IAP itself
# decides who may open the tunnel (roles/iap.tunnelResourceAccessor).
resource "google_compute_firewall" "tracking_https_iap" {
  name        = "${var.prefix}englab-allow-tracking-https-iap"
  network     = google_compute_network.vpc.id
  description = "The MLflow tracking server (HTTPS) through Identity-Aware Proxy TCP forwarding, tracking node only."
  direction   = "INGRESS"

  source_ranges = [local.iap_range]
  target_tags   = ["${var.prefix}tracking-node"]

  allow {
    protocol = "tcp"
    ports    = [tostring(local.tracking_https)]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_firewall" "serving" {
  count = length(var.serving_allowed_cidrs) > 0 ? 1 : 0

  name        = "${var.prefix}englab-allow-serving"
  network     = google_compute_network.vpc.id
  description = "The model servers' port, from the networks listed in serving_allowed_cidrs only."
  direction   = "INGRESS"

  source_ranges = var.serving_allowed_cidrs
  target_tags   = [local.serving_tag]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.serving_port)]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Private services access: Cloud SQL gets an address inside this VPC and no public IP.
resource "google_compute_global_address" "sql_peering" {
  name          = "${var.prefix}englab-sql-peering"
  network       = google_compute_network.vpc.id
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = var.sql_peering_prefix_length
  labels        = local.labels
}

resource "google_service_networking_connection" "sql" {
  network                 = google_compute_network.vpc.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.sql_peering.name]

  # Deleting the peering right after the Cloud SQL instance fails ("producer services still
  # using this connection") until Google has released the instance's resources, which can take a
  # while; abandoning it lets destroy complete, and the peering goes with the VPC, deleted next.
  deletion_policy = "ABANDON"
}
