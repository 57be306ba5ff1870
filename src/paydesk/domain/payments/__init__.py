"""Payment attempts (prepays) and settling what WeChat reports about them."""
