// Telling whether an output would land on an input. Paths are compared by what they point
// at (device and inode, after following symlinks), so `out -> model.safetensors`, a hard
// link or `./a/../model.safetensors` are all caught.

import Glibc

public struct FileIdentity: Hashable {
    public let device: UInt64
    public let inode: UInt64

    /// nil if nothing exists at the path (or it cannot be stat'ed).
    public init?(path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
    }
}

enum InputProtection {
    /// The files a reader reads: the file itself, or the index and every shard.
    static func inputFiles(of reader: TensorReader) -> [String] {
        guard let sharded = reader as? ShardedTensorReader else { return [reader.path] }
        let directory = isDirectory(reader.path) ? reader.path : parentDirectory(reader.path)
        var files = sharded.shards.map { joinPath(directory, $0.file) }
        if !isDirectory(reader.path) { files.append(reader.path) }
        return files
    }

    /// Throws if writing `output` could replace or sit among the input's files. A sharded
    /// output directory must not hold any input file: its shard names (including a single
    /// `model.safetensors`) are only known once the split is made.
    static func check(output: ConversionOutput, inputs: [String]) throws {
        switch output {
        case let .safetensors(path), let .npz(path, _), let .npy(path):
            guard let target = FileIdentity(path: path) else { return }
            for input in inputs where FileIdentity(path: input) == target {
                throw PipelineError.outputIsInput(output: path, input: input)
            }
        case let .sharded(directory, _):
            guard let target = FileIdentity(path: directory) else { return }
            for input in inputs {
                if FileIdentity(path: input) == target || FileIdentity(path: parentDirectory(input)) == target {
                    throw PipelineError.outputIsInput(output: directory, input: input)
                }
            }
        }
    }
}
