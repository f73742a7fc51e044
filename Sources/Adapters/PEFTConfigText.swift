// The adapter_config.json loft writes for adapters it builds (extract, convert --to peft):
// the LoraConfig keys PEFT 0.21 needs to load the adapter, every module listed by its full
// path in target_modules (PEFT wraps exactly those), per-module ranks and alphas as patterns.

import TensorIO

struct PEFTConfigText {
    var rank: Int
    var alpha: Double
    var rankPattern: [(module: String, value: Int)] = []
    var alphaPattern: [(module: String, value: Double)] = []
    var targets: [String]
    var modulesToSave: [String] = []
    var fanInFanOut = false
    var bias = "none"
    var dora = false
    var baseModel: String?

    init(rank: Int, alpha: Double, targets: [String]) {
        self.rank = rank
        self.alpha = alpha
        self.targets = targets
    }

    static func number(_ value: Double) -> JSONValue {
        value == value.rounded() && abs(value) < 1e15 ? .integer(Int64(value)) : .double(value)
    }

    var json: JSONValue {
        let members: [(String, JSONValue)] = [
            ("alpha_pattern", .object(alphaPattern.map { JSONMember($0.module, Self.number($0.value)) })),
            ("base_model_name_or_path", baseModel.map { .string($0) } ?? .null),
            ("bias", .string(bias)), ("fan_in_fan_out", .bool(fanInFanOut)),
            ("inference_mode", .bool(true)), ("init_lora_weights", .bool(true)),
            ("lora_alpha", Self.number(alpha)), ("lora_dropout", .double(0)),
            ("modules_to_save", modulesToSave.isEmpty ? .null : .array(modulesToSave.map { .string($0) })),
            ("peft_type", .string("LORA")), ("r", .integer(Int64(rank))),
            ("rank_pattern", .object(rankPattern.map { JSONMember($0.module, .integer(Int64($0.value))) })),
            ("target_modules", .array(targets.map { .string($0) })), ("task_type", .string("CAUSAL_LM")),
            ("use_dora", .bool(dora)), ("use_rslora", .bool(false)),
        ]
        return .object(members.map { JSONMember($0.0, $0.1) })
    }

    var text: String { JSON.serialize(json, style: .indentedSortedKeys) + "\n" }
}
