"""A site's API keys managed by people (site managers, admins), with the CLI's rules and an audit."""
