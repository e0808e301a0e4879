"""mymodule: the sample reusable package of appfactory."""
