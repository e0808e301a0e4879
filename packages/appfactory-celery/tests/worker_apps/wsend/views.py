"""``POST /send`` with ``{"count": N, "pause": seconds}`` sends N ``record`` tasks.

It answers the ids whose send returned (the broker accepted them) and, for
each send that raised, its error: the test counts as sent only what was
accepted, so a task is lost only if the broker took it and no worker ran it.
"""

import uuid
from typing import Any

from flask import Blueprint, request
from wledger.tasks import record

blueprint = Blueprint("wsend", __name__)


@blueprint.post("/send")
def send() -> dict[str, Any]:
    """Send the tasks asked for, one by one; report what was accepted."""
    body = request.get_json(force=True)
    accepted: list[str] = []
    failed: list[str] = []
    for _ in range(int(body["count"])):
        task_id = uuid.uuid4().hex
        try:
            record.apply_async((float(body.get("pause", 0.0)),), task_id=task_id)
        except Exception as exc:  # every failed send is reported
            failed.append(f"{type(exc).__name__}: {exc}")
        else:
            accepted.append(task_id)
    return {"accepted": accepted, "failed": failed}
