// One output tensor of a whole-model merge: its parameters resolved as mergekit resolves
// them, its inputs read in the working dtype, the method's kernel, the result stored in the
// output dtype.
//
// Parameters, most specific first (the first block that gives a value wins):
//   per model (weight, density, gamma, scale): the source's own parameters, the slice's,
//     the global ones; read for the model's own tensor name
//   per tensor (t, normalize, lambda, ...): the slice's, the global ones; read for the
//     output tensor name
// The base model takes no weight or density in the task-arithmetic family.

import Compute
import TensorIO

enum ModelMergeTensors {
    static let floatTypes: Set<DType> = [.F32, .F16, .BF16, .F64]

    static func merge(_ tensor: PlannedTensor, data: [TensorData], output: TensorInfo, config: ModelMergeConfig,
                      slices: [OutputSlice], seed: UInt64, loaded: (Int) -> Void = { _ in }) throws -> TensorData {
        // `loaded(i)` runs once input i is copied into its working array: the caller drops its
        // mapped pages then, so the mapping and the copy of one input at most are resident.
        let working = config.dtype ?? data[0].info.dtype
        if working == .F64 {
            var values: [[Double]] = try data.indices.map { i in defer { loaded(i) }; return try load(data[i], working: working) }
            return try store(compute(tensor, &values, output: output, config: config, slices: slices, seed: seed), as: output)
        }
        var values: [[Float]] = try data.indices.map { i in defer { loaded(i) }; return try load(data[i], working: working) }
        return try store(compute(tensor, &values, output: output, config: config, slices: slices, seed: seed), as: output)
    }

    /// The merged tensor; `values` (the inputs in the working type) may be consumed: the
    /// task-arithmetic family turns the inputs' arrays into their deltas in place.
    static func compute<T: BinaryFloatingPoint>(_ tensor: PlannedTensor, _ values: inout [[T]], output: TensorInfo, config: ModelMergeConfig,
                                                slices: [OutputSlice], seed: UInt64) throws -> [T] {
        let slice = slices[tensor.slice]
        func fail(_ problem: String) -> ModelMergeConfigError { ModelMergeConfigError(path: "", problem: problem) }
        func shared(_ name: String) throws -> ParameterValue {
            for block in [slice.parameters, config.parameters] {
                if let value = block[name]?.evaluate(tensor: tensor.output, t: tensor.t) { return value }
            }
            if let fallback = config.method.sharedParameters.first(where: { $0.name == name })?.fallback { return fallback }
            throw fail("\(tensor.output): missing required parameter \(name)")
        }
        func number(_ name: String) throws -> Double {
            let value = try shared(name)
            guard let x = value.number else { throw fail("\(tensor.output): parameter \(name) = \(value) is not a number") }
            return x
        }
        func flag(_ name: String) throws -> Bool {
            let value = try shared(name)
            guard let b = value.bool else { throw fail("\(tensor.output): parameter \(name) = \(value) is not true or false") }
            return b
        }
        func perInput(_ name: String, _ i: Int, fallback: Double?) throws -> Double? {
            let input = tensor.inputs[i]
            for block in [slice.sources[i].parameters, slice.parameters, config.parameters] {
                if let value = block[name]?.evaluate(tensor: input.tensor, t: tensor.t) {
                    guard let x = value.number else { throw fail("\(input.model): \(input.tensor): parameter \(name) = \(value) is not a number") }
                    return x
                }
            }
            return fallback
        }
        func required(_ name: String, _ i: Int) throws -> Double {
            guard let x = try perInput(name, i, fallback: nil) else {
                throw fail("missing required parameter \(name) for \(tensor.inputs[i].model) (\(tensor.inputs[i].tensor))")
            }
            return x
        }

        switch config.method {
        case .linear:
            let weights = try values.indices.map { try required("weight", $0) }
            return ModelMergeKernels.linear(values, weights: weights, normalize: try flag("normalize"))
        case .passthrough:
            guard let scale = try perInput("scale", 0, fallback: nil) else { return values[0] }
            let s = T(scale)
            return values[0].map { $0 * s }
        case .slerp:
            let b = tensor.baseIndex!, t = try number("t")
            let (x, y) = (values[b], values[1 - b])
            values = []  // the inputs freed with the kernel's, not the caller's, last use
            return ModelMergeKernels.slerp(t: t, x, y)
        case .modelStock:
            let b = tensor.baseIndex!
            let others = values.indices.filter { $0 != b }.map { values[$0] }
            return ModelMergeKernels.modelStock(base: values[b], inputs: others, shape: output.shape, filterWise: try flag("filter_wise"))
        default:
            let b = tensor.baseIndex!
            let others = values.indices.filter { $0 != b }
            let method = config.method
            let kernel = ModelMergeKernels.TaskArithmetic(
                sparsification: [.ties: .magnitude, .dareLinear: .random, .dareTies: .random,
                                 .breadcrumbs: .magnitudeOutliers, .breadcrumbsTies: .magnitudeOutliers][method],
                consensus: [.ties, .dareTies, .breadcrumbsTies].contains(method) ? .sum : nil,
                normalize: try flag("normalize"), rescale: try flag("rescale"), lambda: try number("lambda"))
            _ = try flag("int8_mask")  // only the mask's storage type in mergekit: same values
            let parameters = (weights: try others.map { try required("weight", $0) },
                              densities: try others.map { try perInput("density", $0, fallback: 1)! },
                              gammas: try others.map { try perInput("gamma", $0, fallback: 0.01)! })
            // The arrays handed over, not shared, so the kernel reuses them for the deltas.
            let base = values[b]
            var inputs = others.map { values[$0] }
            values = []
            return ModelMergeKernels.taskArithmetic(
                base: base, consuming: &inputs,
                weights: parameters.weights, densities: parameters.densities, gammas: parameters.gammas,
                seeds: others.map { TaskTensors.seed(seed, module: tensor.output, index: $0, part: 3) },
                method: kernel)
        }
    }

    /// The tensor's values in the working type, cast to the working dtype first (mergekit
    /// casts every input to `dtype` when it reads it).
    static func load<T: BinaryFloatingPoint>(_ data: TensorData, working: DType) throws -> [T] {
        let count = data.info.elementCount
        if data.info.dtype == .F32 && T.self == Float.self && (working == .F32 || working == .F64) {
            // The bytes straight into the [T] (T is Float): `Array(...) as! [T]` would copy
            // the whole tensor a second time, element by element.
            return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: data.bytes)
                initialized = count
            }
        }
        var wide = [Double](repeating: 0, count: count)
        try wide.withUnsafeMutableBufferPointer { try HalfWidening.widen(data.info.dtype, from: data.bytes, into: $0) }
        if working != data.info.dtype && working != .F64 {
            // Round into the working dtype, as torch's .to(dtype) does.
            let buffer = ByteBuffer(count: count * working.byteWidth!)
            try wide.withUnsafeBufferPointer { try HalfWidening.narrow($0, to: working, into: buffer.bytes) }
            try wide.withUnsafeMutableBufferPointer { try HalfWidening.widen(working, from: UnsafeRawBufferPointer(buffer.bytes), into: $0) }
        }
        return wide.map { T($0) }
    }

    static func store<T: BinaryFloatingPoint>(_ values: [T], as info: TensorInfo) throws -> TensorData {
        let buffer = ByteBuffer(count: info.byteCount)
        if info.dtype == .F32 && T.self == Float.self {
            values.withUnsafeBytes { buffer.bytes.copyMemory(from: $0) }  // no `as? [Float]`: that copies
        } else {
            let wide = values.map { Double($0) }
            try wide.withUnsafeBufferPointer { try HalfWidening.narrow($0, to: info.dtype, into: buffer.bytes) }
        }
        return TensorData(info: info, buffer: buffer)
    }
}
