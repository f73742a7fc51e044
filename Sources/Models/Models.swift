// The Models layer (see docs/architecture in README).
