// MPI, loaded when it is needed and only then: loft links no MPI library, so a plain run
// (and every test and demo) needs none installed. A process started by Open MPI's `mpirun`
// (which sets OMPI_COMM_WORLD_SIZE) opens libmpi with dlopen, looks up the handful of calls
// data parallelism uses and Open MPI's predefined handles, and joins the job.
//
// The calls are MPI's C API. Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...)
// are the addresses of exported objects (`&ompi_mpi_comm_world`), and MPI_IN_PLACE is
// (void *)1 (Open MPI's mpi.h). MPICH's `mpiexec` (PMI_SIZE) is recognised, to refuse it
// clearly: its handles are integers of another ABI.

import Glibc

public enum MPIError: Error, CustomStringConvertible {
    case libraryNotLoaded(library: String, reason: String)
    case missingSymbol(library: String, symbol: String)
    case notOpenMPI(variable: String)
    case call(function: String, code: Int32)

    public var description: String {
        switch self {
        case let .libraryNotLoaded(library, reason):
            return "started by mpirun, but the MPI library \(library) could not be loaded (\(reason)); install Open MPI "
                + "(Debian: apt-get install openmpi-bin) or name the library with LOFT_MPI_LIBRARY=/path/to/libmpi.so.40"
        case let .missingSymbol(library, symbol):
            return "\(library) is not Open MPI's libmpi (no \(symbol)); loft speaks Open MPI's ABI (LOFT_MPI_LIBRARY names the library)"
        case let .notOpenMPI(variable):
            return "started by an MPI launcher that is not Open MPI's (\(variable) is set, OMPI_COMM_WORLD_SIZE is not); launch with Open MPI's mpirun"
        case let .call(function, code):
            return "\(function) failed with MPI error \(code)"
        }
    }
}

public enum Distributed {
    /// The job's size as the launcher announced it, nil for a process not started by mpirun.
    public static var launchedSize: Int? {
        guard let text = getenv("OMPI_COMM_WORLD_SIZE").map({ String(cString: $0) }) else { return nil }
        return Int(text)
    }

    /// This process's place in the job: `SingleProcess` unless started by mpirun, when MPI is
    /// loaded and initialised (call `finalize` at the end). Throws when started by a launcher
    /// but MPI cannot be loaded: training on alone would give N copies of one run.
    public static func communicator() throws -> Communicator {
        guard launchedSize != nil else {
            if getenv("PMI_SIZE") != nil || getenv("PMI_RANK") != nil { throw MPIError.notOpenMPI(variable: "PMI_SIZE") }
            return SingleProcess()
        }
        return try MPICommunicator()
    }
}

public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    private let api: OpenMPI

    init() throws {
        api = try OpenMPI.load()
        var provided: Int32 = 0
        // SERIALIZED: only the training thread calls MPI (the worker threads never do).
        try api.check("MPI_Init_thread", api.initThread(nil, nil, OpenMPI.threadSerialized, &provided))
        var rank: Int32 = 0, size: Int32 = 0
        try api.check("MPI_Comm_rank", api.commRank(api.world, &rank))
        try api.check("MPI_Comm_size", api.commSize(api.world, &size))
        self.rank = Int(rank)
        self.size = Int(size)
        // Each rank gets the cores mpirun gave it: OpenBLAS read the whole machine at load.
        Parallel.configureBLASThreads()
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try allReduce(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count, stride: 4, type: api.float)
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        try allReduce(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count, stride: 8, type: api.double)
    }

    /// In place, in pieces below MPI's int count (2^30 elements: one call for any adapter).
    private func allReduce(_ base: UnsafeMutableRawPointer?, count: Int, stride: Int, type: UnsafeMutableRawPointer) throws {
        guard let base, count > 0 else { return }
        let piece = 1 << 30
        var start = 0
        while start < count {
            let n = min(piece, count - start)
            try api.check("MPI_Allreduce", api.allreduce(OpenMPI.inPlace, base + start * stride, Int32(n), type, api.sum, api.world))
            start += n
        }
    }

    public func barrier() throws { try api.check("MPI_Barrier", api.barrier(api.world)) }

    public func abort(status: Int32) -> Never {
        _ = api.abort(api.world, status)
        exit(status)
    }

    public func finalize() { _ = api.finalize() }
}

/// The entry points and handles, resolved from the library once.
private struct OpenMPI {
    typealias InitThread = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?, Int32, UnsafeMutablePointer<Int32>) -> Int32
    typealias CommQuery = @convention(c) (UnsafeMutableRawPointer, UnsafeMutablePointer<Int32>) -> Int32
    typealias Allreduce = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer, Int32, UnsafeMutableRawPointer, UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Int32
    typealias CommCall = @convention(c) (UnsafeMutableRawPointer) -> Int32
    typealias Abort = @convention(c) (UnsafeMutableRawPointer, Int32) -> Int32
    typealias Finalize = @convention(c) () -> Int32

    static let threadSerialized: Int32 = 2
    static let inPlace = UnsafeRawPointer(bitPattern: 1)

    let initThread: InitThread
    let commRank: CommQuery
    let commSize: CommQuery
    let allreduce: Allreduce
    let barrier: CommCall
    let abort: Abort
    let finalize: Finalize
    let world: UnsafeMutableRawPointer
    let float: UnsafeMutableRawPointer
    let double: UnsafeMutableRawPointer
    let sum: UnsafeMutableRawPointer

    static func load() throws -> OpenMPI {
        let given = getenv("LOFT_MPI_LIBRARY").map { String(cString: $0) }
        let candidates = given.map { [$0] } ?? ["libmpi.so.40", "libmpi.so"]
        var handle: UnsafeMutableRawPointer?
        var reason = ""
        for name in candidates {
            // GLOBAL: Open MPI's plugins, which it opens in turn, resolve their calls into libmpi.
            handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL)
            if handle != nil { break }
            reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
        }
        let library = candidates[0]
        guard let handle else { throw MPIError.libraryNotLoaded(library: library, reason: reason) }
        func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
            guard let address = dlsym(handle, name) else { throw MPIError.missingSymbol(library: library, symbol: name) }
            return address
        }
        func function<T>(_ name: String, _ type: T.Type) throws -> T { unsafeBitCast(try symbol(name), to: type) }
        return OpenMPI(
            initThread: try function("MPI_Init_thread", InitThread.self),
            commRank: try function("MPI_Comm_rank", CommQuery.self),
            commSize: try function("MPI_Comm_size", CommQuery.self),
            allreduce: try function("MPI_Allreduce", Allreduce.self),
            barrier: try function("MPI_Barrier", CommCall.self),
            abort: try function("MPI_Abort", Abort.self),
            finalize: try function("MPI_Finalize", Finalize.self),
            world: try symbol("ompi_mpi_comm_world"),
            float: try symbol("ompi_mpi_float"),
            double: try symbol("ompi_mpi_double"),
            sum: try symbol("ompi_mpi_op_sum"))
    }

    func check(_ function: String, _ code: Int32) throws {
        if code != 0 { throw MPIError.call(function: function, code: code) }
    }
}
