"""services87: one customer-service statistics engine behind SuperOffice and Genesys wire contracts."""

__version__ = "0.1.0"
