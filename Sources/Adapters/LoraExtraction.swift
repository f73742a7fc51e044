// `loft extract` as a library call: a LoRA adapter approximating TUNED - BASE, module by
// module, as PEFT files.
//
// One tensor pair at a time: both checkpoints are mapped, a tuned tensor and its base
// counterpart are read, their difference D (float64) is decomposed, the pair's pages are
// dropped. Per tensor:
//
//   unchanged (same bytes)                    nothing written
//   2-D weight of a target module             LoRA: D ≈ U_r S_r V_rᵀ, B = U_r sqrt(S_r),
//                                             A = sqrt(S_r) V_rᵀ (scale 1, lora_alpha = r);
//                                             r = --rank, or fewer by --energy / --sv-epsilon
//                                             (per-module ranks go to rank_pattern)
//   ... whose rank-r factors would not be smaller than the matrix, embeddings, the output
//   head, and modules of 1-D tensors only (norms)  modules_to_save: the tuned tensors whole
//   bias of a LoRA module                     `<module>.base_layer.bias`, the key PEFT loads
//                                             into the wrapped layer (bias = "lora_only")
//   module whose 2-D weight is not targeted   skipped, reported with its delta norm
//
// SVD: LAPACK's on the whole matrix when its smaller side is at most `denseLimit` and the
// rank is not small next to it (4 (rank + 10) > smaller side), else
// randomized (the leading --rank triplets). The relative error ||D - B A||_F / ||D||_F is
// exact either way: ||D||² - sum of the kept s², since U and V are orthonormal.

import Compute
import Foundation
import TensorIO

public struct ExtractOptions: Sendable {
    public var base: String
    public var tuned: String
    public var output: String
    /// Largest rank of any module.
    public var rank: Int
    /// Keep the fewest singular values holding this fraction of ||D||²_F (<= rank).
    public var energy: Double?
    /// Drop singular values at or below this (absolute, as mergekit's --sv-epsilon).
    public var svEpsilon: Double?
    /// Module names (a path or its last components, PEFT's target_modules rule); nil: every 2-D weight.
    public var targets: [String]?
    /// Above this smaller side, the randomized SVD.
    public var denseLimit = 1024
    /// Replace the adapter files in a non-empty OUT (--overwrite).
    public var overwrite = false

    public init(base: String, tuned: String, output: String, rank: Int) {
        self.base = base
        self.tuned = tuned
        self.output = output
        self.rank = rank
    }
}

public struct ExtractedModule: Sendable, Equatable {
    public enum Kind: String, Sendable { case lora, full, bias, skipped }
    /// The tuned checkpoint's tensor name.
    public var tensor: String
    /// The PEFT module path.
    public var module: String
    public var kind: Kind
    public var shape: [Int]
    public var rank: Int?
    /// ||D - B A||_F / ||D||_F (0 for tensors saved whole, 1 for skipped ones).
    public var relativeError: Double
    public var deltaNorm: Double
}

public struct ExtractReport: Sendable {
    public var base: String
    public var tuned: String
    public var output: String
    public var modules: [ExtractedModule]
    public var unchanged: Int
    public var rank: Int
    public var files: [String]
}

public enum LoraExtraction {
    public static func run(_ options: ExtractOptions, progress: ((Int, Int) -> Void)? = nil) throws -> ExtractReport {
        guard options.rank >= 1 else { throw AdapterError.invalidAdapterArgument(argument: "--rank \(options.rank)", reason: "must be a positive integer") }
        let baseSource = try ModelSource.open(options.base)
        let tunedSource = try ModelSource.open(options.tuned)
        let (base, tuned) = (baseSource.reader, tunedSource.reader)
        let output = try AdapterOutput(options.output, overwrite: options.overwrite, inputs: baseSource.inputPaths + tunedSource.inputPaths)
        let names = BaseNames(base.tensors)
        let tunedNames = BaseNames(tuned.tensors)
        let total = tuned.tensors.count
        // GPT-2's hub file has no `transformer.` prefix; PEFT's module paths do.
        let hubGPT2 = tunedNames.shapes["wte.weight"] != nil
        func module(_ name: String) -> String {
            let stem = name.strippingSuffix(".weight") ?? name.strippingSuffix(".bias") ?? name
            return hubGPT2 ? "transformer." + stem : stem
        }
        func isTarget(_ path: String) -> Bool {
            guard let targets = options.targets else { return true }
            return targets.contains { path == $0 || path.hasSuffix("." + $0) }
        }

        // Check every pair before any arithmetic.
        var problems: [String] = []
        var pairs: [(tuned: TensorInfo, base: String)] = []
        for info in tuned.tensors {
            guard let baseName = names.resolve(info.name) else { problems.append("\(info.name): no such tensor in the base"); continue }
            let baseInfo = base.tensors.first { $0.name == baseName }!
            guard baseInfo.shape == info.shape else { problems.append("\(info.name): shape \(info.shape) but the base's is \(baseInfo.shape)"); continue }
            pairs.append((info, baseName))
        }
        guard problems.isEmpty else { throw AdapterError.doesNotFitBase(path: options.tuned, base: options.base, problems: problems) }

        // Tensors grouped by module, modules in first-seen order.
        var order: [String] = []
        var members: [String: [(tuned: TensorInfo, base: String)]] = [:]
        for pair in pairs {
            let path = module(pair.tuned.name)
            if members[path] == nil { order.append(path) }
            members[path, default: []].append(pair)
        }

        var loraTensors: [TensorData] = []
        var saved: [TensorData] = []
        var modules: [ExtractedModule] = []
        var fullModules: [String] = []
        var unchanged = 0
        var anyConv1D = false, anyLinear = false
        var done = 0
        for path in order {
            let group = members[path]!
            let weight = group.first { $0.tuned.name.hasSuffix(".weight") && $0.tuned.shape.count == 2 }
            let isEmbedding = group.contains { BaseNames.embeddingNames.contains($0.tuned.name) || $0.tuned.name.hasSuffix("wpe.weight") || BaseNames.isHead($0.tuned.name) }
            // Only a target module's 2-D weight is decomposed; of the other tensors (saved whole
            // or skipped) only the delta's norm is needed, computed block by block, so an
            // embedding never exists as float64 (three copies of it would be the peak).
            let decomposed = weight != nil && !isEmbedding && isTarget(path) ? weight!.tuned.name : nil
            // Each pair's data and delta (nil: unchanged); the module's tensors are few and small
            // next to the model (a weight and its bias), and are released when the module is done.
            var deltas: [String: (data: TensorData, delta: [Double], norm: Double)] = [:]
            for pair in group {
                let tunedData = try tuned.data(for: pair.tuned.name)
                let baseData = try base.data(for: pair.base)
                if tunedData.info.dtype == baseData.info.dtype && tunedData.bytes.count == baseData.bytes.count
                    && (tunedData.bytes.isEmpty || memcmp(tunedData.bytes.baseAddress!, baseData.bytes.baseAddress!, tunedData.bytes.count) == 0) {
                    unchanged += 1
                    continue
                }
                guard MergeKernel.supportedTypes.contains(tunedData.info.dtype), MergeKernel.supportedTypes.contains(baseData.info.dtype) else {
                    throw AdapterError.unsupportedBaseDType(tensor: pair.tuned.name, dtype: "\(baseData.info.dtype.rawValue) / \(tunedData.info.dtype.rawValue)")
                }
                if pair.tuned.name == decomposed {
                    let delta = try zip(Adapter.decodeDoubles(tunedData, path: options.tuned), Adapter.decodeDoubles(baseData, path: options.base)).map { $0 - $1 }
                    deltas[pair.tuned.name] = (tunedData, delta, delta.reduce(0) { $0 + $1 * $1 }.squareRoot())
                } else {
                    deltas[pair.tuned.name] = (tunedData, [], try deltaNorm(tunedData, baseData))
                }
            }
            defer {
                for pair in group { tuned.release(pair.tuned.name); base.release(pair.base) }
                done += group.count
                progress?(done, total)
            }
            if deltas.isEmpty { continue }

            /// The module's tensors saved whole (PEFT's modules_to_save keeps all of a module's parameters).
            func saveWhole() throws {
                for pair in group {
                    let data = try tuned.data(for: pair.tuned.name)
                    saved.append(renamed(data, Adapter.peftPrefix + path + "." + (pair.tuned.name.components(separatedBy: ".").last ?? "weight")))
                    if let change = deltas[pair.tuned.name] {
                        modules.append(ExtractedModule(tensor: pair.tuned.name, module: path, kind: .full, shape: pair.tuned.shape, rank: nil, relativeError: 0, deltaNorm: change.norm))
                    }
                }
                fullModules.append(path)
            }
            func skip() {
                for pair in group { if let change = deltas[pair.tuned.name] {
                    modules.append(ExtractedModule(tensor: pair.tuned.name, module: path, kind: .skipped, shape: pair.tuned.shape, rank: nil, relativeError: 1, deltaNorm: change.norm))
                } }
            }
            guard let weight, !isEmbedding else { try saveWhole(); continue }
            guard isTarget(path) else { skip(); continue }
            guard let change = deltas[weight.tuned.name] else { try saveWhole(); continue }
            let shape = weight.tuned.shape
            let conv1D = MergePlan.isConv1D(weight.tuned.name, names: tunedNames)
            if conv1D { anyConv1D = true } else { anyLinear = true }
            guard let factors = decompose(change.delta, rows: shape[0], columns: shape[1], norm: change.norm, options: options, transposed: conv1D) else {
                try saveWhole()
                continue
            }
            loraTensors.append(AdapterCombine.f32(Adapter.peftPrefix + path + ".lora_A.weight", factors.a, shape: [factors.rank, factors.inFeatures]))
            loraTensors.append(AdapterCombine.f32(Adapter.peftPrefix + path + ".lora_B.weight", factors.b, shape: [factors.outFeatures, factors.rank]))
            modules.append(ExtractedModule(tensor: weight.tuned.name, module: path, kind: .lora, shape: shape, rank: factors.rank, relativeError: factors.error, deltaNorm: change.norm))
            for pair in group where pair.tuned.name != weight.tuned.name {
                guard let other = deltas[pair.tuned.name] else { continue }
                if pair.tuned.name.hasSuffix(".bias") {
                    saved.append(renamed(other.data, Adapter.peftPrefix + path + ".base_layer.bias"))
                    modules.append(ExtractedModule(tensor: pair.tuned.name, module: path, kind: .bias, shape: pair.tuned.shape, rank: nil, relativeError: 0, deltaNorm: other.norm))
                } else {
                    modules.append(ExtractedModule(tensor: pair.tuned.name, module: path, kind: .skipped, shape: pair.tuned.shape, rank: nil, relativeError: 1, deltaNorm: other.norm))
                }
            }
        }
        if anyConv1D && anyLinear {
            throw AdapterError.unsupportedCombination(tensor: options.tuned, reason: "it mixes Conv1D and Linear weights; one PEFT adapter has one fan_in_fan_out (use --targets to pick one kind)")
        }
        guard !modules.filter({ $0.kind != .skipped }).isEmpty else {
            throw AdapterError.invalidOutput(path: options.output, reason: "nothing to extract: \(unchanged) tensor(s) unchanged, \(modules.count) skipped (not targets)")
        }

        let loras = modules.filter { $0.kind == .lora }
        var counts: [Int: Int] = [:]
        for m in loras { counts[m.rank!, default: 0] += 1 }
        let r = counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }?.key ?? options.rank
        let pattern = loras.filter { $0.rank != r }
        var config = PEFTConfigText(rank: r, alpha: Double(r), targets: loras.map(\.module))
        config.rankPattern = pattern.map { ($0.module, $0.rank!) }
        config.alphaPattern = pattern.map { ($0.module, Double($0.rank!)) }
        config.modulesToSave = fullModules
        config.fanInFanOut = anyConv1D
        config.bias = modules.contains { $0.kind == .bias } ? "lora_only" : "none"
        config.baseModel = options.base

        let files = try output.write(weights: "adapter_model.safetensors", tensors: loraTensors + saved, metadata: [("format", "pt")], config: config.text)
        return ExtractReport(base: options.base, tuned: options.tuned, output: options.output, modules: modules, unchanged: unchanged, rank: r,
                             files: files)
    }

    /// ||tuned - base||_F in float64, decoded a block at a time (the same sum, in the same
    /// order, as over the whole delta).
    static func deltaNorm(_ tuned: TensorData, _ base: TensorData) throws -> Double {
        let count = tuned.info.elementCount, block = 1 << 16
        guard let tunedWidth = tuned.info.dtype.byteWidth, let baseWidth = base.info.dtype.byteWidth else { return 0 }
        var a = [Double](repeating: 0, count: block), b = [Double](repeating: 0, count: block)
        var sum = 0.0
        for start in stride(from: 0, to: count, by: block) {
            let n = min(block, count - start)
            try a.withUnsafeMutableBytes {
                try DTypeConversion.convert(from: tuned.info.dtype, source: UnsafeRawBufferPointer(rebasing: tuned.bytes[(start * tunedWidth)...].prefix(n * tunedWidth)),
                                            to: .F64, destination: $0, count: n)
            }
            try b.withUnsafeMutableBytes {
                try DTypeConversion.convert(from: base.info.dtype, source: UnsafeRawBufferPointer(rebasing: base.bytes[(start * baseWidth)...].prefix(n * baseWidth)),
                                            to: .F64, destination: $0, count: n)
            }
            for j in 0..<n { let d = a[j] - b[j]; sum += d * d }
        }
        return sum.squareRoot()
    }

    struct Factors {
        var a: [Double], b: [Double]
        var rank: Int, inFeatures: Int, outFeatures: Int
        var error: Double
    }

    /// The truncated factors of a stored rows x columns delta, in PEFT's orientation
    /// (`transposed`: a Conv1D weight stored in x out); nil when they would not be smaller.
    static func decompose(_ delta: [Double], rows: Int, columns: Int, norm: Double, options: ExtractOptions, transposed: Bool) -> Factors? {
        let cap = min(options.rank, rows, columns)
        // The randomized SVD costs O(m n (R + 10)) against LAPACK's O(m n min(m, n)): used
        // for large matrices, and for a rank small next to the matrix (a quarter of its
        // smaller side, oversampling included), where it is many times cheaper.
        let small = min(rows, columns)
        let svd = small <= options.denseLimit && 4 * (cap + 10) > small
            ? SVD.thin(delta, rows: rows, columns: columns)
            : SVD.randomized(delta, rows: rows, columns: columns, rank: cap)
        let energy = norm * norm
        var r = min(cap, svd.rank)
        if let epsilon = options.svEpsilon { r = min(r, svd.s.prefix { $0 > epsilon }.count) }
        if let fraction = options.energy {
            var kept = 0.0, needed = 0
            for s in svd.s.prefix(r) {
                if kept >= fraction * energy { break }
                kept += s * s
                needed += 1
            }
            r = needed
        }
        r = max(r, 1)
        guard r * (rows + columns) < rows * columns else { return nil }
        let kept = svd.truncated(to: r)
        let error = energy > 0 ? (max(0, energy - kept.s.reduce(0) { $0 + $1 * $1 }) / energy).squareRoot() : 0
        let roots = kept.s.map { $0.squareRoot() }
        // U sqrt(S): rows x r; sqrt(S) Vᵀ: r x columns.
        var left = kept.u
        for i in 0..<rows { for j in 0..<r { left[i * r + j] *= roots[j] } }
        var right = kept.vt
        for j in 0..<r { for k in 0..<columns { right[j * columns + k] *= roots[j] } }
        if !transposed {
            return Factors(a: right, b: left, rank: r, inFeatures: columns, outFeatures: rows, error: error)
        }
        // Stored in x out = U S Vᵀ, so the out x in delta is V S Uᵀ: B = V sqrt(S), A = sqrt(S) Uᵀ.
        return Factors(a: SVD.transpose(left, rows: rows, columns: r), b: SVD.transpose(right, rows: r, columns: columns),
                       rank: r, inFeatures: rows, outFeatures: columns, error: error)
    }

    static func renamed(_ data: TensorData, _ name: String) -> TensorData {
        TensorData(info: TensorInfo(name: name, dtype: data.info.dtype, shape: data.info.shape), bytes: data.bytes, owner: data.owner)
    }

}
