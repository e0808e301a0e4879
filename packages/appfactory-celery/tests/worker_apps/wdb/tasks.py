"""Tasks that look for the row they were sent about, and write what they saw."""

from typing import Any

from celery import shared_task

from .database import db
from .models import Item, Seen


@shared_task(bind=True)
def look(self: Any, item_id: int) -> bool:
    """Whether item ``item_id`` exists, written down as a ``Seen`` row."""
    found = db.session.get(Item, item_id) is not None
    db.session.add(Seen(item_id=item_id, task_id=str(self.request.id), found=found))
    db.session.commit()
    return found


@shared_task(bind=True)
def add_and_look(self: Any, name: str) -> int:
    """Write an item, and send ``look`` about it on commit (a task that sends on commit)."""
    item = Item(name=name)
    db.session.add(item)
    db.session.flush()
    look.delay_on_commit(item.id)
    db.session.commit()
    return int(item.id)
