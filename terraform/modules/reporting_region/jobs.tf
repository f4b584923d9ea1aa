# One-shot Cloud Run jobs, all `reporting <args>` from var.jobs_image (built by CI from the `jobs`
# bundle), each with its own service account. They read CLOUD_RUN_TASK_INDEX / _COUNT to shard.

resource "google_cloud_run_v2_job" "job" {
  for_each            = local.jobs
  project             = var.project_id
  name                = "reporting-${replace(each.key, "_", "-")}"
  location            = var.region
  deletion_protection = var.deletion_protection
  labels              = local.labels

  template {
    task_count = each.value.task_count
    labels     = local.labels

    template {
      service_account       = google_service_account.sa[each.value.service_account].email
      timeout               = each.value.timeout
      max_retries           = each.value.max_retries
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"

      vpc_access {
        connector = google_vpc_access_connector.main.id
        egress    = "PRIVATE_RANGES_ONLY"
      }

      containers {
        image   = var.jobs_image
        command = ["reporting"]
        args    = each.value.args

        resources {
          limits = {
            cpu    = "1"
            memory = "1Gi"
          }
        }

        dynamic "env" {
          for_each = merge(
            local.common_env,
            { CLOUD_SQL_IAM_USER = local.sql_iam_user[each.value.service_account] },
            try(local.job_env[each.key], {}),
          )
          content {
            name  = env.key
            value = env.value
          }
        }
      }
    }
  }

  depends_on = [
    google_project_iam_member.sql_client,
    google_project_iam_member.sql_instance_user,
    google_sql_user.iam,
  ]
}
