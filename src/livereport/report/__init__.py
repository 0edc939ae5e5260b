"""Reports: the catalogue of metrics, dimensions and widgets, and the queries that fill it."""
