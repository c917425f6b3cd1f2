"""The invoice verifier's findings, read for finance, admins and the sites whose clouds they judge."""
