import Testing
@testable import LoftCLI

@Test func everyCommandIsRegistered() {
    let names = Loft.configuration.subcommands.map { $0.configuration.commandName }
    #expect(names.contains("inspect") && names.contains("convert") && names.contains("merge"))
}
