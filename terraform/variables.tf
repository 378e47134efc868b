variable "admin_cidrs" {
  description = "Extra networks (CIDR) allowed to reach SSH and the tracking server's HTTPS, e.g. an office VPN. Empty: IAP and the nodes only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.admin_cidrs : try(cidrsubnet(cidr, 0, 0) == cidr, false)])
    error_message = "admin_cidrs: every entry must be an IPv4 network in CIDR notation with no host bits set, e.g. 203.0.113.0/24."
  }
  validation {
    condition     = alltrue([for cidr in var.admin_cidrs : !startswith(cidr, "0.0.0.0/")])
    error_message = "admin_cidrs: 0.0.0.0/0 (the whole internet) is refused; list your own networks, or use IAP."
  }
}

variable "api_propagation_seconds" {
  description = "Seconds to wait after enabling the APIs (enable_apis) before creating anything that calls them; Google's API enablement takes a while to reach every service."
  type        = number
  default     = 60

  validation {
    condition     = var.api_propagation_seconds >= 0 && var.api_propagation_seconds <= 900 && var.api_propagation_seconds == floor(var.api_propagation_seconds)
    error_message = "api_propagation_seconds: a whole number of seconds from 0 to 900."
  }
}

variable "artifact_bucket_name" {
  description = "Name of the GCS artifact bucket. Null: \"<prefix><project_id>-englab-mlflow\"."
  type        = string
  default     = null

  validation {
    condition     = var.artifact_bucket_name == null || can(regex("^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$", var.artifact_bucket_name))
    error_message = "artifact_bucket_name: 3-63 characters, lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit."
  }
}

variable "artifact_noncurrent_retention_days" {
  description = "Lifecycle rule: days an overwritten or deleted artifact version is kept before it is deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.artifact_noncurrent_retention_days >= 1 && var.artifact_noncurrent_retention_days == floor(var.artifact_noncurrent_retention_days)
    error_message = "artifact_noncurrent_retention_days: a whole number of days, at least 1."
  }
}

variable "db_availability_type" {
  description = "Cloud SQL availability: ZONAL, or REGIONAL for a standby in a second zone."
  type        = string
  default     = "ZONAL"

  validation {
    condition     = contains(["ZONAL", "REGIONAL"], var.db_availability_type)
    error_message = "db_availability_type: ZONAL or REGIONAL."
  }
}

variable "db_backup_start_time" {
  description = "Start of the daily backup window, HH:MM in UTC."
  type        = string
  default     = "02:00"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.db_backup_start_time))
    error_message = "db_backup_start_time: HH:MM, 24-hour clock, UTC."
  }
}

variable "db_disk_size_gb" {
  description = "Initial Cloud SQL disk size in GB (it grows automatically)."
  type        = number
  default     = 20

  validation {
    condition     = var.db_disk_size_gb >= 10 && var.db_disk_size_gb <= 65536
    error_message = "db_disk_size_gb: between 10 and 65536."
  }
}

variable "db_name" {
  description = "Name of the MLflow backend-store database."
  type        = string
  default     = "mlflow_db"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.db_name))
    error_message = "db_name: a PostgreSQL identifier, lowercase letters, digits and '_', at most 63 characters."
  }
}

variable "db_password" {
  description = "Password of db_user, written to Cloud SQL and to the Secret Manager secret (write-only arguments). Ephemeral: in no plan, state or output. Give the same value on every run of one db_password_version (the provision role keeps it on the controller); a new value takes effect only with a higher db_password_version."
  type        = string
  ephemeral   = true
  sensitive   = true
  nullable    = false

  validation {
    condition     = length(var.db_password) >= 16 && length(var.db_password) <= 128 && can(regex("^[A-Za-z0-9._~-]+$", var.db_password))
    error_message = "db_password: 16 to 128 characters of letters, digits and the URL-unreserved - _ . ~ (so the backend-store URI needs no escaping); the value given is not shown."
  }
}

variable "db_password_version" {
  description = "Version of db_password. Raise it, with a new db_password, to rotate: the new password is written to Cloud SQL and Secret Manager in the same run. The provision role sets it from provision_gcp_db_password_version."
  type        = number
  default     = 1

  validation {
    condition     = var.db_password_version >= 1 && var.db_password_version == floor(var.db_password_version)
    error_message = "db_password_version: a whole number, at least 1."
  }
}

variable "db_retained_backups" {
  description = "Number of automated daily backups Cloud SQL keeps."
  type        = number
  default     = 14

  validation {
    condition     = var.db_retained_backups >= 1 && var.db_retained_backups <= 365
    error_message = "db_retained_backups: between 1 and 365."
  }
}

variable "db_max_connections" {
  description = "PostgreSQL max_connections on Cloud SQL (the tier's default is 100 for db-custom-1-3840): a tracking server worker holds up to about 95 under a burst; 400 covers 4 workers, give 100 per worker beyond. The local target's database role sets the same (database_max_connections)."
  type        = number
  default     = 400

  validation {
    condition     = var.db_max_connections >= 20 && var.db_max_connections <= 10000 && var.db_max_connections == floor(var.db_max_connections)
    error_message = "db_max_connections: a whole number between 20 and 10000."
  }
}

variable "db_tier" {
  description = "Cloud SQL machine tier (Enterprise edition), e.g. db-custom-1-3840 or db-g1-small."
  type        = string
  default     = "db-custom-1-3840"

  validation {
    condition     = can(regex("^db-(f1-micro|g1-small|custom-[0-9]+-[0-9]+|n1-(standard|highmem)-[0-9]+)$", var.db_tier))
    error_message = "db_tier: a Cloud SQL Enterprise tier such as db-custom-2-7680, db-g1-small or db-n1-standard-2."
  }
}

variable "db_user" {
  description = "PostgreSQL user the tracking server connects as."
  type        = string
  default     = "mlflow"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.db_user)) && !startswith(var.db_user, "pg_") && var.db_user != "postgres"
    error_message = "db_user: a PostgreSQL role name (lowercase letters, digits, '_'), not postgres nor pg_*."
  }
}

variable "db_version" {
  description = "Cloud SQL PostgreSQL major version."
  type        = string
  default     = "POSTGRES_17"

  validation {
    condition     = can(regex("^POSTGRES_1[4-8]$", var.db_version))
    error_message = "db_version: POSTGRES_14 to POSTGRES_18."
  }
}

variable "deletion_protection" {
  description = "Protect the Cloud SQL instance from deletion (Terraform and API). Turn off only to tear a test platform down."
  type        = bool
  default     = true
}

variable "destroy_data" {
  description = "Let destroy delete the artifact bucket with every artifact in it (force_destroy). Needs deletion_protection = false, and must be applied before the destroy: Terraform destroys with the value in state."
  type        = bool
  default     = false

  validation {
    condition     = !var.destroy_data || !var.deletion_protection
    error_message = "destroy_data: true is refused while deletion_protection is true (given destroy_data = true, deletion_protection = true); set deletion_protection = false too."
  }
}

variable "enable_apis" {
  description = "Enable the Google Cloud APIs the platform needs (left enabled on destroy)."
  type        = bool
  default     = true
}

variable "external_ip_nodes" {
  description = "Nodes that get an ephemeral external IP (seed names: training-node, tracking-node, serving-node). Default none: SSH goes through IAP, egress through Cloud NAT."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for node in var.external_ip_nodes : contains(["training-node", "tracking-node", "serving-node"], node)])
    error_message = "external_ip_nodes: only training-node, tracking-node and serving-node."
  }
}

variable "gpu_count" {
  description = "GPUs attached to training-node (0: none)."
  type        = number
  default     = 0

  validation {
    condition     = contains([0, 1, 2, 4, 8], var.gpu_count)
    error_message = "gpu_count: 0, 1, 2, 4 or 8 (the counts Compute Engine accepts)."
  }

  # Only N1 takes attachable GPUs; A2, A3 and G2 come with theirs built in, every other family
  # (C2, C3, E2, N2, N2D, T2D, ...) takes none. Refused here rather than by the API mid-apply.
  validation {
    condition     = var.gpu_count == 0 || startswith(var.training_machine_type, "n1-")
    error_message = "gpu_count: attachable GPUs (gpu_count > 0) need an N1 training_machine_type (n1-...); A2, A3 and G2 types have built-in GPUs (use them with gpu_count = 0) and other families take none (given gpu_count = ${var.gpu_count}, training_machine_type = ${var.training_machine_type})."
  }

  validation {
    condition     = var.gpu_count == 0 || contains(["nvidia-tesla-t4", "nvidia-tesla-p4", "nvidia-tesla-p100", "nvidia-tesla-v100"], var.gpu_type)
    error_message = "gpu_type: with gpu_count > 0, one of nvidia-tesla-t4, nvidia-tesla-p4, nvidia-tesla-p100, nvidia-tesla-v100 (the GPUs N1 takes; L4, A100 and H100 come built into G2, A2 and A3 types) (given ${var.gpu_type})."
  }
}

variable "gpu_secure_boot" {
  description = "Keep Secure Boot on for a training-node with GPUs (gpu_count > 0, or an A2, A3 or G2 type). Default false: the training_node role installs Debian's DKMS nvidia-driver, an unsigned module Secure Boot refuses to load. Set true only with a signed driver or a module signed with an enrolled MOK. Nodes without GPUs always keep Secure Boot."
  type        = bool
  default     = false
}

variable "gpu_type" {
  description = "Accelerator type attached to training-node when gpu_count > 0: nvidia-tesla-t4, -p4, -p100 or -v100 (N1 only)."
  type        = string
  default     = "nvidia-tesla-t4"

  validation {
    condition     = can(regex("^nvidia-[a-z0-9-]+$", var.gpu_type))
    error_message = "gpu_type: a Compute Engine accelerator type such as nvidia-tesla-t4 or nvidia-l4."
  }
}

variable "labels" {
  description = "Labels merged into every resource that takes labels."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for key, value in var.labels :
      can(regex("^[a-z][a-z0-9_-]{0,62}$", key)) && can(regex("^[a-z0-9_-]{0,63}$", value))
    ])
    error_message = "labels: keys start with a lowercase letter; keys and values use lowercase letters, digits, '_' and '-', at most 63 characters."
  }
}

variable "node_disk_type" {
  description = "Boot disk type of the nodes."
  type        = string
  default     = "pd-balanced"

  validation {
    condition     = contains(["pd-standard", "pd-balanced", "pd-ssd", "hyperdisk-balanced"], var.node_disk_type)
    error_message = "node_disk_type: pd-standard, pd-balanced, pd-ssd or hyperdisk-balanced."
  }
}

variable "node_image" {
  description = "Boot image of the nodes (Debian 12)."
  type        = string
  default     = "debian-cloud/debian-12"

  validation {
    condition     = can(regex("debian-12", var.node_image))
    error_message = "node_image: the roles target Debian 12; use a debian-12 image or family."
  }
}

variable "os_login_user" {
  description = "OS Login POSIX user Ansible connects as (user_example_com for a user, sa_<client_id> for a service account), passed through to output ssh_user. The provision role sets it from mlops_ssh_user or, when that is empty, from the user it derives on the controller from the credentials in use. Default empty: this root needs no login user itself."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-z_][a-z0-9_.-]{0,31})?$", var.os_login_user))
    error_message = "os_login_user: a POSIX user name such as user_example_com or sa_123456789012345678901."
  }
}

variable "prefix" {
  description = "Prepended to every resource name (\"\" keeps the seed names). Use e.g. \"ci-\" for a second platform in the same project."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-z][a-z0-9-]{0,18})?$", var.prefix))
    error_message = "prefix: empty, or up to 19 characters of lowercase letters, digits and '-', starting with a letter."
  }
}

variable "project_id" {
  description = "Google Cloud project id."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id: 6-30 characters, lowercase letters, digits and '-', starting with a letter (the project id, not its name or number)."
  }
}

variable "region" {
  description = "Region of the subnet, Cloud SQL, the bucket and the repository."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region: a Google Cloud region such as europe-west1 or us-central1."
  }
}

variable "serving_allowed_cidrs" {
  description = "Networks (CIDR) allowed to call the model server's port. Empty: no firewall rule, reachable from the nodes only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.serving_allowed_cidrs : try(cidrsubnet(cidr, 0, 0) == cidr, false)])
    error_message = "serving_allowed_cidrs: every entry must be an IPv4 network in CIDR notation with no host bits set, e.g. 198.51.100.0/24."
  }
  validation {
    condition     = alltrue([for cidr in var.serving_allowed_cidrs : !startswith(cidr, "0.0.0.0/")])
    error_message = "serving_allowed_cidrs: 0.0.0.0/0 is refused; put a load balancer with authentication in front for public serving."
  }
}

variable "serving_disk_size_gb" {
  description = "Boot disk size of serving-node, GB."
  type        = number
  default     = 30

  validation {
    condition     = var.serving_disk_size_gb >= 10 && var.serving_disk_size_gb <= 65536
    error_message = "serving_disk_size_gb: between 10 and 65536."
  }
}

variable "serving_machine_type" {
  description = "Machine type of serving-node."
  type        = string
  default     = "e2-standard-2"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*-[a-z0-9]+(-[0-9]+g?(-[0-9]+)?)?$", var.serving_machine_type))
    error_message = "serving_machine_type: a Compute Engine machine type such as e2-standard-2 or n2-custom-4-8192."
  }
}

variable "tracking_port" {
  description = "Port of the tracking server's HTTPS proxy (nginx on the tracking node; mlops_tracking_port in the inventory contract)."
  type        = number
  default     = 443

  validation {
    condition     = var.tracking_port >= 1 && var.tracking_port <= 65535 && var.tracking_port == floor(var.tracking_port)
    error_message = "tracking_port: a TCP port, 1-65535."
  }
}

variable "serving_node_count" {
  description = "Number of serving nodes (serving-node, serving-node-2, ...), spread over the region's zones behind the serving load balancer."
  type        = number
  default     = 1

  validation {
    condition     = var.serving_node_count >= 1 && var.serving_node_count <= 20 && var.serving_node_count == floor(var.serving_node_count)
    error_message = "serving_node_count: a whole number of serving nodes, 1-20."
  }
}

variable "serving_zones" {
  description = "Zones of the serving nodes, used in turn. Empty: the nodes' zone, then the region's other zones that are up."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for z in var.serving_zones : startswith(z, "${var.region}-") && can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", z))])
    error_message = "serving_zones: zones of the chosen region, e.g. [\"europe-west1-b\", \"europe-west1-c\"]."
  }
  validation {
    condition     = length(distinct(var.serving_zones)) == length(var.serving_zones)
    error_message = "serving_zones: each zone once."
  }
}

variable "serving_external_enabled" {
  description = "Opt-in: an external HTTPS load balancer (Google-managed certificate for serving_external_domain) in front of the serving nodes, reachable only from serving_external_allowed_cidrs (Cloud Armor). Off: only the internal load balancer, for clients inside the VPC."
  type        = bool
  default     = false
}

variable "serving_external_domain" {
  description = "DNS name of the external HTTPS load balancer (its Google-managed certificate); point an A record at the serving_external_ip output. Required with serving_external_enabled."
  type        = string
  default     = ""

  validation {
    condition     = var.serving_external_domain == "" || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.serving_external_domain))
    error_message = "serving_external_domain: a DNS name such as models.example.com."
  }
  validation {
    condition     = !var.serving_external_enabled || var.serving_external_domain != ""
    error_message = "serving_external_domain: required when serving_external_enabled is true (the managed certificate's name)."
  }
}

variable "serving_external_allowed_cidrs" {
  description = "Networks (CIDR) the external HTTPS load balancer answers; every other source gets 403 from its Cloud Armor policy. Required with serving_external_enabled; 0.0.0.0/0 is refused."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.serving_external_allowed_cidrs : try(cidrsubnet(cidr, 0, 0) == cidr, false) && !startswith(cidr, "0.0.0.0/")])
    error_message = "serving_external_allowed_cidrs: IPv4 networks in CIDR notation with no host bits set, e.g. 198.51.100.0/24; 0.0.0.0/0 is refused."
  }
  validation {
    condition     = !var.serving_external_enabled || length(var.serving_external_allowed_cidrs) > 0
    error_message = "serving_external_allowed_cidrs: required when serving_external_enabled is true; the load balancer is never open to the whole internet."
  }
  validation {
    condition     = length(var.serving_external_allowed_cidrs) <= 10
    error_message = "serving_external_allowed_cidrs: at most 10 networks (one Cloud Armor rule)."
  }
}

variable "serving_port" {
  description = "Port of the serving node's model proxy (nginx; mlops_serving_port in the inventory contract), opened to serving_allowed_cidrs."
  type        = number
  default     = 8080

  validation {
    condition     = var.serving_port >= 1024 && var.serving_port <= 65535 && var.serving_port == floor(var.serving_port)
    error_message = "serving_port: an unprivileged port, 1024-65535."
  }
}

variable "sql_peering_prefix_length" {
  description = "Size of the range reserved for Cloud SQL private services access (prefix length)."
  type        = number
  default     = 20

  validation {
    condition     = var.sql_peering_prefix_length >= 16 && var.sql_peering_prefix_length <= 24
    error_message = "sql_peering_prefix_length: between 16 and 24."
  }
}

variable "subnet_cidr" {
  description = "Primary range of the nodes' subnet."
  type        = string
  default     = "10.10.0.0/24"

  validation {
    condition     = try(cidrsubnet(var.subnet_cidr, 0, 0) == var.subnet_cidr, false)
    error_message = "subnet_cidr: an IPv4 network in CIDR notation with no host bits set, e.g. 10.10.0.0/24."
  }
  validation {
    condition = try(anytrue([
      for private in ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] :
      cidrhost(private, 0) == cidrhost("${cidrhost(var.subnet_cidr, 0)}/${split("/", private)[1]}", 0)
      && tonumber(split("/", var.subnet_cidr)[1]) >= tonumber(split("/", private)[1])
    ]) && tonumber(split("/", var.subnet_cidr)[1]) <= 29, false)
    error_message = "subnet_cidr: must be a private (RFC 1918) range, /29 or larger."
  }
}

variable "tracking_disk_size_gb" {
  description = "Boot disk size of tracking-node, GB."
  type        = number
  default     = 20

  validation {
    condition     = var.tracking_disk_size_gb >= 10 && var.tracking_disk_size_gb <= 65536
    error_message = "tracking_disk_size_gb: between 10 and 65536."
  }
}

variable "tracking_machine_type" {
  description = "Machine type of tracking-node."
  type        = string
  default     = "e2-small"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*-[a-z0-9]+(-[0-9]+g?(-[0-9]+)?)?$", var.tracking_machine_type))
    error_message = "tracking_machine_type: a Compute Engine machine type such as e2-small or n2-standard-2."
  }
}

variable "training_disk_size_gb" {
  description = "Boot disk size of training-node, GB."
  type        = number
  default     = 100

  validation {
    condition     = var.training_disk_size_gb >= 10 && var.training_disk_size_gb <= 65536
    error_message = "training_disk_size_gb: between 10 and 65536."
  }
}

variable "training_machine_type" {
  description = "Machine type of training-node (c2-standard-8 as in the seed). Attached GPUs (gpu_count) need an N1 type; A2, A3 and G2 types come with built-in GPUs and need gpu_count = 0.."
  type        = string
  default     = "c2-standard-8"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*-[a-z0-9]+(-[0-9]+g?(-[0-9]+)?)?$", var.training_machine_type))
    error_message = "training_machine_type: a Compute Engine machine type such as c2-standard-8 or n1-standard-8."
  }
}

variable "zone" {
  description = "Zone of the nodes; must be in region. Null: \"<region>-b\" (every region has a zone b)."
  type        = string
  default     = null

  validation {
    condition     = var.zone == null ? true : can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", var.zone))
    error_message = "zone: a Google Cloud zone such as europe-west1-b."
  }
  validation {
    condition     = var.zone == null ? true : startswith(var.zone, "${var.region}-")
    error_message = "zone: must be a zone of the chosen region (e.g. europe-west1-b for europe-west1)."
  }
}
