"""One module per source: each turns lines into record dicts that match the server's contract."""
