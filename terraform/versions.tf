terraform {
  # 1.11: write-only arguments (password_wo, secret_data_wo) and ephemeral input variables.
  required_version = ">= 1.11"

  required_providers {
    google = {
      source = "hashicorp/google"
      # password_wo / secret_data_wo exist in 6.x; 6.50.0 is the release this root is proven against.
      version = ">= 6.50, < 7"
    }
    random = {
      source = "hashicorp/random"
      # random_id (the Cloud SQL name suffix); 3.7.2 is the release this root is proven against.
      version = ">= 3.7, < 4"
    }
    time = {
      source = "hashicorp/time"
      # time_sleep (API propagation, network.tf); 0.13.1 is the release this root is proven against.
      version = ">= 0.13, < 1"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
  zone    = local.zone
}
