// The optimizer's state as named tensors (and back), so training resumes bit for bit.
// Written to a safetensors file by OptimizerStateFile.swift; the names, shapes and metadata
// are documented in docs/loft.md.
//
// Tensors (float32 unless noted), for a parameter registered as NAME:
//   dense        state/NAME.exp_avg, state/NAME.exp_avg_sq   (parameter's shape), state/NAME.step (I64, [])
//   LoRA pair    the same under state/NAME.A.* and state/NAME.B.*
//   LoFT pair    state/NAME.A.exp_avg [r, n], state/NAME.A.second_moment [r(r+1)/2, n]
//                (packed upper triangles, one column per column of A), state/NAME.A.basis [m, r]
//                (B at A's last step), state/NAME.A.step; state/NAME.B.exp_avg [m, r],
//                state/NAME.B.second_moment [m, r(r+1)/2], state/NAME.B.basis [r, n],
//                state/NAME.B.step. Second-moment calibration off: NAME.X.exp_avg_sq
//                (factor's shape) instead of second_moment.
//   parameters   param/NAME, or param/NAME.A and param/NAME.B (optional, on by default)
// Metadata: format = loft-optimizer-state, version = 1, method, step, hyperparameters.

import Compute
import TensorIO

extension Optimizer {
    public static let stateFormat = "loft-optimizer-state"

    /// Metadata and tensors describing the full state, in registration order.
    public func stateTensors(includeParameters: Bool = true) -> (metadata: [(key: String, value: String)], tensors: [TensorData]) {
        var tensors: [TensorData] = []
        func add(_ name: String, _ matrix: Matrix) { tensors.append(tensorData(name, matrix)) }
        func addStep(_ name: String, _ step: Int) { tensors.append(stepTensor(name, step)) }
        func addAdam(_ prefix: String, _ state: DenseAdamWState) {
            add(prefix + ".exp_avg", state.firstMoment)
            add(prefix + ".exp_avg_sq", state.secondMoment)
            addStep(prefix + ".step", state.step)
        }
        func addLoFT(_ prefix: String, _ state: LoFTFactorState, packed: Bool) {
            add(prefix + ".exp_avg", state.momentum)
            add(prefix + (packed ? ".second_moment" : ".exp_avg_sq"), state.secondMoment)
            if let basis = state.basis { add(prefix + ".basis", basis) }
            addStep(prefix + ".step", state.step)
        }
        for (name, entry) in entries {
            switch entry {
            case let .dense(parameter, state):
                addAdam("state/" + name, state)
                if includeParameters { add("param/" + name, parameter) }
            case let .lora(pair, stateA, stateB):
                addAdam("state/\(name).A", stateA)
                addAdam("state/\(name).B", stateB)
                if includeParameters { add("param/\(name).A", pair.a); add("param/\(name).B", pair.b) }
            case let .loft(state):
                let packed = state.options.secondMomentCalibration
                addLoFT("state/\(name).A", state.stateA, packed: packed)
                addLoFT("state/\(name).B", state.stateB, packed: packed)
                if includeParameters { add("param/\(name).A", state.pair.a); add("param/\(name).B", state.pair.b) }
            }
        }
        let h = hyperparameters
        let metadata: [(key: String, value: String)] = [
            ("format", Self.stateFormat),
            ("version", "1"),
            ("method", methodName),
            ("step", String(stepCount)),
            ("hyperparameters", "beta1=\(h.beta1),beta2=\(h.beta2),eps=\(h.eps),weight_decay=\(h.weightDecay)"),
        ]
        return (metadata, tensors)
    }

    /// "lora-adamw", or "loft" followed by the switches that are off.
    public var methodName: String {
        switch method {
        case .loraAdamW: return "lora-adamw"
        case let .loft(o):
            var name = "loft"
            if !o.alternatingUpdates { name += "-no-alternate" }
            if !o.gradientScaling { name += "-no-scaling" }
            if !o.momentumCalibration { name += "-no-momentum-calibration" }
            if !o.secondMomentCalibration { name += "-no-second-moment-calibration" }
            if !o.rebalancing { name += "-no-rebalancing" }
            return name
        }
    }

    /// Restores the state written by `stateTensors` into this optimizer, whose parameters
    /// must be registered with the same names, kinds and shapes. Parameters are restored too
    /// when the tensors hold them. `path` names the source in errors.
    public func restoreState(metadata: [(key: String, value: String)], tensor: (String) throws -> TensorData?, path: String) throws {
        func value(_ key: String) -> String? { metadata.first { $0.key == key }?.value }
        guard value("format") == Self.stateFormat else {
            throw OptimizerError.invalidState(path: path, tensor: "", problem: "metadata 'format' is not \(Self.stateFormat)")
        }
        guard value("method") == methodName else {
            throw OptimizerError.invalidState(path: path, tensor: "", problem: "saved by method '\(value("method") ?? "?")', this optimizer is '\(methodName)'")
        }
        guard let step = value("step").flatMap({ Int($0) }), step >= 0 else {
            throw OptimizerError.invalidState(path: path, tensor: "", problem: "metadata 'step' is missing or not an integer")
        }

        func load(_ name: String, into matrix: Matrix, required: Bool = true) throws -> Bool {
            guard let data = try tensor(name) else {
                if required { throw OptimizerError.invalidState(path: path, tensor: name, problem: "missing") }
                return false
            }
            guard data.info.dtype == .F32, data.info.shape == matrix.shape else {
                throw OptimizerError.invalidState(path: path, tensor: name,
                    problem: "is \(data.info.dtype) \(data.info.shape), expected F32 \(matrix.shape)")
            }
            data.withElements(as: Float.self) { source in _ = matrix.storage.update(fromContentsOf: source) }
            return true
        }
        func loadStep(_ name: String) throws -> Int {
            guard let data = try tensor(name) else { throw OptimizerError.invalidState(path: path, tensor: name, problem: "missing") }
            guard data.info.dtype == .I64, data.info.elementCount == 1 else {
                throw OptimizerError.invalidState(path: path, tensor: name, problem: "is \(data.info.dtype) \(data.info.shape), expected I64 []")
            }
            return data.withElements(as: Int64.self) { Int($0[0]) }
        }
        func loadAdam(_ prefix: String, _ state: DenseAdamWState) throws {
            _ = try load(prefix + ".exp_avg", into: state.firstMoment)
            _ = try load(prefix + ".exp_avg_sq", into: state.secondMoment)
            state.step = try loadStep(prefix + ".step")
        }
        func loadLoFT(_ prefix: String, _ state: LoFTFactorState, packed: Bool, basisShape: (Int, Int)) throws {
            _ = try load(prefix + ".exp_avg", into: state.momentum)
            _ = try load(prefix + (packed ? ".second_moment" : ".exp_avg_sq"), into: state.secondMoment)
            let basis = Matrix(rows: basisShape.0, columns: basisShape.1)
            state.basis = try load(prefix + ".basis", into: basis, required: false) ? basis : nil
            state.step = try loadStep(prefix + ".step")
        }
        func loadParameter(_ name: String, _ matrix: Matrix) throws { _ = try load(name, into: matrix, required: false) }

        for (name, entry) in entries {
            switch entry {
            case let .dense(parameter, state):
                try loadAdam("state/" + name, state)
                try loadParameter("param/" + name, parameter)
            case let .lora(pair, stateA, stateB):
                try loadAdam("state/\(name).A", stateA)
                try loadAdam("state/\(name).B", stateB)
                try loadParameter("param/\(name).A", pair.a)
                try loadParameter("param/\(name).B", pair.b)
            case let .loft(state):
                let packed = state.options.secondMomentCalibration
                let (m, n, r) = (state.pair.outputSize, state.pair.inputSize, state.pair.rank)
                try loadLoFT("state/\(name).A", state.stateA, packed: packed, basisShape: (m, r))
                try loadLoFT("state/\(name).B", state.stateB, packed: packed, basisShape: (r, n))
                try loadParameter("param/\(name).A", state.pair.a)
                try loadParameter("param/\(name).B", state.pair.b)
            }
        }
        stepCount = step
    }
}

private func tensorData(_ name: String, _ matrix: Matrix) -> TensorData {
    let info = TensorInfo(name: name, dtype: .F32, shape: matrix.shape)
    let buffer = ByteBuffer(count: info.byteCount)
    if info.byteCount > 0 {
        buffer.bytes.baseAddress!.copyMemory(from: matrix.baseAddress, byteCount: info.byteCount)
    }
    return TensorData(info: info, buffer: buffer)
}

private func stepTensor(_ name: String, _ step: Int) -> TensorData {
    let info = TensorInfo(name: name, dtype: .I64, shape: [])
    let buffer = ByteBuffer(count: 8)
    buffer.bytes.storeBytes(of: Int64(step).littleEndian, as: Int64.self)
    return TensorData(info: info, buffer: buffer)
}
