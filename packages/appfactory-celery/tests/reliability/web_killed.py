"""A web process of ``wdb`` that dies (SIGKILL) right after a commit: ``python web_killed.py N``.

It commits ``N`` transactions, each writing an item and sending ``look`` about
it on commit, and prints each task id once its commit returned. The last
commit is followed at once by SIGKILL, from a listener of SQLAlchemy's
``after_commit`` (registered before the send's own), so the process dies
after the data is committed and before anything else happens: without the
outbox, before the task is sent; with it, before any relay. Settings come
from the ``WDB_*`` environment variables.
"""

import os
import signal
import sys

from sqlalchemy import event
from sqlalchemy.orm import Session
from wdb.app import create_app
from wdb.database import db
from wdb.models import Item
from wdb.tasks import look

from appfactory.celery import celeryfactory

armed: list[bool] = []


@event.listens_for(Session, "after_commit")
def die_after_commit(session: Session) -> None:
    if armed:
        os.kill(os.getpid(), signal.SIGKILL)


def main(count: int) -> None:
    app = create_app()
    celeryfactory(app)
    with app.app_context():
        for number in range(count):
            item = Item(name=f"killed-web-{number}")
            db.session.add(item)
            db.session.flush()
            task_id = look.delay_on_commit(item.id)
            print(f"{item.id} {task_id}", flush=True)
            if number == count - 1:
                armed.append(True)
            db.session.commit()


if __name__ == "__main__":
    main(int(sys.argv[1]))
