// Fresh weights as transformers' `_init_weights` makes them for its decoder language models
// (GPT2PreTrainedModel, LlamaPreTrainedModel and the LLaMA-like ones): biases 0, norm weights
// (every vector that is not a bias) 1, matrices and embeddings N(0, std), std the config's
// initializer_range (0.02) unless the family scales a layer down.

import Compute

func initializedParameter(_ name: String, _ shape: [Int], std: Float, random: inout SeededGenerator) -> Parameter {
    let parameter = Parameter(name: name, shape: shape)
    let value = parameter.value
    if name.hasSuffix(".bias") {
        // zero, as allocated
    } else if shape.count == 1 {
        for i in 0..<value.count { value[i] = 1 }
    } else {
        for i in 0..<value.count { value[i] = std * random.normal() }
    }
    return parameter
}
