from appfactory.sqlalchemy import db


class User(db.Model):
    __tablename__ = "mig_user"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80), nullable=False)
    email = db.Column(db.String(200))
