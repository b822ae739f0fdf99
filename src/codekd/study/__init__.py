"""Studies: the experiment matrix as one YAML file, run locally or on Ray, stored in SQLite, reported."""
