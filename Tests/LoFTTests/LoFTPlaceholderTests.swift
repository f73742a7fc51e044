import Testing
@testable import LoFT

@Test func LoFTModuleLoads() { #expect(Bool(true)) }
