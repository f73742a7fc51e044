// Conversions from 8- and 16-bit types without a dedicated loop (F8 -> anything, F16 <-> BF16,
// I8/U8/I16/U16 -> floats, ...) by table: every source bit pattern is converted once by the
// generic path, then each element is a load from the table. Same results as the generic path
// by construction, at memory speed (F8 dequantisation is the common case).

enum LookupConversion {
    /// Elements needed before building the table pays: 256 entries are free, 65536 are not.
    static func applies(from: DType, to: DType, count: Int) -> Bool {
        guard let width = from.byteWidth, width <= 2, to.byteWidth != nil else { return false }
        switch (from, to) {
        case (.F16, .F32), (.BF16, .F32): return false  // vectorised loops
        default: return count >= (width == 1 ? 256 : 1 << 18)
        }
    }

    /// `to` values of every `from` bit pattern, in pattern order.
    static func table(from: DType, to: DType) -> ByteBuffer {
        let width = from.byteWidth!
        let entries = 1 << (8 * width)
        let codes = ByteBuffer(count: entries * width)
        for code in 0..<entries {
            if width == 1 {
                codes.bytes.storeBytes(of: UInt8(code), toByteOffset: code, as: UInt8.self)
            } else {
                codes.bytes.storeBytes(of: UInt16(code).littleEndian, toByteOffset: 2 * code, as: UInt16.self)
            }
        }
        let table = ByteBuffer(count: entries * to.byteWidth!)
        GenericConversion.convert(from: from, UnsafeRawPointer(codes.bytes.baseAddress!), to: to, table.bytes.baseAddress!, 0..<entries)
        return table
    }

    static func convert(table: ByteBuffer, from: DType, _ input: UnsafeRawPointer, to: DType, _ output: UnsafeMutableRawPointer, _ range: Range<Int>) {
        let entries = UnsafeRawPointer(table.bytes.baseAddress!)
        func run<Code: FixedWidthInteger, Value>(_: Code.Type, _: Value.Type) {
            let values = entries.assumingMemoryBound(to: Value.self)
            for i in range {
                let code = Int(Code(littleEndian: input.loadUnaligned(fromByteOffset: i * MemoryLayout<Code>.size, as: Code.self)))
                output.storeBytes(of: values[code], toByteOffset: i * MemoryLayout<Value>.size, as: Value.self)
            }
        }
        func run<Code: FixedWidthInteger>(_ code: Code.Type) {
            switch to.byteWidth! {
            case 1: run(code, UInt8.self)
            case 2: run(code, UInt16.self)
            case 4: run(code, UInt32.self)
            default: run(code, UInt64.self)
            }
        }
        if from.byteWidth == 1 { run(UInt8.self) } else { run(UInt16.self) }
    }
}
