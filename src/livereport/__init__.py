"""livereport: live 24-hour reports of messaging campaigns, on ClickHouse."""

__version__ = "0.1.0"
__all__ = ["__version__"]
