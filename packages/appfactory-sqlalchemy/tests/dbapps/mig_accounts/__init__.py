"""Test package: user accounts (table ``mig_user``)."""
