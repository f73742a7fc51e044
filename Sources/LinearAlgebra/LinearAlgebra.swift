// The LinearAlgebra layer (see docs/architecture in README).
