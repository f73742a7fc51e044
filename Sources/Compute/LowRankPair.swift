// The low-rank pair dW = B A that a model's adapter branch computes with and an optimizer
// updates: both hold the same two Matrix objects, so an optimizer step moves the model's own
// factors in place.

/// A low-rank adapter dW = B A: A is r x n (PEFT's lora_A), B is m x r (lora_B). The
/// optimizer updates both matrices in place.
public final class LowRankPair: @unchecked Sendable {
    public let a: Matrix
    public let b: Matrix

    public init(a: Matrix, b: Matrix) {
        precondition(a.rows == b.columns, "LowRankPair: A is \(a.shape), B is \(b.shape); A's rows must equal B's columns")
        self.a = a
        self.b = b
    }

    public var rank: Int { a.rows }
    /// Output size m.
    public var outputSize: Int { b.rows }
    /// Input size n.
    public var inputSize: Int { a.columns }

    /// B A as a new m x n matrix.
    public func product() -> Matrix { Matrix.product(b, a) }
}
