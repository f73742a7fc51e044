// Attaching PEFT-style low-rank adapters to a model's projections by target name.

import Compute

extension TrainableModel {
    /// Module paths with their shapes, e.g. (`transformer.h.0.attn.c_attn`, in 768, out 2304).
    public var adaptableModules: [(name: String, inFeatures: Int, outFeatures: Int)] {
        projections.map { ($0.name, $0.inFeatures, $0.outFeatures) }
    }

    /// Projections whose module path matches one of `targets` (PEFT rule); "all" matches all.
    /// Throws when a target matches nothing, naming some real module paths.
    public func projections(matching targets: [String]) throws -> [Projection] {
        if targets.contains("all") { return projections }
        for target in targets where !projections.contains(where: { moduleMatches($0.name, target: target) }) {
            throw ModelError.unknownTarget(target: target, modules: projections.map(\.name))
        }
        return projections.filter { projection in targets.contains { moduleMatches(projection.name, target: $0) } }
    }

    /// Throws unless `rank` fits every projection `targets` match: a rank above min(in, out)
    /// adds nothing a full-rank update lacks, makes LoFT's r x r solves on BᵀB and AAᵀ
    /// singular, and its factors can be far larger than the model (--rank 100000 on a 64-wide
    /// model: 80 GB). Allocates nothing: `loft finetune` calls it before addLowRankAdapters.
    public func checkAdapterRank(_ rank: Int, targets: [String]) throws {
        guard rank > 0 else { throw ModelError.invalidInput(reason: "rank must be positive, is \(rank)") }
        if let module = try projections(matching: targets).first(where: { rank > min($0.inFeatures, $0.outFeatures) }) {
            throw ModelError.rankTooLarge(rank: rank, module: module.name, inFeatures: module.inFeatures, outFeatures: module.outFeatures)
        }
    }

    /// New adapters initialised as PEFT does (A uniform, B zero) on every matching projection,
    /// scale alpha / rank. Deterministic in `seed`: pair i draws from the stream seed + i.
    @discardableResult
    public func addLowRankAdapters(targets: [String], rank: Int, alpha: Float, seed: UInt64) throws -> [LowRankAdapter] {
        guard rank > 0 else { throw ModelError.invalidInput(reason: "rank must be positive, is \(rank)") }
        let chosen = try projections(matching: targets)
        return chosen.enumerated().map { index, projection in
            var random = SeededGenerator(seed: seed &+ UInt64(index) &* 0x9E37_79B9)
            let pair = LowRankAdapter(name: projection.name, inFeatures: projection.inFeatures, outFeatures: projection.outFeatures,
                                   rank: rank, scale: alpha / Float(rank), random: &random)
            projection.adapter = pair
            return pair
        }
    }

    /// Attaches given factors (A `rank x in`, B `out x rank`, PEFT layout) to the module `name`.
    @discardableResult
    public func setLowRankAdapter(module name: String, a: [Float], b: [Float], rank: Int, scale: Float) throws -> LowRankAdapter {
        guard let projection = projections.first(where: { $0.name == name }) else {
            throw ModelError.unknownTarget(target: name, modules: projections.map(\.name))
        }
        guard rank > 0, a.count == rank * projection.inFeatures, b.count == projection.outFeatures * rank else {
            throw ModelError.adapterMismatch(module: name, reason: "factors of \(a.count) and \(b.count) values do not fit rank \(rank), in \(projection.inFeatures), out \(projection.outFeatures)")
        }
        let pair = LowRankAdapter(name: name, inFeatures: projection.inFeatures, outFeatures: projection.outFeatures,
                               rank: rank, scale: scale, a: FloatBuffer(a), b: FloatBuffer(b))
        projection.adapter = pair
        return pair
    }

    public func removeLowRankAdapters() { for projection in projections { projection.adapter = nil } }
}
