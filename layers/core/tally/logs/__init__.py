"""Raw accounting logs parsed by the server with the site agent's own parsers (`tally_agent`)."""
