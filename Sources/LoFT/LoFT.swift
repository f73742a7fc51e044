// The LoFT layer (see docs/architecture in README).
