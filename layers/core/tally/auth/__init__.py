"""Who is asking: how people prove who they are (single sign-on, sessions, tokens)."""
