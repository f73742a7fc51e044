import Testing
@testable import TensorIO

/// loft's conversions against NumPy / ml_dtypes `astype`, bit for bit (NaN payloads too).
/// Where the library rounds twice (ml_dtypes' float64 -> bfloat16/float8 and integer ->
/// bfloat16 go through float32) the fixture holds the correctly rounded value instead; see
/// docs/dtypes.md.
@Suite struct ConversionFixtureTests {
    static let cases = (try? DTypeFixtures.conversionCases()) ?? []

    func check(_ selected: [ConversionCase]) throws {
        try #require(!selected.isEmpty, "no fixture cases: run python3 fixtures/generate.py dtypes")
        for c in selected {
            let wrong = try mismatches(c)
            #expect(wrong.isEmpty, "\(c): \(wrong.joined(separator: "; "))")
        }
    }

    @Test func float32ToNarrowFloatsMatchesReferences() throws {
        try check(Self.cases.filter { $0.from == .F32 && $0.to.isFloatingPoint })
    }

    @Test func float64ToNarrowFloatsIsCorrectlyRounded() throws {
        try check(Self.cases.filter { $0.from == .F64 && $0.to.isFloatingPoint })
    }

    @Test func everyFloat16PatternWidensLikeNumPy() throws {
        try check(Self.cases.filter { $0.from == .F16 && $0.to == .F32 })
    }

    @Test func sixteenBitFloatsToOtherFloatsMatchMlDtypes() throws {
        try check(Self.cases.filter { ($0.from == .F16 || $0.from == .BF16) && $0.to.isFloatingPoint && $0.to != .F32 })
    }

    @Test func everyFloat8CodeConvertsLikeMlDtypes() throws {
        try check(Self.cases.filter { $0.from == .F8_E4M3 || $0.from == .F8_E5M2 }.filter { !$0.to.isInteger })
    }

    @Test func integersAndBoolConvertLikeNumPyAndRoundCorrectly() throws {
        try check(Self.cases.filter { $0.from == .BOOL || $0.from.isInteger })
    }

    /// In range: NumPy's truncation. Out of range and NaN: loft's saturation (NumPy's result
    /// there is undefined).
    @Test func floatsToIntegersTruncateAndSaturate() throws {
        try check(Self.cases.filter { $0.from.isFloatingPoint && ($0.to.isInteger || $0.to == .BOOL) })
    }
}

extension DType {
    var isInteger: Bool { [.U8, .U16, .U32, .U64, .I8, .I16, .I32, .I64].contains(self) }
}
