// What opening a model guessed (ModelSource.notes), told on stderr as
// `loft COMMAND: note: ...`: the libraries never print.

import TensorIO

func printNotes(_ source: ModelSource?, command: String) {
    for note in source?.notes ?? [] { Console.current.err("loft \(command): note: \(note)") }
}
