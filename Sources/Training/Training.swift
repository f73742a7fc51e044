// The Training layer (see docs/architecture in README).
