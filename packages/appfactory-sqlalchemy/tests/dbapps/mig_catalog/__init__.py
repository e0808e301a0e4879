"""Test package: a catalog of products (table ``mig_product``)."""
