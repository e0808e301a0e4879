"""The orders' migrations need the accounts' user table."""

DEPENDS_ON = ["mig_accounts"]
