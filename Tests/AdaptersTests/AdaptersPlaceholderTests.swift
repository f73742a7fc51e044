import Testing
@testable import Adapters

@Test func AdaptersModuleLoads() { #expect(Bool(true)) }
