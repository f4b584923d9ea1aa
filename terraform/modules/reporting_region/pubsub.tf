# Topics and subscriptions, generated from wiring.json (`reporting events wiring`, the single
# wiring source in shared/reporting/events/wiring.py). No topic or subscription is written by hand:
# tests/terraform/test_structure.py refuses any google_pubsub_topic outside these for_each blocks.
#
# Consumers are Cloud Functions run by functions-framework as CloudEvent functions; a push
# subscription delivers the standard Pub/Sub push body, which functions-framework turns into the
# CloudEvent the entry point receives (the emulator tests push the same way). Pub/Sub in the same
# project counts as an internal caller, so the consumers keep ingress ALLOW_INTERNAL_ONLY.

locals {
  pubsub_agent_member = "serviceAccount:${google_project_service_identity.agent["pubsub.googleapis.com"].email}"
}

resource "google_pubsub_topic" "event" {
  for_each     = local.event_topics
  project      = var.project_id
  name         = each.value.topic
  kms_key_name = google_kms_crypto_key.pubsub.id
  labels       = local.labels

  message_storage_policy {
    allowed_persistence_regions = local.regions
    enforce_in_transit          = true
  }

  depends_on = [google_kms_crypto_key_iam_member.pubsub_agent]
}

resource "google_pubsub_topic" "dead_letter" {
  for_each     = local.dead_letter_topics
  project      = var.project_id
  name         = each.value.topic
  kms_key_name = google_kms_crypto_key.pubsub.id
  labels       = local.labels

  message_storage_policy {
    allowed_persistence_regions = local.regions
    enforce_in_transit          = true
  }

  depends_on = [google_kms_crypto_key_iam_member.pubsub_agent]
}

# Push subscriptions: one per (event type, consumer) in the wiring.
resource "google_pubsub_subscription" "push" {
  for_each                = local.subscriptions
  project                 = var.project_id
  name                    = each.value.name
  topic                   = google_pubsub_topic.event[each.value.topic].id
  ack_deadline_seconds    = each.value.ack_deadline_seconds
  enable_message_ordering = each.value.ordered
  labels                  = local.labels

  push_config {
    push_endpoint = google_cloudfunctions2_function.fn[each.value.consumer].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.sa["push_invoker"].email
    }
  }

  retry_policy {
    minimum_backoff = "${each.value.min_backoff_seconds}s"
    maximum_backoff = "${each.value.max_backoff_seconds}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value.consumer].id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  dynamic "expiration_policy" {
    # ttl "" = never expires (Pub/Sub deletes a subscription idle for 31 days by default).
    for_each = each.value.never_expires ? [1] : []
    content {
      ttl = ""
    }
  }

  lifecycle {
    precondition {
      condition     = google_pubsub_topic.dead_letter[each.value.consumer].name == each.value.dead_letter_topic
      error_message = "wiring.json names a dead-letter topic for ${each.value.name} that is not its consumer's."
    }
  }
}

# `.hold` pull subscriptions keep parked events for inspection and `reporting pubsub replay-dead-letters`.
resource "google_pubsub_subscription" "dead_letter_hold" {
  for_each                   = local.dead_letter_topics
  project                    = var.project_id
  name                       = each.value.hold_subscription
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  ack_deadline_seconds       = 60
  message_retention_duration = "${each.value.retention_days * 86400}s"
  retain_acked_messages      = false
  labels                     = local.labels

  dynamic "expiration_policy" {
    for_each = each.value.never_expires ? [1] : []
    content {
      ttl = ""
    }
  }
}

# ---- who publishes and subscribes (authoritative per topic and role) ----

# The identities whose use cases emit events (the outbox relay runs after commit in each of them);
# nobody else may publish on our event topics. Written out, not a for expression, so checkov reads it.
resource "google_pubsub_topic_iam_binding" "event_publishers" {
  for_each = google_pubsub_topic.event
  project  = var.project_id
  topic    = each.value.name
  role     = "roles/pubsub.publisher"
  members = [
    "serviceAccount:${google_service_account.sa["request"].email}",
    "serviceAccount:${google_service_account.sa["render"].email}",
    "serviceAccount:${google_service_account.sa["submit"].email}",
    "serviceAccount:${google_service_account.sa["outbox_sweeper"].email}",
    "serviceAccount:${google_service_account.sa["backfill"].email}",
    "serviceAccount:${google_service_account.sa["watchdog_submissions"].email}",
    "serviceAccount:${google_service_account.sa["watchdog_runs"].email}",
  ]
}

# A consumer parks poison events on its own dead-letter topic; the Pub/Sub service agent forwards
# events whose retries ran out (the subscription's dead-letter policy).
resource "google_pubsub_topic_iam_binding" "dead_letter_publishers" {
  for_each = google_pubsub_topic.dead_letter
  project  = var.project_id
  topic    = each.value.name
  role     = "roles/pubsub.publisher"
  members = [
    "serviceAccount:${google_service_account.sa[each.key].email}",
    local.pubsub_agent_member,
  ]
}

# The service agent must be able to acknowledge on the source subscription to dead-letter.
resource "google_pubsub_subscription_iam_member" "push_dead_letter_agent" {
  for_each     = google_pubsub_subscription.push
  project      = var.project_id
  subscription = each.value.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent_member
}

# Subscriptions to other services' topics (wiring.json external_topics): same delivery, retry and
# dead-letter policy as ours; the topic belongs to its owner and its id comes from var.external_topic_ids.
resource "google_pubsub_subscription" "external_push" {
  for_each             = local.external_subscriptions
  project              = var.project_id
  name                 = each.value.name
  topic                = var.external_topic_ids[each.value.topic]
  ack_deadline_seconds = each.value.ack_deadline_seconds
  labels               = local.labels

  push_config {
    push_endpoint = google_cloudfunctions2_function.fn[each.value.consumer].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.sa["push_invoker"].email
    }
  }

  retry_policy {
    minimum_backoff = "${each.value.min_backoff_seconds}s"
    maximum_backoff = "${each.value.max_backoff_seconds}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value.consumer].id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription_iam_member" "external_push_dead_letter_agent" {
  for_each     = google_pubsub_subscription.external_push
  project      = var.project_id
  subscription = each.value.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent_member
}
