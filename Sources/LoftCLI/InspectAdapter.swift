// `loft inspect ADAPTER_DIR`: what an adapter changes, module by module: its kind (lora,
// dora, embedding), rank, alpha, scale, the shape of the delta it adds, and the Frobenius norm
// of that delta, ||scale * B @ A||, computed without forming it:
// ||B A||^2 = sum_ij (BᵀB)_ij (A Aᵀ)_ij, two r x r Gram matrices.

import Adapters
import TensorIO

enum InspectAdapter {
    /// Whether PATH is an adapter directory (adapter_config.json beside the weights).
    static func isAdapter(_ path: String) -> Bool {
        PathStatus(path)?.isDirectory == true && PathStatus.exists(SystemPath.join(path, "adapter_config.json"))
    }

    struct Module {
        var module: String
        var kind: String
        var rank: Int
        var alpha: Double?
        var scale: Double
        var shape: [Int]
        var deltaNorm: Double
    }

    static func modules(_ adapter: Adapter) -> [Module] {
        adapter.updates.map { u in
            let a = u.a, b = u.b, r = u.rank
            var gramB = [Double](repeating: 0, count: r * r), gramA = [Double](repeating: 0, count: r * r)
            for row in 0..<u.bRows { for i in 0..<r { for j in 0..<r { gramB[i * r + j] += b[row * r + i] * b[row * r + j] } } }
            for i in 0..<r { for j in 0..<r {
                var s = 0.0
                for c in 0..<u.aColumns { s += a[i * u.aColumns + c] * a[j * u.aColumns + c] }
                gramA[i * r + j] = s
            } }
            let squared = zip(gramB, gramA).reduce(0.0) { $0 + $1.0 * $1.1 }
            let kind = u.magnitude != nil ? "dora" : u.isEmbedding ? "embedding" : "lora"
            return Module(module: u.module, kind: kind, rank: r, alpha: u.alpha, scale: u.scale,
                          shape: [u.bRows, u.aColumns], deltaNorm: abs(u.scale) * max(squared, 0).squareRoot())
        }
    }

    static func report(_ path: String, json: Bool) throws -> String {
        let adapter = try Adapter(directory: path)
        let modules = self.modules(adapter)
        let saved = adapter.replacements.map(\.target)
        if json {
            return JSON.serialize(.object([
                JSONMember("adapter", .string(path)),
                JSONMember("format", .string(adapter.format.rawValue)),
                JSONMember("weights", .string(adapter.weightsPath)),
                JSONMember("modules", .array(modules.map { m in
                    .object([
                        JSONMember("module", .string(m.module)), JSONMember("kind", .string(m.kind)),
                        JSONMember("rank", .integer(Int64(m.rank))), JSONMember("alpha", m.alpha.map { .double($0) } ?? .null),
                        JSONMember("scale", .double(m.scale)), JSONMember("shape", .array(m.shape.map { .integer(Int64($0)) })),
                        JSONMember("delta_norm", .double(m.deltaNorm)),
                    ])
                })),
                JSONMember("modules_to_save", .array(saved.map { .string($0) })),
            ]), style: .indented)
        }
        var lines = ["adapter \(path) (\(adapter.format.rawValue), \(modules.count) module(s)\(saved.isEmpty ? "" : ", \(saved.count) saved in full"))"]
        let width = modules.map(\.module.count).max() ?? 0
        for m in modules {
            let name = m.module + String(repeating: " ", count: max(0, width - m.module.count))
            var fields = [name, m.kind, "r=\(m.rank)"]
            if let alpha = m.alpha { fields.append("alpha=\(format(alpha))") }
            fields.append("scale=\(format(m.scale))")
            fields.append("\(m.shape[0])x\(m.shape[1])")
            fields.append("|delta|=\(String(format: "%.4g", m.deltaNorm))")
            lines.append("  " + fields.joined(separator: "  "))
        }
        for target in saved { lines.append("  \(target)  saved in full (modules_to_save)") }
        return lines.joined(separator: "\n")
    }

    private static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
    }
}

import Foundation
