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

extension Parameter {
    /// out[i] = row `indices[i]` of this 2-D table (an embedding lookup), whichever way the
    /// table is held: a 16-bit or quantized table widens only the rows asked for.
    public func gatherRows(into out: UnsafeMutablePointer<Float>, indices: UnsafeBufferPointer<Int32>) {
        precondition(shape.count == 2, "\(name): gatherRows needs a 2-D table")
        let width = shape[1]
        if let compact {
            precondition(!compactIsTransposed, "\(name): an embedding table held transposed")
            for (i, index) in indices.enumerated() { compact.widenRow(Int(index), into: out + i * width) }
        } else {
            let table = value.pointer
            for (i, index) in indices.enumerated() { (out + i * width).update(from: table + Int(index) * width, count: width) }
        }
    }

    /// out[j] += row `index` of this 2-D table.
    public func addRow(_ index: Int, into out: UnsafeMutablePointer<Float>) {
        let width = shape[1]
        if let compact {
            precondition(!compactIsTransposed, "\(name): an embedding table held transposed")
            let row = UnsafeMutablePointer<Float>.allocate(capacity: width)
            defer { row.deallocate() }
            compact.widenRow(index, into: row)
            for j in 0..<width { out[j] += row[j] }
        } else {
            let row = value.pointer + index * width
            for j in 0..<width { out[j] += row[j] }
        }
    }
}

extension Embedding {
    /// x[b, t] = wte[token[b, t]] + wpe[t] with the tables as Parameters (either may be
    /// held in 16 bits).
    public static func forward(output x: UnsafeMutablePointer<Float>, tokens: UnsafeBufferPointer<Int32>,
                               tokenTable wte: Parameter, positionTable wpe: Parameter, firstPosition: Int = 0, sequence: Int) {
        let channels = wte.shape[1]
        wte.gatherRows(into: x, indices: tokens)
        for row in 0..<tokens.count { wpe.addRow(firstPosition + row % sequence, into: x + row * channels) }
    }
}
