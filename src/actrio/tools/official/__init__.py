"""The official tools: one implementation per capability of the catalog."""
