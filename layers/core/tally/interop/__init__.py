"""Interoperability with other accounting systems' formats and transports."""
