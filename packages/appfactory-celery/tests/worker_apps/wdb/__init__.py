"""A Flask-SQLAlchemy app for the tests of tasks sent on commit and of the outbox."""
