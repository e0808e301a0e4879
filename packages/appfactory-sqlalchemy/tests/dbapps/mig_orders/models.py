from appfactory.sqlalchemy import db


class Order(db.Model):
    __tablename__ = "mig_order"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("mig_user.id"), nullable=False)
