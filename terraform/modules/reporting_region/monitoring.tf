# Alerting on what the service must never miss, from fields the app writes into its JSON log lines
# (shared/reporting/logs.py puts a record's `extra` fields at the top of jsonPayload):
#
#   missed cutoff   severity ERROR, jsonPayload.alert = "submission_cutoff_missed",
#                   jsonPayload.tenant_id, jsonPayload.adapter       (the submission watchdog / submit)
#   late run        jsonPayload.alert = "report_run_late", jsonPayload.tenant_id   (the runs watchdog)
#   per-tenant SLO  jsonPayload.metric = "reporting_slo", jsonPayload.tenant_id,
#                   jsonPayload.ratio = share of runs on time today (UTC), 0..1 (service_layer/slo.py)
#
# plus a budget on this project's BigQuery spend (plan §5: backfills capped to 90 days for BQ cost).

resource "google_logging_metric" "submission_cutoff_missed" {
  project     = var.project_id
  name        = "reporting/submission_cutoff_missed"
  description = "Regulatory submissions whose legal cutoff passed without an acceptance (must stay 0)."
  filter      = "severity>=ERROR AND jsonPayload.alert=\"submission_cutoff_missed\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "tenant_id"
      value_type  = "STRING"
      description = "Tenant whose submission missed its cutoff"
    }
    labels {
      key         = "adapter"
      value_type  = "STRING"
      description = "Regulatory adapter"
    }
  }

  label_extractors = {
    tenant_id = "EXTRACT(jsonPayload.tenant_id)"
    adapter   = "EXTRACT(jsonPayload.adapter)"
  }
}

resource "google_logging_metric" "report_run_late" {
  project     = var.project_id
  name        = "reporting/report_run_late"
  description = "Report runs not succeeded by their due time."
  filter      = "jsonPayload.alert=\"report_run_late\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "tenant_id"
      value_type  = "STRING"
      description = "Tenant of the late run"
    }
  }

  label_extractors = {
    tenant_id = "EXTRACT(jsonPayload.tenant_id)"
  }
}

resource "google_logging_metric" "report_run_slo" {
  project         = var.project_id
  name            = "reporting/report_run_slo"
  description     = "Per-tenant share of runs succeeded by their due time, as logged by the runs watchdog."
  filter          = "jsonPayload.metric=\"reporting_slo\" AND jsonPayload.ratio>=0"
  value_extractor = "EXTRACT(jsonPayload.ratio)"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "1"

    labels {
      key         = "tenant_id"
      value_type  = "STRING"
      description = "Tenant the share is for"
    }
  }

  label_extractors = {
    tenant_id = "EXTRACT(jsonPayload.tenant_id)"
  }

  bucket_options {
    linear_buckets {
      num_finite_buckets = 100
      width              = 0.01
      offset             = 0
    }
  }
}

resource "google_monitoring_alert_policy" "submission_cutoff_missed" {
  project               = var.project_id
  display_name          = "reporting ${var.residency}: regulatory submission missed its cutoff"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels

  conditions {
    display_name = "any missed cutoff"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.submission_cutoff_missed.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.tenant_id", "metric.label.adapter"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A regulatory submission passed its legal cutoff without an acceptance (phase-3 exit criterion: zero). Find the submission: `jsonPayload.alert=\"submission_cutoff_missed\"` in Logs Explorer; resubmitting is an explicit operator action (SPEC §3)."
  }
}

resource "google_monitoring_alert_policy" "report_run_late" {
  project               = var.project_id
  display_name          = "reporting ${var.residency}: report runs late"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels

  conditions {
    display_name = "a run missed its due time"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.report_run_late.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.tenant_id"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A report run was not succeeded by its due time (scheduled: 30 min after its time, ad hoc: 15 min after its request). Check the render function's errors and the dead-letter hold subscriptions."
  }
}

resource "google_monitoring_alert_policy" "report_run_slo" {
  project               = var.project_id
  display_name          = "reporting ${var.residency}: tenant below its run SLO"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "share of runs on time below ${var.slo_target}"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.report_run_slo.name}\""
      comparison      = "COMPARISON_LT"
      threshold_value = var.slo_target
      duration        = "0s"

      aggregations {
        alignment_period   = "3600s"
        per_series_aligner = "ALIGN_MEAN"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A tenant's share of runs succeeded by their due time fell below the SLO target (SPEC §3). The late-runs alert names the runs."
  }
}

# BigQuery (service 24E6-581D-38E5) spend of this project, where the report queries run and are billed.
resource "google_billing_budget" "warehouse" {
  billing_account = var.billing_account
  display_name    = "reporting ${var.residency} warehouse"

  budget_filter {
    projects        = ["projects/${data.google_project.this.number}"]
    services        = ["services/24E6-581D-38E5"]
    calendar_period = "MONTH"
  }

  amount {
    specified_amount {
      currency_code = var.warehouse_budget.currency_code
      units         = tostring(var.warehouse_budget.amount)
    }
  }

  threshold_rules {
    threshold_percent = 0.5
  }
  threshold_rules {
    threshold_percent = 0.9
  }
  threshold_rules {
    threshold_percent = 1.0
    spend_basis       = "FORECASTED_SPEND"
  }

  all_updates_rule {
    monitoring_notification_channels = var.notification_channels
    disable_default_iam_recipients   = false
  }
}
