"""People: accounts, linked identities, scoped grants, sessions, personal access tokens, the audit log
and the one authorisation point every read goes through."""
