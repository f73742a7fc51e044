// A multilayer perceptron: Linear layers with biases and one activation between them.
//
// On disk (docs/models.md): a safetensors file with `layers.N.weight` (out x in, nn.Linear)
// and `layers.N.bias` (out), N increasing but not necessarily consecutive (torch's
// nn.Sequential numbers the activations too: 0, 2, 4), and an optional `config.json`
// beside it: {"activation": "relu" | "gelu" | "tanh"} (default relu; gelu is the tanh form).
// Loss: mean squared error on float targets, or cross-entropy on integer class labels.

import Compute
import TensorIO

public enum MLPTargets {
    /// Regression targets [batch, outputs]: mean squared error over all entries.
    case regression([Float])
    /// Class labels [batch] in 0..<outputs (-100 ignored): mean cross-entropy.
    case classification([Int32])
}

public final class MLPModel: TrainableModel {
    public let layers: [Projection]
    public let activation: Activation
    public let parameters: [Parameter]
    public var projections: [Projection] { layers }
    private var activations: MLPActivations?

    public var inputFeatures: Int { layers[0].inFeatures }
    public var outputFeatures: Int { layers[layers.count - 1].outFeatures }

    public init(layers: [Projection], activation: Activation) throws {
        guard !layers.isEmpty else { throw ModelError.invalidInput(reason: "an MLP needs at least one layer") }
        for (previous, next) in zip(layers, layers.dropFirst()) where previous.outFeatures != next.inFeatures {
            throw ModelError.invalidInput(reason: "\(previous.name) gives \(previous.outFeatures) features, \(next.name) takes \(next.inFeatures)")
        }
        self.layers = layers
        self.activation = activation
        parameters = layers.flatMap(\.parameters)
    }

    /// Every `layers.N.weight` (+ optional `layers.N.bias`) of `reader`, in order of N.
    /// Every layer: an MLP has no conventional subset.
    public var defaultTargets: [String] { ["all"] }

    public convenience init(reader: TensorReader, activation: Activation) throws {
        var indices: [Int] = []
        for info in reader.tensors {
            let parts = info.name.split(separator: ".")
            guard parts.count == 3, parts[0] == "layers", parts[2] == "weight" || parts[2] == "bias", let index = Int(parts[1]) else {
                throw ModelError.invalidConfig(path: reader.path, reason: "tensor '\(info.name)' is not layers.N.weight or layers.N.bias")
            }
            if parts[2] == "weight" { indices.append(index) }
        }
        guard !indices.isEmpty else { throw ModelError.missingTensor(path: reader.path, name: "layers.0.weight") }
        let layers = try indices.sorted().map { index -> Projection in
            let name = "layers.\(index)"
            let info = reader.info(for: name + ".weight")!
            guard info.shape.count == 2 else {
                throw ModelError.shapeMismatch(path: reader.path, name: name + ".weight", expected: [-1, -1], found: info.shape)
            }
            let weight = Parameter(name: name + ".weight", shape: info.shape, value: try loadFloats(reader, name: name + ".weight", shape: info.shape))
            let bias = try reader.info(for: name + ".bias").map { _ in
                Parameter(name: name + ".bias", shape: [info.shape[0]], value: try loadFloats(reader, name: name + ".bias", shape: [info.shape[0]]))
            }
            return Projection(name: name, weight: weight, bias: bias, layout: .outIn)
        }
        try self.init(layers: layers, activation: activation)
    }

    /// Widths [in, hidden..., out], initialised as nn.Linear: U(-1/sqrt(in), 1/sqrt(in)) for
    /// weights and biases. Named layers.0, layers.2, ... as nn.Sequential would.
    public convenience init(randomlyInitialized widths: [Int], activation: Activation, seed: UInt64) throws {
        guard widths.count >= 2, widths.allSatisfy({ $0 > 0 }) else { throw ModelError.invalidInput(reason: "widths \(widths) need at least in and out, all positive") }
        var random = SeededGenerator(seed: seed)
        let layers = (0..<(widths.count - 1)).map { i -> Projection in
            let (inFeatures, outFeatures) = (widths[i], widths[i + 1])
            let bound = 1 / Float(inFeatures).squareRoot()
            let weight = Parameter(name: "layers.\(2 * i).weight", shape: [outFeatures, inFeatures])
            let bias = Parameter(name: "layers.\(2 * i).bias", shape: [outFeatures])
            for j in 0..<weight.count { weight.value[j] = random.uniform(-bound, bound) }
            for j in 0..<bias.count { bias.value[j] = random.uniform(-bound, bound) }
            return Projection(name: "layers.\(2 * i)", weight: weight, bias: bias, layout: .outIn)
        }
        try self.init(layers: layers, activation: activation)
    }

    /// The activation named by a config.json (`{"activation": ...}`); relu when absent.
    public static func activation(json: JSONValue, path: String) throws -> Activation {
        guard let name = json["activation"]?.stringValue else { return .relu }
        guard let activation = Activation(name: name) else {
            throw ModelError.invalidConfig(path: path, reason: "activation '\(name)' is not one of relu, gelu, tanh")
        }
        return activation
    }

    /// Runs inputs [batch, inputFeatures]; with targets returns the mean loss and prepares backward.
    @discardableResult
    public func forward(inputs: [Float], batch: Int, targets: MLPTargets? = nil) throws -> Float? {
        guard batch > 0, inputs.count == batch * inputFeatures else {
            throw ModelError.invalidInput(reason: "\(inputs.count) inputs for batch \(batch) x \(inputFeatures) features")
        }
        if activations?.batch != batch { activations = MLPActivations(layers: layers, batch: batch) }
        let act = activations!
        act.adapters.prepare(layers, rows: batch)
        act.input.pointer.update(from: inputs, count: inputs.count)
        act.targets = targets
        act.readyForBackward = false
        var x = act.input
        for (index, layer) in layers.enumerated() {
            layer.forward(output: act.preActivations[index].pointer, input: x.pointer,
                          adapterHidden: act.adapters[index], rows: batch)
            if index + 1 < layers.count {
                activation.forward(output: act.postActivations[index].pointer, input: act.preActivations[index].pointer,
                                   count: batch * layer.outFeatures)
                x = act.postActivations[index]
            }
        }
        guard let targets else { return nil }
        let output = act.preActivations[layers.count - 1].pointer
        switch targets {
        case let .regression(values):
            guard values.count == batch * outputFeatures else {
                throw ModelError.invalidInput(reason: "\(values.count) regression targets for batch \(batch) x \(outputFeatures) outputs")
            }
            act.readyForBackward = true
            return values.withUnsafeBufferPointer { MeanSquaredError.forward(prediction: output, target: $0.baseAddress!, count: values.count) }
        case let .classification(labels):
            guard labels.count == batch else { throw ModelError.invalidInput(reason: "\(labels.count) labels for batch \(batch)") }
            if let bad = labels.first(where: { ($0 < 0 || Int($0) >= outputFeatures) && $0 != CrossEntropy.ignoreIndex }) {
                throw ModelError.invalidInput(reason: "label \(bad) is outside 0..<\(outputFeatures)")
            }
            let (loss, count) = labels.withUnsafeBufferPointer {
                CrossEntropy.forward(logits: output, targets: $0.baseAddress!, rows: batch, classes: outputFeatures)
            }
            act.countedTargets = count
            act.readyForBackward = true
            return loss
        }
    }

    /// Outputs [batch, outputFeatures] of the last forward (backward leaves them intact).
    public var outputs: UnsafeBufferPointer<Float> {
        guard let act = activations else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: act.preActivations[layers.count - 1].pointer, count: act.batch * outputFeatures)
    }

    /// Adds the loss gradient to every trainable parameter and adapter factor.
    public func backward() {
        guard let act = activations, act.readyForBackward, let targets = act.targets else {
            preconditionFailure("MLPModel.backward() needs a forward(inputs:batch:targets:) first")
        }
        act.readyForBackward = false
        let batch = act.batch, last = layers.count - 1
        let output = act.preActivations[last].pointer
        var gradient = act.gradientA, other = act.gradientB
        switch targets {
        case let .regression(values):
            values.withUnsafeBufferPointer {
                MeanSquaredError.backward(inputGradient: gradient.pointer, prediction: output, target: $0.baseAddress!, count: values.count)
            }
        case let .classification(labels):
            gradient.pointer.update(from: output, count: batch * outputFeatures)
            labels.withUnsafeBufferPointer {
                CrossEntropy.backward(logitsToGradient: gradient.pointer, targets: $0.baseAddress!, rows: batch,
                                      classes: outputFeatures, count: act.countedTargets)
            }
        }
        for index in stride(from: last, through: 0, by: -1) {
            let layer = layers[index]
            let input = index == 0 ? act.input : act.postActivations[index - 1]
            layer.backward(inputGradient: index == 0 ? nil : other.pointer, outputGradient: gradient.pointer, input: input.pointer,
                           adapterHidden: act.adapters[index], adapterScratch: act.adapters.scratch.pointer, rows: batch)
            if index > 0 {
                activation.backward(inputGradient: other.pointer, outputGradient: other.pointer,
                                    input: act.preActivations[index - 1].pointer, count: batch * layer.inFeatures)
                swap(&gradient, &other)
            }
        }
    }
}

final class MLPActivations {
    let batch: Int
    let input: FloatBuffer
    let preActivations: [FloatBuffer]
    let postActivations: [FloatBuffer]
    let gradientA: FloatBuffer, gradientB: FloatBuffer
    let adapters = AdapterActivations()
    var targets: MLPTargets?
    var countedTargets = 0
    var readyForBackward = false

    init(layers: [Projection], batch: Int) {
        self.batch = batch
        input = FloatBuffer(count: batch * layers[0].inFeatures)
        preActivations = layers.map { FloatBuffer(count: batch * $0.outFeatures) }
        postActivations = layers.dropLast().map { FloatBuffer(count: batch * $0.outFeatures) }
        let widest = layers.map { max($0.inFeatures, $0.outFeatures) }.max()!
        gradientA = FloatBuffer(count: batch * widest)
        gradientB = FloatBuffer(count: batch * widest)
    }
}
