"""HTTP pieces shared by the adapters, the health page and (later) the status page."""
