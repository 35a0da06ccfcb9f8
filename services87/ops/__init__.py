"""Operations endpoints: health checks and Prometheus metrics."""
