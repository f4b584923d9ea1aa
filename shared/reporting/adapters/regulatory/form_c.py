"""IN Form C (FRRO) — SPEC §8. The FRRO portal has no public machine interface, so "filing" has two halves:

1. This adapter produces the Form C submission file for one foreign guest's arrival (the
   particulars the portal asks for, one CSV per subject, stored with the regulatory-in-formc
   retention class beside the run's artifacts) and answers "awaiting the operator": a
   transient outcome, so the submission stays open and watched.
2. The hotel's operator uploads it on the FRRO portal and confirms with the portal's
   reference (`POST /api/v1/reports/submissions/{id}:confirm`): that is the acceptance.
The cutoff (24 h after the arrival) still counts: an unconfirmed Form C is escalated as its
cutoff nears and becomes `missed_cutoff` after it, like any other submission.
"""
from __future__ import annotations

import csv
import io

from reporting.domain.errors import ArtifactExists
from reporting.service_layer.ports import ArtifactStore
from reporting.service_layer.regulatory import FilingRequest, FilingResult, RegulatoryAdapter

AWAITING = "AWAITING_OPERATOR_CONFIRMATION"
# The portal's particulars, as in_form_c's dataset names them (in this order in the file).
FIELDS = ("reservation_id", "confirmation_number", "family_name", "given_names", "gender", "date_of_birth",
          "nationality", "passport_number", "passport_place_of_issue", "passport_issue_date", "passport_expiry_date",
          "visa_number", "visa_type", "visa_place_of_issue", "visa_issue_date", "visa_expiry_date",
          "arrived_from_city", "arrived_from_country", "arrival_in_india_date", "arrived_at_hotel",
          "intended_stay_days", "intended_departure_date", "next_destination_city", "next_destination_country",
          "address_in_india", "permanent_address", "purpose_of_visit", "adults", "children", "room_number")


def form_c_file_name(tenant_id: str, submission_id: str) -> str:
    return f"tenants/{tenant_id}/submissions/{submission_id}/form-c.csv"


class FormCAdapter(RegulatoryAdapter):
    name = "in_form_c"

    def __init__(self, store: ArtifactStore) -> None:
        self._store = store

    def file(self, request: FilingRequest) -> FilingResult:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(FIELDS)
        for row in request.rows:
            writer.writerow([row.get(f) or "" for f in FIELDS])
        try:  # write-once: a later attempt finds the file it made before
            self._store.put_once(form_c_file_name(request.tenant_id, request.submission_id),
                                 ("\ufeff" + out.getvalue()).encode("utf-8"), "regulatory-in-formc")
        except ArtifactExists:
            pass
        return FilingResult.transient(AWAITING, "upload the Form C file on the FRRO portal, then confirm it")
