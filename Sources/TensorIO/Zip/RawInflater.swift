// Raw deflate (zip method 8) through zlib, producing output only as far as asked: the npz
// reader inflates a member's .npy header first, then exactly the data size it declares,
// so a member can never make loft allocate or write more than its header promised.

import CZlib

final class RawInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private(set) var finished = false
    let path: String
    let member: String

    init(input: UnsafeRawBufferPointer, path: String, member: String) throws {
        self.path = path
        self.member = member
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = 0
        remainingInput = input.count
        // windowBits -15: raw deflate, no zlib header (zip stores bare streams).
        let status = inflateInit2_(stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        // On failure deinit still runs (every property is set): it frees the stream, and
        // inflateEnd on a stream whose init failed is a harmless no-op.
        guard status == Z_OK else {
            throw ZipError.corruptDeflate(path: path, member: member, reason: "inflateInit2 failed (\(status))")
        }
    }

    private var remainingInput: Int

    /// Fills `output` completely, or throws if the stream ends or breaks first.
    func fill(_ output: UnsafeMutableRawBufferPointer) throws {
        var produced = 0
        while produced < output.count {
            if finished {
                throw ZipError.inflatesShort(path: path, member: member, expected: output.count, got: produced)
            }
            let chunk = min(output.count - produced, Int(UInt32.max >> 1))
            stream.pointee.next_out = (output.baseAddress! + produced).assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(chunk)
            try step()
            produced += chunk - Int(stream.pointee.avail_out)
        }
    }

    /// Succeeds only if the stream ends here: one more byte of output means the member
    /// holds more than its header declared.
    func expectEnd(limit: Int) throws {
        var spare: UInt8 = 0
        while !finished {
            try withUnsafeMutablePointer(to: &spare) { pointer in
                stream.pointee.next_out = pointer
                stream.pointee.avail_out = 1
                try step()
                if stream.pointee.avail_out == 0 {
                    throw ZipError.inflatesPastDeclaredSize(path: path, member: member, limit: limit)
                }
            }
        }
    }

    private func step() throws {
        if stream.pointee.avail_in == 0 && remainingInput > 0 {
            let chunk = min(remainingInput, Int(UInt32.max >> 1))
            stream.pointee.avail_in = uInt(chunk)
            remainingInput -= chunk
        }
        let before = (stream.pointee.avail_in, stream.pointee.avail_out)
        let status = inflate(stream, Z_NO_FLUSH)
        switch status {
        case Z_STREAM_END: finished = true
        case Z_OK: break
        case Z_BUF_ERROR:
            // No progress possible: the input ran out before the stream's end.
            if before == (stream.pointee.avail_in, stream.pointee.avail_out) {
                throw ZipError.corruptDeflate(path: path, member: member, reason: "data ends before the deflate stream does")
            }
        default:
            let message = stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)"
            throw ZipError.corruptDeflate(path: path, member: member, reason: message)
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }
}
