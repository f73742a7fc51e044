// The optimizer state in a safetensors file (names, shapes and metadata: OptimizerState.swift
// and docs/loft.md). Float32 values are stored as they are, so a restored run continues bit
// for bit.

import TensorIO

extension Optimizer {
    /// Writes the state (and, by default, the trained parameters) to `path`, atomically.
    public func saveState(to path: String, includeParameters: Bool = true) throws {
        let (metadata, tensors) = stateTensors(includeParameters: includeParameters)
        try SafetensorsWriter.write(to: path, tensors: tensors, metadata: metadata)
    }

    /// Restores the state written by `saveState` into this optimizer (same parameter names,
    /// kinds, shapes and method). Parameters stored in the file are restored too.
    public func loadState(from path: String) throws {
        let reader = try SafetensorsReader(path: path)
        try restoreState(metadata: reader.metadata, tensor: { name in
            reader.info(for: name) == nil ? nil : try reader.data(for: name)
        }, path: path)
    }
}
