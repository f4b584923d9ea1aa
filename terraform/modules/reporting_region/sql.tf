# Cloud SQL for PostgreSQL 15: regional HA (automatic zonal failover), private IP only, daily backups
# with point-in-time recovery kept inside the residency, IAM database authentication, CMEK.
#
# Database roles (SPEC §4) are not Terraform's: the one-time bootstrap in terraform/README.md creates
# reporting_owner and reporting_app (NOLOGIN, NOBYPASSRLS); Terraform creates one IAM database user
# per runtime service account; the migrate job (its IAM user is a member of reporting_owner) grants
# reporting_app to the others.

resource "google_sql_database_instance" "main" {
  # checkov:skip=CKV_GCP_79: Postgres 15 is the floor the service is built and tested on (SPEC §2); upgrading the major version is its own change
  # checkov:skip=CKV2_GCP_13: log_duration logs every statement; Query Insights (insights_config) keeps latency per query shape without that volume
  project             = var.project_id
  name                = "reporting-${local.slug}"
  region              = var.region
  database_version    = "POSTGRES_15"
  encryption_key_name = google_kms_crypto_key.sql[var.region].id
  deletion_protection = var.deletion_protection

  settings {
    tier                        = var.sql_tier
    edition                     = "ENTERPRISE"
    availability_type           = "REGIONAL"
    disk_type                   = "PD_SSD"
    disk_size                   = var.sql_disk_size_gb
    disk_autoresize             = true
    deletion_protection_enabled = var.deletion_protection
    user_labels                 = local.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network
      # The Cloud SQL Python Connector presents a client certificate on every connection.
      ssl_mode = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = var.sql_backup_start_time
      # Backups stay in the residency: in its second region where it has one, else in its only one
      # (left unset, Cloud SQL would pick the nearest multi-region, possibly outside the country).
      location                       = coalesce(var.secondary_region, var.region)
      transaction_log_retention_days = 7

      backup_retention_settings {
        retained_backups = var.sql_retained_backups
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = var.sql_maintenance_window.day
      hour         = var.sql_maintenance_window.hour
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = false
      record_client_address   = false
    }

    # Written out (not a dynamic block) so that checkov can read them: IAM database authentication,
    # pgAudit for DDL and role changes, and the connection / lock / temp-file logging of the CIS rules.
    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    database_flags {
      name  = "pgaudit.log"
      value = "ddl,role"
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
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.sql_agent]
}

# Cross-region read replica in the residency's second region (IN: asia-south2): promoted by hand
# when the primary region is lost (terraform/README.md, failover).
resource "google_sql_database_instance" "replica" {
  # checkov:skip=CKV_GCP_79: a replica runs its primary's major version (Postgres 15, SPEC §2)
  # checkov:skip=CKV2_GCP_13: log_duration logs every statement; Query Insights on the primary keeps latency per query shape
  # checkov:skip=CKV_GCP_14: a read replica cannot have its own backups; the primary's backups are stored in this replica's region.
  count                = var.secondary_region == null ? 0 : 1
  project              = var.project_id
  name                 = "reporting-${local.slug}-replica"
  region               = var.secondary_region
  database_version     = "POSTGRES_15"
  master_instance_name = google_sql_database_instance.main.name
  encryption_key_name  = google_kms_crypto_key.sql[var.secondary_region].id
  deletion_protection  = var.deletion_protection

  replica_configuration {
    failover_target = false
  }

  settings {
    tier                        = var.sql_tier
    edition                     = "ENTERPRISE"
    availability_type           = "ZONAL"
    disk_type                   = "PD_SSD"
    disk_size                   = var.sql_disk_size_gb
    disk_autoresize             = true
    deletion_protection_enabled = var.deletion_protection
    user_labels                 = local.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network
      ssl_mode        = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    }

    # Written out (not a dynamic block) so that checkov can read them: IAM database authentication,
    # pgAudit for DDL and role changes, and the connection / lock / temp-file logging of the CIS rules.
    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    database_flags {
      name  = "pgaudit.log"
      value = "ddl,role"
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
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.sql_agent]
}

resource "google_sql_database" "reporting" {
  project  = var.project_id
  name     = "reporting"
  instance = google_sql_database_instance.main.name
}

# One IAM database user per runtime identity; it logs in as <sa>@<project>.iam with no password.
resource "google_sql_user" "iam" {
  for_each = toset(local.sql_users)
  project  = var.project_id
  instance = google_sql_database_instance.main.name
  name     = local.sql_iam_user[each.key]
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}
