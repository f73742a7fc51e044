// A mergekit merge configuration (the YAML `mergekit-yaml` reads), parsed with Yams into
// loft's own types and checked before any model is opened:
//
//   merge_method: ties                      one of ModelMergeMethod
//   base_model: path                        required by the task-arithmetic family, slerp, model_stock
//   models:                                 either models ...
//     - model: path
//       parameters: {weight: 0.5, density: 0.7}
//   slices:                                 ... or slices (layer stacking, per-slice merges)
//     - sources:
//         - model: path
//           layer_range: [0, 4]
//   parameters: {normalize: true, t: [0, 0.5, 1]}
//   dtype: float32                          inputs are cast to this before merging
//   out_dtype: bfloat16                     the written tensors' dtype
//   tokenizer_source: base                  only `base` (the default) is supported
//
// A parameter is a scalar, a gradient (a list of numbers interpolated along the layers of a
// slice), or a list of {filter, value} conditions matched against the tensor name (mergekit's
// ParameterSetting). Keys mergekit knows but loft does not implement (modules, tokenizer,
// chat_template, union tokenizers, model+lora references) are refused by name, as are unknown
// keys: a typo should not silently merge something else.

import Foundation
import TensorIO
import Yams

public enum ModelMergeMethod: String, Sendable, CaseIterable {
    case linear
    case slerp
    case taskArithmetic = "task_arithmetic"
    case ties
    case dareLinear = "dare_linear"
    case dareTies = "dare_ties"
    case breadcrumbs
    case breadcrumbsTies = "breadcrumbs_ties"
    case modelStock = "model_stock"
    case passthrough

    /// The task-arithmetic family (mergekit's GeneralizedTaskArithmeticMerge).
    var isTaskArithmetic: Bool {
        switch self {
        case .taskArithmetic, .ties, .dareLinear, .dareTies, .breadcrumbs, .breadcrumbsTies: return true
        default: return false
        }
    }

    var needsBase: Bool { isTaskArithmetic || self == .slerp || self == .modelStock }

    /// Parameters that take one value per tensor, with their defaults (nil: required, or
    /// absent for `scale`).
    var sharedParameters: [(name: String, fallback: ParameterValue?)] {
        switch self {
        case .linear: return [("normalize", .bool(true))]
        case .slerp: return [("t", nil)]
        case .modelStock: return [("filter_wise", .bool(false))]
        case .passthrough: return []
        default:
            let normalizes = self == .ties
            let rescales = self == .dareLinear || self == .dareTies
            return [("int8_mask", .bool(false)), ("normalize", .bool(normalizes)), ("rescale", .bool(rescales)), ("lambda", .number(1))]
        }
    }

    /// Parameters that take one value per input model (per tensor).
    var inputParameters: [String] {
        switch self {
        case .linear: return ["weight"]
        case .passthrough: return ["scale"]
        case .breadcrumbs, .breadcrumbsTies: return ["weight", "density", "gamma"]
        default: return isTaskArithmetic ? ["weight", "density"] : []
        }
    }
}

/// One YAML scalar as a parameter value.
public enum ParameterValue: Sendable, Equatable {
    case number(Double)
    case bool(Bool)
    case string(String)

    var number: Double? {
        switch self {
        case let .number(x): return x
        case let .string(s): return Double(s)  // YAML 1.1 reads 1e-3 as a string; mergekit takes it
        case .bool: return nil
        }
    }

    var bool: Bool? {
        switch self {
        case let .bool(b): return b
        case let .number(x) where x == 0 || x == 1: return x == 1
        default: return nil
        }
    }
}

/// mergekit's ParameterSetting: a value, a gradient, or conditions on the tensor name.
public indirect enum ParameterSetting: Sendable, Equatable {
    case value(ParameterValue)
    case gradient([ParameterValue])
    case conditions([(filter: String?, setting: ParameterSetting)])

    public static func == (a: ParameterSetting, b: ParameterSetting) -> Bool {
        switch (a, b) {
        case let (.value(x), .value(y)): return x == y
        case let (.gradient(x), .gradient(y)): return x == y
        case let (.conditions(x), .conditions(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.filter == $1.filter && $0.setting == $1.setting }
        default: return false
        }
    }

    /// The value for `tensor` at position t (0...1) along its slice's layers, or nil when no
    /// condition matches (the next, less specific, parameter block is asked then).
    func evaluate(tensor: String, t: Double) -> ParameterValue? {
        switch self {
        case let .value(v): return v
        case let .gradient(values):
            guard !values.isEmpty else { return nil }
            let numbers = values.compactMap { v -> Double? in if case .bool = v { return nil } else { return v.number } }
            guard numbers.count == values.count else { return values[Int(t * Double(values.count - 1))] }
            let scaled = t * Double(values.count - 1)
            let i0 = Int(scaled), i1 = min(values.count - 1, i0 + 1)
            let fraction = scaled - Double(i0)
            return .number((1 - fraction) * numbers[i0] + fraction * numbers[i1])
        case let .conditions(list):
            for (filter, setting) in list where filter == nil || filter == "*" || tensor.contains(filter!) {
                return setting.evaluate(tensor: tensor, t: t)
            }
            return nil
        }
    }
}

public typealias ParameterBlock = [String: ParameterSetting]

public struct SliceSource: Sendable {
    public var model: String
    /// nil: every layer of the model (the `models:` form).
    public var layerRange: Range<Int>?
    public var parameters: ParameterBlock
}

public struct OutputSlice: Sendable {
    public var sources: [SliceSource]
    public var parameters: ParameterBlock
    public var baseModel: String?
}

public struct ModelMergeConfig: Sendable {
    public var method: ModelMergeMethod
    public var baseModel: String?
    /// The `models:` form becomes one slice over all layers; `slices:` are kept as given.
    public var slices: [OutputSlice]
    public var usesSlices: Bool
    public var parameters: ParameterBlock
    public var dtype: DType?
    public var outDtype: DType?
    /// The YAML as read, written beside the merged model as mergekit_config.yml.
    public var text: String

    /// Every model the configuration reads, base first, each once.
    public var referencedModels: [String] {
        var seen: [String] = []
        for path in [baseModel].compactMap({ $0 }) + slices.flatMap({ [$0.baseModel].compactMap { $0 } + $0.sources.map(\.model) })
        where !seen.contains(path) { seen.append(path) }
        return seen
    }
}

public struct ModelMergeConfigError: Error, CustomStringConvertible {
    public var path: String
    public var problem: String
    public var description: String { "\(path): \(problem)" }
}

extension ModelMergeConfig {
    public static func read(_ path: String) throws -> ModelMergeConfig {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ModelMergeConfigError(path: path, problem: PathStatus.exists(path) ? "not readable UTF-8 text" : "no such file")
        }
        return try parse(text, path: path).resolvingModels(besideConfig: path)
    }

    /// mergekit reads a relative model path from the current directory; loft does too, and
    /// when nothing is there, looks beside the YAML (so a configuration can travel with its
    /// models).
    func resolvingModels(besideConfig path: String) -> ModelMergeConfig {
        let directory = SystemPath.parent(path)
        func resolve(_ model: String) -> String {
            if model.hasPrefix("/") || PathStatus.exists(model) { return model }
            let beside = SystemPath.join(directory, model)
            return PathStatus.exists(beside) ? beside : model
        }
        var out = self
        out.baseModel = baseModel.map(resolve)
        for i in out.slices.indices {
            out.slices[i].baseModel = out.slices[i].baseModel.map(resolve)
            for j in out.slices[i].sources.indices { out.slices[i].sources[j].model = resolve(out.slices[i].sources[j].model) }
        }
        return out
    }

    public static func parse(_ text: String, path: String) throws -> ModelMergeConfig {
        func fail(_ problem: String) -> ModelMergeConfigError { ModelMergeConfigError(path: path, problem: problem) }
        let document: Any?
        do { document = try Yams.load(yaml: text) } catch {
            // Yams quotes the offending line under its message: keep the message, one line.
            let message = "\(error)".split(separator: "\n").prefix(2).joined(separator: ": ")
                .trimmingCharacters(in: CharacterSet(charactersIn: ": "))
            throw fail("not valid YAML: \(message)")
        }
        guard let root = document as? [String: Any] else { throw fail("expected a mapping with merge_method and models or slices") }

        let known = ["merge_method", "base_model", "models", "slices", "parameters", "dtype", "out_dtype", "tokenizer_source"]
        let refused = ["modules": "per-module merges", "tokenizer": "tokenizer merging", "chat_template": "chat templates"]
        for key in root.keys.sorted() where !known.contains(key) {
            if let what = refused[key] { throw fail("\(key): \(what) are not supported by loft") }
            throw fail("unknown key \(key) (known: \(known.joined(separator: ", ")))")
        }
        guard let methodName = root["merge_method"] else { throw fail("merge_method is missing") }
        guard let name = methodName as? String, let method = ModelMergeMethod(rawValue: name) else {
            throw fail("merge_method \(methodName): not one of \(ModelMergeMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let baseModel = try root["base_model"].map { try modelReference($0, at: "base_model", fail) }
        let parameters = try block(root["parameters"], at: "parameters", method: method, fail)

        var slices: [OutputSlice] = []
        let usesSlices: Bool
        switch (root["models"], root["slices"]) {
        case let (models?, nil):
            usesSlices = false
            guard let list = models as? [Any], !list.isEmpty else { throw fail("models: expected a non-empty list") }
            let sources = try list.enumerated().map { i, entry -> SliceSource in
                let at = "models[\(i)]"
                guard let map = entry as? [String: Any] else { throw fail("\(at): expected a mapping with model and parameters") }
                for key in map.keys where !["model", "parameters"].contains(key) { throw fail("\(at): unknown key \(key)") }
                guard let model = map["model"] else { throw fail("\(at).model is missing") }
                return SliceSource(model: try modelReference(model, at: "\(at).model", fail), layerRange: nil,
                                   parameters: try block(map["parameters"], at: "\(at).parameters", method: method, fail))
            }
            slices = [OutputSlice(sources: sources, parameters: [:], baseModel: nil)]
        case let (nil, given?):
            usesSlices = true
            guard let list = given as? [Any], !list.isEmpty else { throw fail("slices: expected a non-empty list") }
            for (i, entry) in list.enumerated() {
                let at = "slices[\(i)]"
                guard let map = entry as? [String: Any], let sourceList = map["sources"] as? [Any], !sourceList.isEmpty else {
                    throw fail("\(at): expected a mapping with a non-empty sources list")
                }
                for key in map.keys where !["sources", "parameters", "base_model"].contains(key) {
                    throw fail("\(at): \(key == "residual_weight" ? "residual_weight is not supported" : "unknown key \(key)")")
                }
                let sources = try sourceList.enumerated().map { j, source -> SliceSource in
                    let sat = "\(at).sources[\(j)]"
                    guard let smap = source as? [String: Any] else { throw fail("\(sat): expected a mapping with model and layer_range") }
                    for key in smap.keys where !["model", "layer_range", "parameters"].contains(key) { throw fail("\(sat): unknown key \(key)") }
                    guard let model = smap["model"] else { throw fail("\(sat).model is missing") }
                    guard let range = smap["layer_range"] as? [Any], range.count == 2,
                          let start = range[0] as? Int, let end = range[1] as? Int, 0 <= start, start < end
                    else { throw fail("\(sat).layer_range: expected [start, end] with 0 <= start < end") }
                    return SliceSource(model: try modelReference(model, at: "\(sat).model", fail), layerRange: start..<end,
                                       parameters: try block(smap["parameters"], at: "\(sat).parameters", method: method, fail))
                }
                if Set(sources.map { $0.layerRange!.count }).count > 1 {
                    throw fail("\(at): every source of a slice must have the same number of layers")
                }
                slices.append(OutputSlice(sources: sources, parameters: try block(map["parameters"], at: "\(at).parameters", method: method, fail),
                                          baseModel: try map["base_model"].map { try modelReference($0, at: "\(at).base_model", fail) }))
            }
        default:
            throw fail("give exactly one of models or slices")
        }

        func dtype(_ key: String) throws -> DType? {
            guard let value = root[key] else { return nil }
            let names: [String: DType] = ["float32": .F32, "float16": .F16, "bfloat16": .BF16, "float64": .F64,
                                          "fp32": .F32, "fp16": .F16, "bf16": .BF16, "f32": .F32, "f16": .F16]
            guard let name = value as? String, let type = names[name.lowercased()] else {
                throw fail("\(key) \(value): expected float32, float16, bfloat16 or float64")
            }
            return type
        }
        if let source = root["tokenizer_source"], !(source is NSNull), (source as? String) != "base" {
            throw fail("tokenizer_source \(source): only `base` is supported (the tokenizer is copied from the base model)")
        }
        if method == .passthrough, let slice = slices.firstIndex(where: { $0.sources.count > 1 }) {
            throw fail("slices[\(slice)]: passthrough takes one source per slice")
        }
        if method.needsBase && baseModel == nil && slices.contains(where: { $0.baseModel == nil }) {
            throw fail("\(method.rawValue) needs base_model")
        }
        return ModelMergeConfig(method: method, baseModel: baseModel, slices: slices, usesSlices: usesSlices,
                                parameters: parameters, dtype: try dtype("dtype"), outDtype: try dtype("out_dtype"), text: text)
    }

    private static func modelReference(_ value: Any, at: String, _ fail: (String) -> ModelMergeConfigError) throws -> String {
        if let map = value as? [String: Any] {
            // mergekit's long form: {model: {path: ...}} or {path: ...}
            if let inner = map["model"] { return try modelReference(inner, at: at, fail) }
            if let path = map["path"] as? String, map["lora"] == nil { return path }
        }
        guard let path = value as? String, !path.isEmpty else { throw fail("\(at): expected a model path") }
        if path.contains("+") { throw fail("\(at): \(path): model+LoRA references are not supported (merge the adapter first with loft merge --adapter)") }
        return path
    }

    private static func block(_ value: Any?, at: String, method: ModelMergeMethod, _ fail: (String) -> ModelMergeConfigError) throws -> ParameterBlock {
        guard let value, !(value is NSNull) else { return [:] }
        guard let map = value as? [String: Any] else { throw fail("\(at): expected a mapping of parameter names to values") }
        let allowed = method.sharedParameters.map(\.name) + method.inputParameters
        var out: ParameterBlock = [:]
        for (key, raw) in map {
            guard allowed.contains(key) else {
                throw fail("\(at).\(key): not a parameter of \(method.rawValue) (its parameters: \(allowed.joined(separator: ", ")))")
            }
            out[key] = try setting(raw, at: "\(at).\(key)", fail)
        }
        return out
    }

    private static func setting(_ value: Any, at: String, _ fail: (String) -> ModelMergeConfigError) throws -> ParameterSetting {
        if let scalar = scalarValue(value) { return .value(scalar) }
        if let list = value as? [Any] {
            if list.allSatisfy({ $0 is [String: Any] }) {
                return .conditions(try list.enumerated().map { i, item in
                    let map = item as! [String: Any]
                    guard let inner = map["value"] else { throw fail("\(at)[\(i)]: a condition needs value (and optionally filter)") }
                    for key in map.keys where key != "value" && key != "filter" { throw fail("\(at)[\(i)]: unknown key \(key)") }
                    return (map["filter"] as? String, try setting(inner, at: "\(at)[\(i)].value", fail))
                })
            }
            let scalars = list.compactMap(scalarValue)
            guard scalars.count == list.count, !scalars.isEmpty else { throw fail("\(at): expected a value, a list of values, or a list of {filter, value}") }
            return .gradient(scalars)
        }
        if let map = value as? [String: Any], let inner = map["value"] {
            return .conditions([(map["filter"] as? String, try setting(inner, at: "\(at).value", fail))])
        }
        throw fail("\(at): expected a value, a list of values, or a list of {filter, value}")
    }

    private static func scalarValue(_ value: Any) -> ParameterValue? {
        switch value {
        case let b as Bool: return .bool(b)
        case let i as Int: return .number(Double(i))
        case let d as Double: return .number(d)
        case let s as String: return .string(s)
        default: return nil
        }
    }
}
