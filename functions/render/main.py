"""render: Pub/Sub (report_run.requested.v1) → render the run. Raise = retry, return = ack."""
import functions_framework

from reporting.bootstrap import services
from reporting.entrypoints.consumers import consume
from reporting.logs import configure

configure()


@functions_framework.cloud_event
def render(cloud_event):  # noqa: ANN001 - the framework's CloudEvent
    consume("render", cloud_event, services())
