"""The public HTTP API of the request function (`/api/v1/reports/...`, SPEC §6)."""
