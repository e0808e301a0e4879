"""Test package: orders, whose table points at ``mig_accounts``'s users."""
