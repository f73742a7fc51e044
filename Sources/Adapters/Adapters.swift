// The Adapters layer (see docs/architecture in README).
