// What the merge will do to each output tensor, decided before any base byte is read: every
// adapter tensor is matched to a base tensor and checked against its shape, so a bad adapter
// fails in a second with the complete list of problems, not halfway through a 70B merge.

import TensorIO

/// One adapter to merge and its weight (negated by --subtract).
public struct AdapterSource: Sendable, Equatable {
    public var path: String
    public var weight: Double

    public init(path: String, weight: Double = 1) {
        self.path = path
        self.weight = weight
    }

    /// Parses `DIR` or `DIR:WEIGHT` (the weight after the last colon, unless the whole
    /// argument is itself a directory). Text after the colon that is not a number is refused,
    /// not read as part of the path: `run:O.5` is a typo, not a directory named so.
    public init(argument: String) throws {
        if let colon = argument.lastIndex(of: ":"), !directoryExists(argument) {
            let text = String(argument[argument.index(after: colon)...])
            let directory = String(argument[..<colon])
            if let weight = Double(text) {
                guard weight.isFinite else { throw AdapterError.invalidAdapterArgument(argument: argument, reason: "weight must be finite") }
                guard !directory.isEmpty else { throw AdapterError.invalidAdapterArgument(argument: argument, reason: "no directory before the weight") }
                self.init(path: directory, weight: weight)
                return
            }
            throw AdapterError.invalidAdapterArgument(
                argument: argument, reason: "the weight \"\(text)\" after the last ':' is not a number, and no directory is named \(argument)")
        }
        self.init(path: argument, weight: 1)
    }
}

struct AppliedLowRank {
    let update: LowRankUpdate
    /// weight x scale (x -1 when subtracting).
    let coefficient: Double
    let transposed: Bool
}

struct TensorPlan {
    /// Output tensor (dtype after --dtype).
    var output: TensorInfo
    /// Where the starting values come from: a base tensor name, or an adapter tensor.
    var baseName: String?
    var replacement: TensorData?
    var lowRank: [AppliedLowRank] = []
    /// Bias deltas: values and coefficient.
    var vectors: [(values: [Double], coefficient: Double)] = []
    /// DoRA magnitude; the norm runs over rows (direct) or columns (transposed).
    var magnitude: (values: [Double], transposed: Bool)?

    var isUntouched: Bool { replacement == nil && lowRank.isEmpty && vectors.isEmpty && magnitude == nil }
}

/// One line of the merge report.
public struct MergedModule: Sendable, Equatable {
    public var adapter: String
    /// Module path (or replaced tensor) as the adapter names it.
    public var module: String
    /// The tensor written.
    public var tensor: String
    /// "lora", "dora", "embedding", "bias", "replaced".
    public var kind: String
    public var rank: Int?
    public var alpha: Double?
    public var scale: Double?
    public var weight: Double
}

struct MergePlan {
    /// Every output tensor, base order first, then tensors added by untying the head.
    var tensors: [TensorPlan]
    var modules: [MergedModule]
    /// Names of tensors added because the base tied its head to the embedding.
    var untied: [String]

    init(base: TensorReader, adapters: [(Adapter, Double)], subtract: Bool, dtype: DType?) throws {
        try self.init(baseTensors: base.tensors, baseDescription: base.path, adapters: adapters, subtract: subtract, dtype: dtype)
    }

    /// The plan against any set of named tensors: a checkpoint's, or a loaded model's
    /// float32 parameters (AttachmentPlan).
    init(baseTensors: [TensorInfo], baseDescription: String, adapters: [(Adapter, Double)], subtract: Bool, dtype: DType?) throws {
        let names = BaseNames(baseTensors)
        var plans: [TensorPlan] = baseTensors.map { TensorPlan(output: Self.outputInfo($0, dtype), baseName: $0.name) }
        var position: [String: Int] = [:]
        for (i, tensor) in baseTensors.enumerated() { position[tensor.name] = i }
        var modules: [MergedModule] = []
        var untied: [String] = []
        let tiedEmbedding = names.tiedEmbedding

        /// The plan for a name, creating the separate head of a tied checkpoint on demand.
        func planIndex(for name: String) -> Int? {
            if let resolved = names.resolve(name) { return position[resolved] }
            if let embedding = tiedEmbedding, BaseNames.isHead(name) {
                return untie(embedding)
            }
            return nil
        }
        func untie(_ embedding: String) -> Int {
            if let existing = position[BaseNames.headName] { return existing }
            let source = baseTensors[position[embedding]!]
            plans.append(TensorPlan(output: Self.outputInfo(source.renamed(BaseNames.headName), dtype), baseName: embedding))
            position[BaseNames.headName] = plans.count - 1
            untied.append(BaseNames.headName)
            return plans.count - 1
        }

        var replacedBy: [Int: String] = [:]
        for (adapter, weight) in adapters {
            let sign = subtract ? -1.0 : 1.0
            var problems: [String] = []
            for replacement in adapter.replacements {
                guard let index = planIndex(for: replacement.target) else {
                    problems.append("\(replacement.key): no base tensor \(replacement.target) (tried \(BaseNames.candidates(replacement.target).joined(separator: ", ")))")
                    continue
                }
                let target = plans[index].output
                guard replacement.data.info.shape == target.shape else {
                    problems.append("\(replacement.key): shape \(replacement.data.info.shape) but base \(target.name) is \(target.shape)")
                    continue
                }
                if subtract || weight != 1 {
                    throw AdapterError.unsupportedCombination(tensor: target.name, reason: "\(adapter.path) replaces it whole (modules_to_save); a replacement cannot be weighted or subtracted")
                }
                if let other = replacedBy[index] {
                    throw AdapterError.unsupportedCombination(tensor: target.name, reason: "replaced whole by both \(other) and \(adapter.path)")
                }
                replacedBy[index] = adapter.path
                plans[index].replacement = replacement.data
                modules.append(MergedModule(adapter: adapter.path, module: replacement.key, tensor: target.name, kind: "replaced", weight: weight))
            }
            for update in adapter.updates {
                let weightName = update.module + ".weight"
                guard let index = planIndex(for: weightName) else {
                    problems.append("\(update.aKey): no base tensor \(weightName) (tried \(BaseNames.candidates(weightName).joined(separator: ", ")))")
                    continue
                }
                let target = plans[index].output
                guard let transposed = Self.orientation(update, target: target, names: names, problems: &problems) else { continue }
                let outFeatures = transposed ? target.shape[1] : target.shape[0]
                if let magnitude = update.magnitude, magnitude.count != outFeatures {
                    problems.append("\(update.module) DoRA magnitude: \(magnitude.count) values but \(target.name) has \(outFeatures) output features")
                    continue
                }
                var biasIndex: Int?
                if let bias = update.bias {
                    let biasName = update.module + ".bias"
                    guard let found = names.resolve(biasName).flatMap({ position[$0] }) else {
                        problems.append("\(update.module) lora_B.bias: no base tensor \(biasName) (lora_bias needs a base bias)")
                        continue
                    }
                    guard plans[found].output.shape == [bias.count] else {
                        problems.append("\(update.module) lora_B.bias: \(bias.count) values but base \(plans[found].output.name) is \(plans[found].output.shape)")
                        continue
                    }
                    biasIndex = found
                }
                let coefficient = sign * weight * update.scale
                if let magnitude = update.magnitude {
                    if subtract || weight != 1 {
                        throw AdapterError.unsupportedCombination(
                            tensor: target.name,
                            reason: "\(adapter.path) is DoRA: W' = m / ||W + dW|| (W + dW) is not linear in the adapter, so it cannot be weighted (\(weight)) or subtracted")
                    }
                    plans[index].magnitude = (magnitude, transposed)
                }
                plans[index].lowRank.append(AppliedLowRank(update: update, coefficient: coefficient, transposed: transposed))
                let kind = update.magnitude != nil ? "dora" : update.isEmbedding ? "embedding" : "lora"
                modules.append(MergedModule(adapter: adapter.path, module: update.module, tensor: target.name, kind: kind,
                                            rank: update.rank, alpha: update.alpha, scale: update.scale, weight: sign * weight))
                if let biasIndex, let bias = update.bias {
                    plans[biasIndex].vectors.append((bias, coefficient))
                    modules.append(MergedModule(adapter: adapter.path, module: update.module, tensor: plans[biasIndex].output.name, kind: "bias",
                                                rank: update.rank, alpha: update.alpha, scale: update.scale, weight: sign * weight))
                }
            }
            if !problems.isEmpty { throw AdapterError.doesNotFitBase(path: adapter.path, base: baseDescription, problems: problems) }
        }

        // Touching the tied embedding changes the head too unless the head gets its own copy.
        if let embedding = tiedEmbedding, let index = position[embedding], !plans[index].isUntouched {
            _ = untie(embedding)
        }
        for plan in plans where plan.magnitude != nil && plan.lowRank.count > 1 {
            throw AdapterError.unsupportedCombination(
                tensor: plan.output.name,
                reason: "a DoRA adapter and \(plan.lowRank.count - 1) other adapter(s) touch it; DoRA renormalises the whole weight, so merge it alone")
        }
        for plan in plans where !plan.isUntouched {
            let dtype = plan.replacement?.info.dtype ?? plan.baseName.flatMap { position[$0] }.map { baseTensors[$0].dtype } ?? plan.output.dtype
            for type in [dtype, plan.output.dtype] where !MergeKernel.supportedTypes.contains(type) {
                throw AdapterError.unsupportedBaseDType(tensor: plan.output.name, dtype: type.rawValue)
            }
        }
        tensors = plans
        self.modules = modules
        self.untied = untied
    }

    static func outputInfo(_ info: TensorInfo, _ dtype: DType?) -> TensorInfo {
        guard let dtype, MergeKernel.supportedTypes.contains(info.dtype) else { return info }
        return TensorInfo(name: info.name, dtype: dtype, shape: info.shape)
    }

    /// Whether B @ A is added transposed; nil (with a problem noted) when no orientation fits.
    static func orientation(_ update: LowRankUpdate, target: TensorInfo, names: BaseNames, problems: inout [String]) -> Bool? {
        let delta = [update.bRows, update.aColumns]
        let flipped = [update.aColumns, update.bRows]
        let shape = target.shape
        func mismatch(_ hint: String) -> Bool? {
            problems.append("\(update.aKey): delta B @ A is \(delta) but base \(target.name) is \(shape)\(hint)")
            return nil
        }
        switch update.orientation {
        case .direct:
            if shape == delta { return false }
            return mismatch(shape == flipped ? " (it fits transposed: a Conv1D weight needs fan_in_fan_out = true)" : "")
        case .transposed:
            if shape == flipped { return true }
            return mismatch(shape == delta && !update.isEmbedding ? " (it fits untransposed: fan_in_fan_out = true on a Linear weight?)" : " (expected the transpose)")
        case .fromBaseShape:
            if shape == delta && shape != flipped { return false }
            if shape == flipped && shape != delta { return true }
            if shape == delta {
                // Square: mlx-lm works on `out x in` weights; only GPT-2's Conv1D projections
                // are stored `in x out` in a Hugging Face checkpoint.
                return isConv1D(target.name, names: names)
            }
            return mismatch("")
        }
    }

    static func isConv1D(_ name: String, names: BaseNames) -> Bool {
        let conv = [".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight"]
        guard conv.contains(where: { name.hasSuffix($0) }) else { return false }
        // A GPT-2 layout has c_attn as [n_embd, 3 n_embd].
        return names.shapes.contains { $0.key.hasSuffix(".attn.c_attn.weight") && $0.value.count == 2 && $0.value[1] == 3 * $0.value[0] }
    }
}
