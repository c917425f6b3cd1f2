"""Running the API locally (`tally serve`): TLS certificates, the listening socket, slow-client bounds."""
