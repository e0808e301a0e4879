"""A second reusable package sharing a default with cfg_alpha."""
