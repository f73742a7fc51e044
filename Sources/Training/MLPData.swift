// MLP data from an .npz: `x` float [rows, inputs] (float32 or float64), `y` either float
// [rows, outputs] (regression, MSE) or integer [rows] (classification, class ids). Shapes are
// checked against the model before training.

import Models
import TensorIO

public struct MLPData: Sendable {
    public let path: String
    public let rows: Int
    public let inputFeatures: Int
    public let inputs: [Float]
    public enum Targets: Sendable {
        case regression(values: [Float], outputs: Int)
        case classification(labels: [Int32])
    }
    public let targets: Targets

    public init(path: String, inputs: [Float], inputFeatures: Int, targets: Targets) {
        self.path = path
        self.inputs = inputs
        self.inputFeatures = inputFeatures
        self.rows = inputs.count / max(inputFeatures, 1)
        self.targets = targets
    }

    public init(path: String) throws {
        let reader = try NpzReader(path: path)
        func array(_ name: String) throws -> TensorInfo {
            guard let info = reader.info(for: name) else { throw TrainingError.missingArray(path: path, name: name) }
            return info
        }
        let x = try array("x"), y = try array("y")
        guard x.shape.count == 2 else { throw TrainingError.arrayShape(path: path, name: "x", expected: "[rows, features]", found: x.shape) }
        let rows = x.shape[0]
        let inputs = try MLPData.floats(reader, x, path: path)
        let targets: Targets
        switch y.dtype {
        case .F32, .F64:
            guard y.shape.count == 2, y.shape[0] == rows else {
                throw TrainingError.arrayShape(path: path, name: "y", expected: "[\(rows), outputs] (regression targets)", found: y.shape)
            }
            targets = .regression(values: try MLPData.floats(reader, y, path: path), outputs: y.shape[1])
        case .I64, .I32, .U8, .I16, .U16, .I8:
            guard y.shape == [rows] else {
                throw TrainingError.arrayShape(path: path, name: "y", expected: "[\(rows)] (class ids)", found: y.shape)
            }
            let data = try reader.data(for: "y")
            let labels: [Int64]
            switch y.dtype {
            case .I64: labels = data.withElements(as: Int64.self) { $0.map { $0 } }
            case .I32: labels = data.withElements(as: Int32.self) { $0.map(Int64.init) }
            case .I16: labels = data.withElements(as: Int16.self) { $0.map(Int64.init) }
            case .U16: labels = data.withElements(as: UInt16.self) { $0.map(Int64.init) }
            case .I8: labels = data.withElements(as: Int8.self) { $0.map(Int64.init) }
            default: labels = data.withElements(as: UInt8.self) { $0.map(Int64.init) }
            }
            if let bad = labels.first(where: { $0 < 0 || $0 > Int64(Int32.max) }) {
                throw TrainingError.classOutOfRange(path: path, id: bad)
            }
            targets = .classification(labels: labels.map { Int32($0) })
        default:
            throw TrainingError.arrayDType(path: path, name: "y", dtype: y.dtype, expected: "float (regression) or integer (classification)")
        }
        self.init(path: path, inputs: inputs, inputFeatures: x.shape[1], targets: targets)
    }

    static func floats(_ reader: TensorReader, _ info: TensorInfo, path: String) throws -> [Float] {
        let data = try reader.data(for: info.name)
        switch info.dtype {
        case .F32: return data.withElements(as: Float.self) { Array($0) }
        case .F64: return data.withElements(as: Double.self) { $0.map { Float($0) } }
        default: throw TrainingError.arrayDType(path: path, name: info.name, dtype: info.dtype, expected: "float32 or float64")
        }
    }

    /// Checks the arrays fit `model` (input width, output width, class ids in range).
    public func check(against model: MLPModel) throws {
        guard inputFeatures == model.inputFeatures else {
            throw TrainingError.arrayShape(path: path, name: "x", expected: "[rows, \(model.inputFeatures)] (the model's input width)", found: [rows, inputFeatures])
        }
        switch targets {
        case let .regression(values, outputs):
            guard outputs == model.outputFeatures else {
                throw TrainingError.arrayShape(path: path, name: "y", expected: "[rows, \(model.outputFeatures)] (the model's output width)", found: [values.count / max(outputs, 1), outputs])
            }
        case let .classification(labels):
            if let index = labels.firstIndex(where: { Int($0) >= model.outputFeatures }) {
                throw TrainingError.tokenOutOfVocabulary(path: path, index: index, id: Int64(labels[index]), vocabularySize: model.outputFeatures)
            }
        }
    }

    /// The rows [lower, upper) as a new data set (eval split: the tail).
    public func slice(_ range: Range<Int>) -> MLPData {
        let x = Array(inputs[(range.lowerBound * inputFeatures)..<(range.upperBound * inputFeatures)])
        switch targets {
        case let .regression(values, outputs):
            return MLPData(path: path, inputs: x, inputFeatures: inputFeatures,
                           targets: .regression(values: Array(values[(range.lowerBound * outputs)..<(range.upperBound * outputs)]), outputs: outputs))
        case let .classification(labels):
            return MLPData(path: path, inputs: x, inputFeatures: inputFeatures, targets: .classification(labels: Array(labels[range])))
        }
    }

    public func batch(rows selected: [Int]) -> (inputs: [Float], targets: MLPTargets) {
        var x: [Float] = []
        x.reserveCapacity(selected.count * inputFeatures)
        for row in selected { x.append(contentsOf: inputs[(row * inputFeatures)..<((row + 1) * inputFeatures)]) }
        switch targets {
        case let .regression(values, outputs):
            var y: [Float] = []
            for row in selected { y.append(contentsOf: values[(row * outputs)..<((row + 1) * outputs)]) }
            return (x, .regression(y))
        case let .classification(labels):
            return (x, .classification(selected.map { labels[$0] }))
        }
    }
}
