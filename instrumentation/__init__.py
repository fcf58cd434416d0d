"""Auto-instrumentors for LLM SDKs (one subpackage per SDK); see the instrumentation issue."""
