# The serving nodes behind Google's load balancers. Each node's nginx answers the model on
# serving_port; GET /englab/health is 200 while the model served there answers, which is the health check.
#
#   internal (always): a passthrough Network Load Balancer on an internal address of the subnet, for
#     clients inside the VPC (the training node, the users' services): serving_lb_url.
#   external (serving_external_enabled): a global external Application Load Balancer with a
#     Google-managed certificate for serving_external_domain, HTTPS only, answering only
#     serving_external_allowed_cidrs (Cloud Armor); never open to the internet by default.

# Only read with more than one serving node and no serving_zones (locals.tf).
data "google_compute_zones" "serving" {
  count = var.serving_node_count > 1 && length(var.serving_zones) == 0 ? 1 : 0

  project = var.project_id
  region  = var.region
  status  = "UP"

  depends_on = [time_sleep.apis]
}

# One unmanaged instance group per zone slot, holding the serving nodes of that zone.
resource "google_compute_instance_group" "serving" {
  count = local.serving_zone_slots

  name        = "${var.prefix}englab-serving-${count.index + 1}"
  description = "englab serving nodes of zone slot ${count.index + 1}"
  zone        = local.serving_slot_zone[count.index]
  network     = google_compute_network.vpc.id
  instances = [
    for key, node in local.serving_nodes : google_compute_instance.node[key].self_link if node.zone_slot == count.index
  ]

  named_port {
    name = "http"
    port = var.serving_port
  }
}

resource "google_compute_health_check" "serving" {
  name                = "${var.prefix}englab-serving"
  description         = "A serving node is healthy while its model answers (GET /englab/health: the active version's /ping through its proxy)."
  check_interval_sec  = 5
  timeout_sec         = 3
  healthy_threshold   = 2
  unhealthy_threshold = 2

  http_health_check {
    port         = var.serving_port
    request_path = "/englab/health"
  }

  log_config {
    enable = true
  }

  depends_on = [time_sleep.apis]
}

resource "google_compute_region_backend_service" "serving_internal" {
  name                  = "${var.prefix}englab-serving-internal"
  description           = "The serving nodes, for the internal load balancer."
  region                = var.region
  protocol              = "TCP"
  load_balancing_scheme = "INTERNAL"
  health_checks         = [google_compute_health_check.serving.id]
  # A node taken out of the backends (lower serving_node_count) finishes its connections first.
  connection_draining_timeout_sec = 30

  dynamic "backend" {
    for_each = google_compute_instance_group.serving
    content {
      group          = backend.value.id
      balancing_mode = "CONNECTION"
    }
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

resource "google_compute_forwarding_rule" "serving_internal" {
  name                  = "${var.prefix}englab-serving-internal"
  description           = "The serving load balancer's internal address (serving_lb_url)."
  region                = var.region
  load_balancing_scheme = "INTERNAL"
  ip_protocol           = "TCP"
  ports                 = [tostring(var.serving_port)]
  network               = google_compute_network.vpc.id
  subnetwork            = google_compute_subnetwork.nodes.id
  backend_service       = google_compute_region_backend_service.serving_internal.id
  labels                = local.labels
}

# Google's health checkers, and the external load balancer's proxies, connect from these ranges:
# the serving port only, serving nodes only.
resource "google_compute_firewall" "serving_health_checks" {
  name        = "${var.prefix}englab-allow-serving-health-checks"
  network     = google_compute_network.vpc.id
  description = "Google's health checks and load balancer proxies to the serving port of the serving nodes."
  direction   = "INGRESS"

  source_ranges = ["35.191.0.0/16", "130.211.0.0/22"]
  target_tags   = [local.serving_tag]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.serving_port)]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# ---- external HTTPS load balancer (opt-in) ----

resource "google_compute_security_policy" "serving_external" {
  count = var.serving_external_enabled ? 1 : 0

  name        = "${var.prefix}englab-serving-external"
  description = "Only serving_external_allowed_cidrs reach the external serving load balancer."

  rule {
    action      = "allow"
    priority    = 1000
    description = "serving_external_allowed_cidrs"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = var.serving_external_allowed_cidrs
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 2147483647
    description = "Everything else."
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }

  depends_on = [time_sleep.apis]
}

resource "google_compute_backend_service" "serving_external" {
  count = var.serving_external_enabled ? 1 : 0

  name                            = "${var.prefix}englab-serving-external"
  description                     = "The serving nodes, for the external HTTPS load balancer."
  protocol                        = "HTTP"
  port_name                       = "http"
  load_balancing_scheme           = "EXTERNAL_MANAGED"
  timeout_sec                     = 60
  health_checks                   = [google_compute_health_check.serving.id]
  security_policy                 = google_compute_security_policy.serving_external[0].id
  connection_draining_timeout_sec = 30

  dynamic "backend" {
    for_each = google_compute_instance_group.serving
    content {
      group           = backend.value.id
      balancing_mode  = "UTILIZATION"
      capacity_scaler = 1.0
    }
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

resource "google_compute_url_map" "serving_external" {
  count = var.serving_external_enabled ? 1 : 0

  name            = "${var.prefix}englab-serving-external"
  default_service = google_compute_backend_service.serving_external[0].id
}

resource "google_compute_managed_ssl_certificate" "serving_external" {
  count = var.serving_external_enabled ? 1 : 0

  name = "${var.prefix}englab-serving-external"

  managed {
    domains = [var.serving_external_domain]
  }

  depends_on = [time_sleep.apis]
}

resource "google_compute_ssl_policy" "serving_external" {
  count = var.serving_external_enabled ? 1 : 0

  name            = "${var.prefix}englab-serving-external"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"

  depends_on = [time_sleep.apis]
}

resource "google_compute_target_https_proxy" "serving_external" {
  count = var.serving_external_enabled ? 1 : 0

  name             = "${var.prefix}englab-serving-external"
  url_map          = google_compute_url_map.serving_external[0].id
  ssl_certificates = [google_compute_managed_ssl_certificate.serving_external[0].id]
  ssl_policy       = google_compute_ssl_policy.serving_external[0].id
}

resource "google_compute_global_address" "serving_external" {
  count = var.serving_external_enabled ? 1 : 0

  name        = "${var.prefix}englab-serving-external"
  description = "The external serving load balancer's address: point serving_external_domain at it."

  depends_on = [time_sleep.apis]
}

# HTTPS only: no port 80 forwarding rule, so nothing is served in clear text.
resource "google_compute_global_forwarding_rule" "serving_external" {
  count = var.serving_external_enabled ? 1 : 0

  name                  = "${var.prefix}englab-serving-external"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_protocol           = "TCP"
  port_range            = "443"
  ip_address            = google_compute_global_address.serving_external[0].id
  target                = google_compute_target_https_proxy.serving_external[0].id
  labels                = local.labels
}
