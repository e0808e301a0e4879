from appfactory.sqlalchemy import db


class Product(db.Model):
    __tablename__ = "mig_product"
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(200), nullable=False)
