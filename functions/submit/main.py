"""submit: Pub/Sub → regulatory submission use cases (their handlers land with the submissions issue)."""
import functions_framework

from reporting.bootstrap import services
from reporting.entrypoints.consumers import consume
from reporting.logs import configure

configure()


@functions_framework.cloud_event
def submit(cloud_event):  # noqa: ANN001
    consume("submit", cloud_event, services())
