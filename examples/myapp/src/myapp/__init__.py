"""myapp: the example application of appfactory."""
