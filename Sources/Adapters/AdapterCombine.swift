// `loft combine` as a library call: several LoRA adapters become one PEFT adapter, module by
// module, by the combination methods of PEFT's `add_weighted_adapter`:
//
//   cat        A = [w_1 s_1 A_1; w_2 s_2 A_2; ...], B = [B_1, B_2, ...]: B A = sum_i w_i s_i B_i A_i
//              exactly; the module's rank is the sum of the inputs' ranks.
//   linear, ties, dare_linear, dare_ties, magnitude_prune
//              the A factors are merged together and the B factors together (TaskTensors),
//              with weights sign(w_i s_i) sqrt|w_i s_i| on A and sqrt|w_i s_i| on B, as PEFT
//              does; the delta B A then has cross terms B_i A_j, so it is not the weighted
//              sum of the deltas (only cat and svd are). Every input must have the same rank.
//   svd, ties_svd, dare_linear_svd, dare_ties_svd, magnitude_prune_svd
//              the deltas s_i B_i A_i are merged (linear = weighted sum) and the result
//              truncated by SVD to --rank (default: the largest input rank): B = U_r S_r,
//              A = V_rᵀ. The plain sum is decomposed through its factors (SVD.ofProduct),
//              never formed; pruned sums are dense and decomposed whole.
//
// The combined adapter has scale 1 everywhere: lora_alpha = r, and for each module whose rank
// differs from r a rank_pattern and an alpha_pattern entry with its rank. use_rslora is
// written false: the factors already carry every scale (PEFT 0.21 copies use_rslora from the
// first adapter instead, which multiplies its own result by sqrt(r)).

import Compute
import Foundation
import TensorIO

public enum CombineMethod: Sendable, Equatable, CaseIterable {
    case cat
    /// Merge the A and B factors separately.
    case factors(TaskMerge)
    /// Merge the deltas, then truncate by SVD.
    case svd(TaskMerge)

    public static var allCases: [CombineMethod] {
        [.cat] + TaskMerge.allCases.map { .factors($0) } + TaskMerge.allCases.map { .svd($0) }
    }

    public var name: String {
        switch self {
        case .cat: return "cat"
        case let .factors(merge): return merge.rawValue
        case .svd(.linear): return "svd"
        case let .svd(merge): return merge.rawValue + "_svd"
        }
    }

    public init?(name: String) {
        guard let method = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = method
    }

    var taskMerge: TaskMerge? {
        switch self {
        case .cat: return nil
        case let .factors(merge), let .svd(merge): return merge
        }
    }

    /// Whether --density means something for this method.
    public var usesDensity: Bool { taskMerge.map { $0 != .linear } ?? false }
    public var usesSignElection: Bool { taskMerge?.electsSign ?? false }
    public var isRandom: Bool { taskMerge?.dropsAtRandom ?? false }
    public var truncates: Bool { if case .svd = self { return true } else { return false } }
}

public struct CombineOptions: Sendable {
    public var adapters: [AdapterSource]
    public var method: CombineMethod
    public var output: String
    /// Replace the adapter files in a non-empty OUT (--overwrite).
    public var overwrite = false
    /// SVD methods: the rank kept (default: the largest input rank).
    public var rank: Int?
    public var parameters = TaskMergeParameters()

    public init(adapters: [AdapterSource], method: CombineMethod, output: String) {
        self.adapters = adapters
        self.method = method
        self.output = output
    }
}

public struct CombinedModule: Sendable, Equatable {
    public var module: String
    /// Rank of each input that has the module, in --adapter order (nil: not in that adapter).
    public var inputRanks: [Int?]
    public var rank: Int
    /// SVD methods: ||merged delta - truncated||_F / ||merged delta||_F.
    public var truncationError: Double?
}

public struct CombineReport: Sendable {
    public var method: CombineMethod
    public var output: String
    /// Replace the adapter files in a non-empty OUT (--overwrite).
    public var overwrite = false
    public var adapters: [(path: String, weight: Double)]
    public var modules: [CombinedModule]
    /// The written config's r (most modules' rank) and the modules listed in rank_pattern.
    public var rank: Int
    public var rankPattern: [(module: String, rank: Int)]
    public var files: [String]
}

public enum AdapterCombine {
    @discardableResult
    public static func run(_ options: CombineOptions) throws -> CombineReport {
        guard !options.adapters.isEmpty else { throw AdapterError.invalidAdapterArgument(argument: "", reason: "give at least one adapter") }
        try validate(options)
        let adapters = try options.adapters.map { try Adapter(directory: $0.path) }
        let weights = options.adapters.map(\.weight)
        try checkCombinable(adapters)
        let output = try AdapterOutput(options.output, overwrite: options.overwrite, inputs: options.adapters.map(\.path))

        // Modules in first-seen order, each with the inputs that have it.
        var order: [String] = []
        var inputs: [String: [(index: Int, update: LowRankUpdate)]] = [:]
        for (index, adapter) in adapters.enumerated() {
            for update in adapter.updates {
                if inputs[update.module] == nil { order.append(update.module) }
                inputs[update.module, default: []].append((index, update))
            }
        }
        let svdRank = options.rank ?? adapters.flatMap { $0.updates.map(\.rank) }.max() ?? 1

        var tensors: [TensorData] = []
        var modules: [CombinedModule] = []
        for module in order {
            let terms = inputs[module]!
            try checkShapes(module, terms, adapters)
            let coefficients = terms.map { weights[$0.index] * $0.update.scale }
            let result: (a: [Double], b: [Double], rank: Int, error: Double?)
            switch options.method {
            case .cat:
                result = concatenate(terms.map(\.update), coefficients)
            case let .factors(merge):
                let ranks = Set(terms.map(\.update.rank))
                guard ranks.count == 1 else {
                    throw AdapterError.unsupportedCombination(
                        tensor: module, reason: "\(options.method.name) merges the A and B factors element by element, so every adapter needs the same rank here, but they have ranks \(terms.map(\.update.rank)); use cat or svd")
                }
                result = mergeFactors(module, terms, coefficients, merge: merge, parameters: options.parameters)
            case let .svd(merge):
                result = truncatedDelta(module, terms, coefficients, weights: terms.map { weights[$0.index] },
                                        merge: merge, rank: svdRank, parameters: options.parameters)
            }
            let first = terms[0].update
            let key = Adapter.peftPrefix + module
            let (aName, bName) = first.isEmbedding ? (".lora_embedding_A", ".lora_embedding_B") : (".lora_A.weight", ".lora_B.weight")
            tensors.append(f32(key + aName, result.a, shape: [result.rank, first.aColumns]))
            tensors.append(f32(key + bName, result.b, shape: [first.bRows, result.rank]))
            var ranks = [Int?](repeating: nil, count: adapters.count)
            for term in terms { ranks[term.index] = term.update.rank }
            modules.append(CombinedModule(module: module, inputRanks: ranks, rank: result.rank, truncationError: result.error))
        }

        // r: the most common rank (ties: the larger); the others go to the patterns.
        var counts: [Int: Int] = [:]
        for module in modules { counts[module.rank, default: 0] += 1 }
        let r = counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }?.key ?? 1
        let pattern = modules.filter { $0.rank != r }.map { (module: $0.module, rank: $0.rank) }
        let config = try combinedConfig(adapters, rank: r, pattern: pattern)

        let files = try output.write(weights: "adapter_model.safetensors", tensors: tensors, metadata: [("format", "pt")],
                                     config: JSON.serialize(config, style: .indentedSortedKeys) + "\n")
        return CombineReport(method: options.method, output: options.output,
                             adapters: zip(adapters, weights).map { ($0.path, $1) }, modules: modules,
                             rank: r, rankPattern: pattern,
                             files: files)
    }

    static func validate(_ options: CombineOptions) throws {
        let method = options.method
        let density = options.parameters.density
        if method.usesDensity {
            guard density > 0, density <= 1 else {
                throw AdapterError.invalidAdapterArgument(argument: "--density \(density)", reason: "must be in (0, 1]")
            }
        }
        if let rank = options.rank, rank < 1 {
            throw AdapterError.invalidAdapterArgument(argument: "--rank \(rank)", reason: "must be a positive integer")
        }
    }

    /// Refuses what a combined plain-LoRA adapter cannot represent.
    static func checkCombinable(_ adapters: [Adapter]) throws {
        for adapter in adapters {
            guard let settings = adapter.peftSettings else {
                throw AdapterError.unsupportedCombination(tensor: adapter.path, reason: "an MLX-LM adapter; combine reads PEFT adapters (convert it first: loft convert DIR OUT --to peft)")
            }
            if let dora = adapter.updates.first(where: { $0.magnitude != nil }) {
                throw AdapterError.unsupportedCombination(tensor: "\(adapter.path): \(dora.module)", reason: "DoRA: its magnitude renormalises the whole weight, so it has no low-rank delta to combine")
            }
            if let biased = adapter.updates.first(where: { $0.bias != nil }) {
                throw AdapterError.unsupportedCombination(tensor: "\(adapter.path): \(biased.module)", reason: "lora_bias: combine writes factors only; merge it into the base with loft merge instead")
            }
            if let replaced = adapter.replacements.first {
                throw AdapterError.unsupportedCombination(tensor: "\(adapter.path): \(replaced.key)", reason: "modules_to_save replaces a tensor whole, which cannot be weighted or combined")
            }
            if settings.fanInFanOut != adapters[0].peftSettings?.fanInFanOut {
                throw AdapterError.unsupportedCombination(tensor: adapter.path, reason: "fan_in_fan_out differs from \(adapters[0].path)'s: the adapters target different kinds of layer")
            }
        }
    }

    static func checkShapes(_ module: String, _ terms: [(index: Int, update: LowRankUpdate)], _ adapters: [Adapter]) throws {
        let first = terms[0].update
        for term in terms.dropFirst() where term.update.aColumns != first.aColumns || term.update.bRows != first.bRows || term.update.isEmbedding != first.isEmbedding {
            throw AdapterError.unsupportedCombination(
                tensor: module, reason: "\(adapters[terms[0].index].path) has a \(first.bRows) x \(first.aColumns) delta, \(adapters[term.index].path) a \(term.update.bRows) x \(term.update.aColumns) one")
        }
    }

    static func concatenate(_ updates: [LowRankUpdate], _ coefficients: [Double]) -> (a: [Double], b: [Double], rank: Int, error: Double?) {
        let rank = updates.reduce(0) { $0 + $1.rank }
        let rows = updates[0].bRows
        var a: [Double] = []
        var b = [Double](repeating: 0, count: rows * rank)
        var offset = 0
        for (update, c) in zip(updates, coefficients) {
            a += update.a.map { $0 * c }
            let factor = update.b
            for i in 0..<rows { for j in 0..<update.rank { b[i * rank + offset + j] = factor[i * update.rank + j] } }
            offset += update.rank
        }
        return (a, b, rank, nil)
    }

    static func mergeFactors(_ module: String, _ terms: [(index: Int, update: LowRankUpdate)], _ coefficients: [Double],
                             merge: TaskMerge, parameters: TaskMergeParameters) -> (a: [Double], b: [Double], rank: Int, error: Double?) {
        let weightsA = coefficients.map { ($0 >= 0 ? 1 : -1) * abs($0).squareRoot() }
        let weightsB = coefficients.map { abs($0).squareRoot() }
        let seedsA = terms.map { TaskTensors.seed(parameters.seed, module: module, index: $0.index, part: 0) }
        let seedsB = terms.map { TaskTensors.seed(parameters.seed, module: module, index: $0.index, part: 1) }
        let a = TaskTensors.merge(terms.map(\.update.a), weights: weightsA, method: merge, parameters: parameters, seeds: seedsA)
        let b = TaskTensors.merge(terms.map(\.update.b), weights: weightsB, method: merge, parameters: parameters, seeds: seedsB)
        return (a, b, terms[0].update.rank, nil)
    }

    static func truncatedDelta(_ module: String, _ terms: [(index: Int, update: LowRankUpdate)], _ coefficients: [Double], weights: [Double],
                               merge: TaskMerge, rank: Int, parameters: TaskMergeParameters) -> (a: [Double], b: [Double], rank: Int, error: Double?) {
        let rows = terms[0].update.bRows, columns = terms[0].update.aColumns
        let svd: SingularValueDecomposition
        if merge == .linear {
            let combined = concatenate(terms.map(\.update), coefficients)
            svd = SVD.ofProduct(b: combined.b, a: combined.a, rows: rows, inner: combined.rank, columns: columns)
        } else {
            // The scaled deltas s_i B_i A_i, merged with the adapters' weights.
            let deltas = terms.map { term in
                BLAS.dgemm(term.update.b, rows: rows, columns: term.update.rank, term.update.a, rows: term.update.rank, columns: columns)
                    .map { $0 * term.update.scale }
            }
            let seeds = terms.map { TaskTensors.seed(parameters.seed, module: module, index: $0.index, part: 2) }
            let merged = TaskTensors.merge(deltas, weights: weights, method: merge, parameters: parameters, seeds: seeds)
            svd = SVD.thin(merged, rows: rows, columns: columns)
        }
        let kept = svd.truncated(to: rank)
        let total = svd.s.reduce(0) { $0 + $1 * $1 }
        let dropped = svd.s.dropFirst(kept.rank).reduce(0) { $0 + $1 * $1 }
        return (kept.vt, kept.scaledU(), kept.rank, total > 0 ? (dropped / total).squareRoot() : 0)
    }

    static func f32(_ name: String, _ values: [Double], shape: [Int]) -> TensorData {
        let floats = values.map { Float($0) }
        let buffer = floats.withUnsafeBytes { ByteBuffer(copying: $0) }
        return TensorData(info: TensorInfo(name: name, dtype: .F32, shape: shape), buffer: buffer)
    }

    /// The first adapter's adapter_config.json with the combined adapter's rank, scale 1 and
    /// the union of the target modules.
    static func combinedConfig(_ adapters: [Adapter], rank: Int, pattern: [(module: String, rank: Int)]) throws -> JSONValue {
        let configs = try adapters.map { try AdapterConfigParser.readJSON($0.path + "/adapter_config.json") }
        var targets: JSONValue = .null
        let lists = configs.map { $0["target_modules"] }
        if lists.allSatisfy({ $0?.arrayValue != nil }) {
            var names = Set<String>()
            for list in lists { for item in list!.arrayValue! { if let name = item.stringValue { names.insert(name) } } }
            targets = .array(names.sorted().map { .string($0) })
        } else if lists.allSatisfy({ $0?.stringValue != nil }) {
            targets = .string(lists.map { "(\($0!.stringValue!))" }.joined(separator: "|"))
        } else {
            throw AdapterError.unsupportedCombination(tensor: "target_modules", reason: "the adapters mix a list and a regular expression; PEFT cannot combine those either")
        }
        let overrides: [(String, JSONValue)] = [
            ("r", .integer(Int64(rank))), ("lora_alpha", .integer(Int64(rank))), ("use_rslora", .bool(false)),
            ("rank_pattern", .object(pattern.map { JSONMember($0.module, .integer(Int64($0.rank))) })),
            ("alpha_pattern", .object(pattern.map { JSONMember($0.module, .integer(Int64($0.rank))) })),
            ("target_modules", targets), ("peft_type", .string("LORA")), ("use_dora", .bool(false)),
        ]
        var members = configs[0].objectMembers ?? []
        for (key, value) in overrides {
            if let i = members.firstIndex(where: { $0.key == key }) { members[i].value = value } else { members.append(JSONMember(key, value)) }
        }
        return .object(members)
    }
}
