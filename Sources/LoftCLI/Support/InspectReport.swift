// What `loft inspect` shows, gathered once and rendered either as aligned text or as the
// JSON documented in docs/commands/inspect.md (keys in a fixed order; a key is never removed
// or renamed, new ones may be added).

import TensorIO

struct InspectReport {
    struct Entry {
        let info: TensorInfo
        let file: String?
        /// The stored type when it is not the dtype (GGUF quantizations: "Q4_K").
        var stored: String? = nil
        var statistics: TensorStatistics?
    }

    struct Total {
        var tensors = 0
        var parameters = 0
        var bytes = 0

        mutating func add(_ info: TensorInfo) {
            tensors += 1
            parameters += info.elementCount
            bytes += info.byteCount
        }

        var json: JSONValue {
            .object([JSONMember("tensors", .integer(Int64(tensors))), JSONMember("parameters", .integer(Int64(parameters))),
                     JSONMember("bytes", .integer(Int64(bytes)))])
        }
    }

    let path: String
    let format: String
    let metadata: [(key: String, value: String)]
    /// Entries that are not tensors (a PyTorch checkpoint's step counter, config), as the reader describes them.
    let others: [(name: String, value: String)]
    var entries: [Entry]
    /// Tensors in the file before --filter.
    let fileTensorCount: Int
    let isSharded: Bool
    /// Shard files in the index's order.
    let shardFiles: [String]
    var withStatistics = false

    init(reader: TensorReader, filter: TensorNamePattern?) {
        path = reader.path
        format = reader.format
        metadata = reader.metadata
        others = reader.otherEntries
        fileTensorCount = reader.tensors.count
        var fileOf: [[UInt8]: String] = [:]  // byte keys: names are compared as bytes
        if let sharded = reader.storageReader as? ShardedTensorReader {
            isSharded = true
            shardFiles = sharded.shards.map(\.file)
            for shard in sharded.shards { for name in shard.tensors { fileOf[Array(name.utf8)] = shard.file } }
        } else {
            isSharded = false
            shardFiles = []
        }
        entries = reader.tensors
            .filter { filter?.matches($0.name) ?? true }
            .map { Entry(info: $0, file: fileOf[Array($0.name.utf8)], stored: reader.storageType(for: $0.name), statistics: nil) }
    }

    var total: Total { entries.reduce(into: Total()) { $0.add($1.info) } }

    /// Totals per dtype, in the safetensors reference order.
    var totalsByDType: [(DType, Total)] {
        var totals: [DType: Total] = [:]
        for entry in entries { totals[entry.info.dtype, default: Total()].add(entry.info) }
        return totals.sorted { $0.key.referenceOrder < $1.key.referenceOrder }.map { ($0.key, $0.value) }
    }

    var totalsByShard: [(String, Total)] {
        var totals: [String: Total] = [:]
        for entry in entries { if let file = entry.file { totals[file, default: Total()].add(entry.info) } }
        return shardFiles.map { ($0, totals[$0] ?? Total()) }
    }

    // MARK: JSON

    var json: JSONValue {
        let tensors: [JSONValue] = entries.map { entry in
            var members = [
                JSONMember("name", .string(entry.info.name)),
                JSONMember("dtype", .string(entry.info.dtype.rawValue)),
                JSONMember("shape", .array(entry.info.shape.map { .integer(Int64($0)) })),
                JSONMember("parameters", .integer(Int64(entry.info.elementCount))),
                JSONMember("bytes", .integer(Int64(entry.info.byteCount))),
            ]
            if let file = entry.file { members.append(JSONMember("file", .string(file))) }
            if let stored = entry.stored { members.append(JSONMember("stored", .string(stored))) }
            if withStatistics { members.append(JSONMember("stats", InspectReport.json(entry.statistics))) }
            return .object(members)
        }
        var totals = total.json.objectMembers!
        totals.append(JSONMember("by_dtype", .object(totalsByDType.map { JSONMember($0.0.rawValue, $0.1.json) })))
        let shards: [JSONValue] = totalsByShard.map { file, total in
            .object([JSONMember("file", .string(file)), JSONMember("tensors", .integer(Int64(total.tensors))),
                     JSONMember("bytes", .integer(Int64(total.bytes)))])
        }
        return .object([
            JSONMember("format", .string(format)),
            JSONMember("path", .string(path)),
            JSONMember("metadata", .object(metadata.map { JSONMember($0.key, .string($0.value)) })),
            JSONMember("tensors", .array(tensors)),
            JSONMember("totals", .object(totals)),
            JSONMember("shards", .array(shards)),
            JSONMember("other_entries", .object(others.map { JSONMember($0.name, .string($0.value)) })),
        ])
    }

    /// Non-finite values (an all-NaN tensor's mean) have no JSON number: they become null.
    static func json(_ statistics: TensorStatistics?) -> JSONValue {
        guard let s = statistics else { return .null }
        return .object([
            JSONMember("min", .finite(s.min)), JSONMember("max", .finite(s.max)),
            JSONMember("mean", .finite(s.mean)), JSONMember("std", .finite(s.std)),
            JSONMember("nan_count", .integer(Int64(s.nanCount))), JSONMember("inf_count", .integer(Int64(s.infCount))),
            JSONMember("zero_count", .integer(Int64(s.zeroCount))),
        ])
    }

    // MARK: Text

    var text: String {
        var lines: [String] = []
        let filtered = entries.count == fileTensorCount ? "" : " (\(entries.count) of \(fileTensorCount) shown)"
        lines.append("\(NumberText.printable(path)): \(format), \(NumberText.grouped(total.tensors)) \(total.tensors == 1 ? "tensor" : "tensors"), "
            + "\(NumberText.grouped(total.parameters)) parameters, \(ByteSize.format(total.bytes))\(filtered)")

        if !metadata.isEmpty {
            lines.append("")
            lines.append("metadata")
            var table = TextTable([("key", .left), ("value", .left)])
            for (key, value) in metadata { table.add([NumberText.printable(key), NumberText.printable(value)]) }
            lines.append(table.render(indent: "  "))
        }

        if !others.isEmpty {
            lines.append("")
            lines.append("not tensors (skipped by convert)")
            var table = TextTable([("entry", .left), ("value", .left)])
            for (name, value) in others { table.add([NumberText.printable(name), NumberText.printable(value)]) }
            lines.append(table.render(indent: "  "))
        }

        lines.append("")
        var columns: [(String, TextTable.Alignment)] = [("name", .left), ("dtype", .left), ("shape", .left), ("parameters", .right), ("bytes", .right)]
        if withStatistics {
            columns += [("min", .right), ("max", .right), ("mean", .right), ("std", .right), ("nan", .right), ("inf", .right), ("zeros", .right)]
        }
        let showStored = entries.contains { $0.stored != nil }
        if showStored { columns.insert(("stored", .left), at: 2) }
        if isSharded { columns.append(("file", .left)) }
        var table = TextTable(columns)
        for entry in entries {
            var row = [NumberText.printable(entry.info.name), entry.info.dtype.rawValue, NumberText.shape(entry.info.shape),
                       NumberText.grouped(entry.info.elementCount), ByteSize.format(entry.info.byteCount)]
            if showStored { row.insert(entry.stored ?? "-", at: 2) }
            if withStatistics {
                if let s = entry.statistics {
                    row += [NumberText.short(s.min), NumberText.short(s.max), NumberText.short(s.mean), NumberText.short(s.std),
                            NumberText.grouped(s.nanCount), NumberText.grouped(s.infCount), NumberText.grouped(s.zeroCount)]
                } else {
                    row += Array(repeating: "-", count: 7)
                }
            }
            if isSharded { row.append(entry.file ?? "-") }
            table.add(row)
        }
        lines.append(table.render())

        lines.append("")
        var dtypes = TextTable([("dtype", .left), ("tensors", .right), ("parameters", .right), ("bytes", .right)])
        for (dtype, t) in totalsByDType {
            dtypes.add([dtype.rawValue, NumberText.grouped(t.tensors), NumberText.grouped(t.parameters), ByteSize.format(t.bytes)])
        }
        let all = total
        dtypes.add(["total", NumberText.grouped(all.tensors), NumberText.grouped(all.parameters), ByteSize.format(all.bytes)])
        lines.append(dtypes.render())

        if isSharded {
            lines.append("")
            lines.append("shards")
            var shards = TextTable([("file", .left), ("tensors", .right), ("bytes", .right)])
            for (file, t) in totalsByShard { shards.add([file, NumberText.grouped(t.tensors), ByteSize.format(t.bytes)]) }
            lines.append(shards.render(indent: "  "))
        }
        return lines.joined(separator: "\n")
    }
}
