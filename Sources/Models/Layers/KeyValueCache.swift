// Incremental decoding, whichever family: the keys and values of the tokens seen so far are
// kept, so each new token costs one row through the model instead of a forward over the
// whole context.

public protocol KeyValueCache: AnyObject {
    /// Tokens cached so far (the next token's position).
    var count: Int { get }
    /// The most tokens it holds (the model's positions).
    var capacity: Int { get }
    /// Runs `tokens` after the cached ones and returns the logits of the last one ([vocab]).
    /// Throws when the cache would pass `capacity`.
    func append(_ tokens: [Int32]) throws -> [Float]
}
