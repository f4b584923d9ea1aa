# Inputs of one residency's reporting stack. Location-like inputs are required and have no
# default: where a residency's data lives is a recorded decision, never an accident of a default.

# ---- where ----

variable "project_id" {
  type        = string
  description = "The residency's own Google Cloud project (one project per residency: AF, IN and KSA never share one)."
}

variable "residency" {
  type        = string
  description = "The data-residency cohort this stack serves; the functions refuse tenants of any other residency (SPEC §4)."

  validation {
    condition     = contains(["AF", "IN", "KSA"], var.residency)
    error_message = "residency must be one of AF, IN, KSA."
  }
}

variable "region" {
  type        = string
  description = "Primary region: Cloud SQL, buckets, functions, jobs, scheduler and keys live here. No default (see terraform/README.md, hosting regions)."

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region name such as me-central2."
  }
}

variable "secondary_region" {
  type        = string
  description = "Second region inside the same residency (IN: asia-south2), or null where the residency has one region. Holds Cloud SQL backups, the cross-region read replica, and is allowed for Pub/Sub and Secret Manager storage. No default: set it explicitly, to null if there is none."
  nullable    = true

  validation {
    condition     = var.secondary_region == null || (can(regex("^[a-z]+-[a-z]+[0-9]+$", var.secondary_region)) && var.secondary_region != var.region)
    error_message = "secondary_region must be null or a region other than region."
  }
}

variable "network" {
  type        = string
  description = "Id of the VPC network (projects/P/global/networks/N) that has private services access to Cloud SQL already established (platform-owned)."
}

variable "vpc_connector_cidr" {
  type        = string
  description = "Unused /28 range in the network for the Serverless VPC Access connector that carries functions and jobs to Cloud SQL's private IP."

  validation {
    condition     = can(cidrhost(var.vpc_connector_cidr, 0)) && endswith(var.vpc_connector_cidr, "/28")
    error_message = "vpc_connector_cidr must be a /28 CIDR range."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels added to every labelled resource (residency and service are always set)."
  default     = {}
}

variable "deletion_protection" {
  type        = bool
  description = "Protect Cloud SQL and the Cloud Run jobs from deletion (false only for throwaway stacks)."
  default     = true
}

# ---- code ----

variable "bundle_dir" {
  type        = string
  description = "Local directory holding the function bundles built by `make bundle` (request.zip, render.zip, submit.zip, region_changed.zip), e.g. ../../../build/bundles."
}

variable "jobs_image" {
  type        = string
  description = "Container image of the Cloud Run jobs, built by CI from the `jobs` bundle (entry point: the `reporting` CLI), pinned by digest."

  validation {
    condition     = can(regex("@sha256:[0-9a-f]{64}$", var.jobs_image))
    error_message = "jobs_image must be pinned by digest (…@sha256:<64 hex>), so a plan shows exactly what runs."
  }
}

variable "request_ingress" {
  type        = string
  description = "Ingress of the request (HTTP API) function: ALLOW_INTERNAL_AND_GCLB behind the platform's load balancer, ALLOW_ALL to expose its run.app URL."
  default     = "ALLOW_INTERNAL_AND_GCLB"

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_AND_GCLB"], var.request_ingress)
    error_message = "request_ingress must be ALLOW_ALL or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "function_max_instances" {
  type        = map(number)
  description = "Upper bound of instances per function (request, render, submit, region_changed); Cloud SQL connections scale with it."
  default     = { request = 20, render = 10, submit = 5, region_changed = 2 }

  validation {
    condition     = alltrue([for k in ["request", "render", "submit", "region_changed"] : contains(keys(var.function_max_instances), k)]) && alltrue([for v in values(var.function_max_instances) : v >= 1 && v <= 100])
    error_message = "function_max_instances needs request, render, submit and region_changed, each 1..100."
  }
}

# ---- application settings (shared/reporting/config.py) ----

variable "oidc_user_issuers" {
  type = list(object({
    issuer    = string
    jwks_uri  = string
    audiences = list(string)
  }))
  description = "Trusted issuers of user ID tokens (the platform's identity provider). The scheduler's Google issuer is added by the module."

  validation {
    condition     = alltrue([for i in var.oidc_user_issuers : startswith(i.jwks_uri, "https://") && length(i.audiences) > 0])
    error_message = "each issuer needs an https jwks_uri and at least one audience."
  }
}

variable "tenant_service_url" {
  type        = string
  description = "Base URL of tenant-service, owner of the feature.reporting_v1 flag (REPORTING_TENANT_SERVICE_URL)."

  validation {
    condition     = startswith(var.tenant_service_url, "https://")
    error_message = "tenant_service_url must be https."
  }
}

variable "rate_limit_per_minute" {
  type        = number
  description = "Write requests per tenant per minute (REPORTING_RATE_LIMIT_PER_MINUTE)."
  default     = 120

  validation {
    condition     = var.rate_limit_per_minute >= 1 && var.rate_limit_per_minute <= 100000
    error_message = "rate_limit_per_minute must be 1..100000."
  }
}

variable "max_runs_in_flight" {
  type        = number
  description = "Ad-hoc runs in flight per tenant (REPORTING_MAX_RUNS_IN_FLIGHT)."
  default     = 50

  validation {
    condition     = var.max_runs_in_flight >= 1 && var.max_runs_in_flight <= 100000
    error_message = "max_runs_in_flight must be 1..100000."
  }
}

variable "slo_target" {
  type        = number
  description = "Per-tenant SLO target: share of runs succeeded by their due time (REPORTING_SLO_TARGET, and the SLO alert's threshold)."
  default     = 0.99

  validation {
    condition     = var.slo_target > 0 && var.slo_target <= 1
    error_message = "slo_target must be in (0, 1]."
  }
}

variable "warehouse_project_id" {
  type        = string
  description = "Project of the residency's BigQuery warehouse that the datasets read."
}

variable "warehouse_dataset_id" {
  type        = string
  description = "Curated BigQuery dataset the report datasets read (REPORTING_BIGQUERY_DATASET = project.dataset)."
}

variable "max_bytes_billed" {
  type        = number
  description = "Bytes-billed cap of one warehouse query (REPORTING_MAX_BYTES_BILLED)."
  default     = 10737418240

  validation {
    condition     = var.max_bytes_billed > 0
    error_message = "max_bytes_billed must be positive."
  }
}

# ---- data ----

variable "operational_retention_days" {
  type        = number
  description = "Lifetime of objects under operational/ in the operational bucket (retention class `operational`, SPEC §7: 400 days, assumption)."
  default     = 400

  validation {
    condition     = var.operational_retention_days >= 1
    error_message = "operational_retention_days must be at least 1."
  }
}

variable "regulatory_retention_days" {
  type        = number
  description = "Bucket retention period of the regulatory bucket, in days: the residency's regulatory class (AF police 5 y, KSA VAT 6 y, IN Form C 3 y; assumptions, SPEC §7). No default: a legal figure."

  validation {
    condition     = var.regulatory_retention_days >= 365 && var.regulatory_retention_days <= 36500
    error_message = "regulatory_retention_days must be 365..36500."
  }
}

variable "regulatory_retention_locked" {
  type        = bool
  description = "Lock the regulatory bucket's retention policy. IRREVERSIBLE: the period can then never be shortened nor the bucket deleted before every object expires. false in dev."
}

variable "transfer_retention_days" {
  type        = number
  description = "Lifetime of residency-move exports in the transfer bucket."
  default     = 7

  validation {
    condition     = var.transfer_retention_days >= 1 && var.transfer_retention_days <= 30
    error_message = "transfer_retention_days must be 1..30."
  }
}

variable "inbound_transfer_writers" {
  type        = list(string)
  description = "Service-account e-mails of the other residencies' residency-export jobs, allowed to write a moving tenant's export into this residency's transfer bucket."
  default     = []

  validation {
    condition     = alltrue([for e in var.inbound_transfer_writers : endswith(e, ".iam.gserviceaccount.com")])
    error_message = "inbound_transfer_writers takes service-account e-mails."
  }
}

variable "adapter_secrets" {
  type        = list(string)
  description = "Secret Manager secret ids (containers only) of the regulatory adapters switched on in this residency, e.g. af-police-credentials, zatca-signing-keys, zatca-csid, formc-credentials."

  validation {
    condition     = alltrue([for s in var.adapter_secrets : can(regex("^[a-z][a-z0-9-]{2,62}$", s))])
    error_message = "adapter secret ids are lower-case letters, digits and dashes."
  }
}

variable "per_property_secret_prefixes" {
  type        = list(string)
  description = "Prefixes of secret ids created out of band for each property (KSA: zatca-, for zatca-<property>-private-key, -csid and -api-secret). The submit function may read exactly the secrets whose names start with one, through an IAM condition."
  default     = []

  validation {
    condition     = alltrue([for s in var.per_property_secret_prefixes : can(regex("^[a-z][a-z0-9-]{2,30}-$", s))])
    error_message = "a prefix is lower-case letters, digits and dashes, ending in a dash (e.g. zatca-)."
  }
}

variable "zatca_endpoint" {
  type        = string
  description = "ZATCA's e-invoicing API base for the submit function (KSA only; null elsewhere): the simulation or production gateway, see docs/regulatory/zatca.md."
  default     = null

  validation {
    condition     = var.zatca_endpoint == null || startswith(coalesce(var.zatca_endpoint, "https://"), "https://")
    error_message = "the ZATCA endpoint is https."
  }
}

# ---- Cloud SQL ----

variable "sql_tier" {
  type        = string
  description = "Cloud SQL machine tier (Enterprise edition)."
  default     = "db-custom-2-7680"
}

variable "sql_disk_size_gb" {
  type        = number
  description = "Initial SSD size; the disk grows automatically."
  default     = 50
}

variable "sql_maintenance_window" {
  type = object({
    day  = number
    hour = number
  })
  description = "Weekly maintenance window, UTC (day 1 = Monday … 7 = Sunday). The default, Sunday 22:00 UTC, is night in Kabul, Riyadh and India and far from the 10:00 Kabul police cutoff."
  default     = { day = 7, hour = 22 }

  validation {
    condition     = var.sql_maintenance_window.day >= 1 && var.sql_maintenance_window.day <= 7 && var.sql_maintenance_window.hour >= 0 && var.sql_maintenance_window.hour <= 23
    error_message = "day must be 1..7 and hour 0..23."
  }
}

variable "sql_backup_start_time" {
  type        = string
  description = "Start of the daily backup window, HH:MM UTC."
  default     = "21:00"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.sql_backup_start_time))
    error_message = "sql_backup_start_time is HH:MM."
  }
}

variable "sql_retained_backups" {
  type        = number
  description = "Number of daily backups kept."
  default     = 30
}

# ---- keys ----

variable "kms_rotation_period" {
  type        = string
  description = "Rotation period of every CMEK key, in seconds with an s suffix (at most 90 days)."
  default     = "7776000s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.kms_rotation_period)) && tonumber(trimsuffix(var.kms_rotation_period, "s")) <= 7776000 && tonumber(trimsuffix(var.kms_rotation_period, "s")) >= 86400
    error_message = "kms_rotation_period must be between 86400s (1 day) and 7776000s (90 days)."
  }
}

variable "kms_protection_level" {
  type        = string
  description = "SOFTWARE or HSM for every key (HSM where the region offers Cloud HSM and the residency requires it)."
  default     = "SOFTWARE"

  validation {
    condition     = contains(["SOFTWARE", "HSM"], var.kms_protection_level)
    error_message = "kms_protection_level must be SOFTWARE or HSM."
  }
}

# ---- CI ----

variable "ci_oidc_issuer" {
  type        = string
  description = "OIDC issuer of the CI system that deploys this stack."
  default     = "https://token.actions.githubusercontent.com"
}

variable "ci_repository" {
  type        = string
  description = "owner/name of the repository whose workflows may deploy (attribute.repository)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.ci_repository))
    error_message = "ci_repository is owner/name."
  }
}

variable "ci_environment" {
  type        = string
  description = "The CI deployment environment (a protected GitHub environment, one per residency) whose jobs may deploy: tokens must carry sub = repo:<ci_repository>:environment:<ci_environment>."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+$", var.ci_environment))
    error_message = "ci_environment is one environment name, without wildcards."
  }
}

# ---- alerting and cost ----

variable "notification_channels" {
  type        = list(string)
  description = "Monitoring notification channel ids (projects/P/notificationChannels/N) paged by the alerts and the budget (at most 5)."

  validation {
    condition     = length(var.notification_channels) >= 1 && length(var.notification_channels) <= 5
    error_message = "give 1..5 notification channels: an alert nobody receives is no alert."
  }
}

variable "billing_account" {
  type        = string
  description = "Billing account id (XXXXXX-XXXXXX-XXXXXX) that carries the warehouse budget."
}

variable "warehouse_budget" {
  type = object({
    amount        = number
    currency_code = string
  })
  description = "Monthly BigQuery spend of this project that the budget alert watches (plan §5: BQ cost)."
}

variable "external_topic_ids" {
  type        = map(string)
  description = "Full ids (projects/P/topics/T) of other services' topics this stack subscribes to, keyed by the topic name wiring.json's external_topics gives (today tenant-service.tenant.region_changed.v1)."

  validation {
    condition     = alltrue([for id in values(var.external_topic_ids) : can(regex("^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/[A-Za-z][A-Za-z0-9._~+%-]{2,254}$", id))])
    error_message = "Each external topic id must be projects/<project>/topics/<topic>."
  }
}
