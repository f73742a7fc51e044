// Token + position embeddings (GPT-2's wte and wpe): x[b, t] = wte[token[b, t]] + wpe[t].

public enum Embedding {
    public static func forward(
        output x: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>,
        tokenTable wte: UnsafePointer<Float>, positionTable wpe: UnsafePointer<Float>,
        batch: Int, sequence: Int, channels: Int
    ) {
        for b in 0..<batch {
            for t in 0..<sequence {
                let row = b * sequence + t
                let out = x + row * channels
                let token = wte + Int(tokens[row]) * channels, position = wpe + t * channels
                for j in 0..<channels { out[j] = token[j] + position[j] }
            }
        }
    }

    /// dwte[token] += dx[b, t], dwpe[t] += dx[b, t] (either may be nil when frozen).
    /// Sequential: a token repeated in the batch writes the same row.
    public static func backward(
        tokenTableGradient dwte: UnsafeMutablePointer<Float>?, positionTableGradient dwpe: UnsafeMutablePointer<Float>?,
        outputGradient dx: UnsafePointer<Float>, tokens: UnsafePointer<Int32>,
        batch: Int, sequence: Int, channels: Int
    ) {
        for b in 0..<batch {
            for t in 0..<sequence {
                let row = b * sequence + t
                let grad = dx + row * channels
                if let dwte {
                    let token = dwte + Int(tokens[row]) * channels
                    for j in 0..<channels { token[j] += grad[j] }
                }
                if let dwpe {
                    let position = dwpe + t * channels
                    for j in 0..<channels { position[j] += grad[j] }
                }
            }
        }
    }
}
