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
      # 3.7 brings the ephemeral random_password.
      version = ">= 3.7, < 4"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
  zone    = local.zone
}
