"""request: the public HTTP API under /api/v1/reports (OIDC-authenticated; fails closed with no trusted issuer)."""
import functions_framework

from reporting.entrypoints.http import handle
from reporting.logs import configure

configure()


@functions_framework.http
def request(req):  # noqa: ANN001 - flask.Request
    return handle(req)
