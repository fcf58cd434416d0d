"""A local HTTP server that speaks the providers' wire formats, for the real SDKs to talk to in tests."""
