"""PostgreSQL fixtures (owned by the metrics/migrations work; placeholder until then)."""
