// MPI, loaded when it is needed and only then: loft links no MPI library, so a plain run
// (and every test and demo) needs none installed. A process started by an MPI launcher
// (Open MPI's `mpirun`, which sets OMPI_COMM_WORLD_SIZE, or MPICH's Hydra `mpiexec`, which
// sets PMI_SIZE) opens that implementation's library with dlopen, looks up the handful of
// calls data parallelism uses and its predefined handles, and joins the job.
//
// The calls are MPI's C API; the two implementations differ in their binary interface only:
//   Open MPI: handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are pointers, the addresses
//             of exported objects (`&ompi_mpi_comm_world`); MPI_IN_PLACE is (void *)1.
//   MPICH:    handles are ints fixed in its mpi.h (MPI_COMM_WORLD 0x44000000, MPI_FLOAT
//             0x4c00040a, MPI_DOUBLE 0x4c00080b, MPI_SUM 0x58000003); MPI_IN_PLACE is (void *)-1.

import Glibc

public enum MPIError: Error, CustomStringConvertible {
    case libraryNotLoaded(library: String, launcher: String, reason: String)
    case missingSymbol(library: String, symbol: String)
    case call(function: String, code: Int32)

    public var description: String {
        switch self {
        case let .libraryNotLoaded(library, launcher, reason):
            return "started by \(launcher), but the MPI library \(library) could not be loaded (\(reason)); install "
                + (launcher == "mpirun" ? "Open MPI (Debian: apt-get install openmpi-bin)" : "MPICH (Debian: apt-get install mpich)")
                + " or name the library with LOFT_MPI_LIBRARY=/path/to/libmpi.so"
        case let .missingSymbol(library, symbol):
            return "\(library) is not the MPI library of the launcher that started loft (no \(symbol)); LOFT_MPI_LIBRARY names the library"
        case let .call(function, code):
            return "\(function) failed with MPI error \(code)"
        }
    }
}

public enum Distributed {
    /// Which MPI launched this process, from the variables its launcher sets; nil for a
    /// process not started by one.
    enum Launcher {
        case openMPI, mpich
    }

    static var launcher: Launcher? {
        if getenv("OMPI_COMM_WORLD_SIZE") != nil { return .openMPI }
        if getenv("PMI_SIZE") != nil && getenv("PMI_RANK") != nil { return .mpich }
        return nil
    }

    /// The job's size as the launcher announced it, nil for a process not started by one.
    public static var launchedSize: Int? {
        guard let launcher else { return nil }
        let name = launcher == .openMPI ? "OMPI_COMM_WORLD_SIZE" : "PMI_SIZE"
        return getenv(name).flatMap { Int(String(cString: $0)) }
    }

    /// This process's place in the job: `SingleProcess` unless started by an MPI launcher,
    /// when MPI is loaded and initialised (call `finalize` at the end). Throws when started by
    /// a launcher but MPI cannot be loaded: training on alone would give N copies of one run.
    public static func communicator() throws -> Communicator {
        guard let launcher else { return SingleProcess() }
        return try MPICommunicator(api: launcher == .openMPI ? try MPIAPI.openMPI() : try MPIAPI.mpich())
    }
}

public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    private let api: MPIAPI

    init(api: MPIAPI) throws {
        self.api = api
        var provided: Int32 = 0
        // SERIALIZED (2 in both mpi.h): only the training thread calls MPI, never the workers.
        try Self.check("MPI_Init_thread", api.initThread(2, &provided))
        var rank: Int32 = 0, size: Int32 = 0
        try Self.check("MPI_Comm_rank", api.commRank(&rank))
        try Self.check("MPI_Comm_size", api.commSize(&size))
        self.rank = Int(rank)
        self.size = Int(size)
        // Each rank gets the cores mpirun gave it: OpenBLAS read the whole machine at load.
        Parallel.configureBLASThreads()
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try allReduce(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count, stride: 4, double: false)
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        try allReduce(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count, stride: 8, double: true)
    }

    /// In place, in pieces below MPI's int count (2^30 elements: one call for any adapter).
    private func allReduce(_ base: UnsafeMutableRawPointer?, count: Int, stride: Int, double: Bool) throws {
        guard let base, count > 0 else { return }
        let piece = 1 << 30
        var start = 0
        while start < count {
            let n = min(piece, count - start)
            try Self.check("MPI_Allreduce", api.allReduceSum(base + start * stride, Int32(n), double))
            start += n
        }
    }

    public func barrier() throws { try Self.check("MPI_Barrier", api.barrier()) }

    public func abort(status: Int32) -> Never {
        _ = api.abort(status)
        exit(status)
    }

    public func finalize() { _ = api.finalize() }

    private static func check(_ function: String, _ code: Int32) throws {
        if code != 0 { throw MPIError.call(function: function, code: code) }
    }
}

/// The calls on MPI_COMM_WORLD loft makes, bound to one implementation's functions and handles.
struct MPIAPI {
    let initThread: (Int32, UnsafeMutablePointer<Int32>) -> Int32
    let commRank: (UnsafeMutablePointer<Int32>) -> Int32
    let commSize: (UnsafeMutablePointer<Int32>) -> Int32
    /// In place, MPI_SUM, of `count` floats (or doubles).
    let allReduceSum: (UnsafeMutableRawPointer, Int32, _ double: Bool) -> Int32
    let barrier: () -> Int32
    let abort: (Int32) -> Int32
    let finalize: () -> Int32

    typealias InitThread = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?, Int32, UnsafeMutablePointer<Int32>) -> Int32
    typealias Finalize = @convention(c) () -> Int32

    static func openMPI() throws -> MPIAPI {
        typealias Handle = UnsafeMutableRawPointer
        typealias CommQuery = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
        typealias Allreduce = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer, Int32, Handle, Handle, Handle) -> Int32
        typealias CommCall = @convention(c) (Handle) -> Int32
        typealias Abort = @convention(c) (Handle, Int32) -> Int32
        let library = try Library(candidates: ["libmpi.so.40", "libmpi.so"], launcher: "mpirun")
        let world = try library.symbol("ompi_mpi_comm_world"), float = try library.symbol("ompi_mpi_float")
        let double = try library.symbol("ompi_mpi_double"), sum = try library.symbol("ompi_mpi_op_sum")
        let inPlace = UnsafeRawPointer(bitPattern: 1)
        let initThread = try library.function("MPI_Init_thread", InitThread.self)
        let commRank = try library.function("MPI_Comm_rank", CommQuery.self), commSize = try library.function("MPI_Comm_size", CommQuery.self)
        let allreduce = try library.function("MPI_Allreduce", Allreduce.self)
        let barrier = try library.function("MPI_Barrier", CommCall.self), abort = try library.function("MPI_Abort", Abort.self)
        let finalize = try library.function("MPI_Finalize", Finalize.self)
        return MPIAPI(initThread: { initThread(nil, nil, $0, $1) }, commRank: { commRank(world, $0) }, commSize: { commSize(world, $0) },
                      allReduceSum: { allreduce(inPlace, $0, $1, $2 ? double : float, sum, world) },
                      barrier: { barrier(world) }, abort: { abort(world, $0) }, finalize: { finalize() })
    }

    static func mpich() throws -> MPIAPI {
        typealias Handle = Int32
        typealias CommQuery = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
        typealias Allreduce = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer, Int32, Handle, Handle, Handle) -> Int32
        typealias CommCall = @convention(c) (Handle) -> Int32
        typealias Abort = @convention(c) (Handle, Int32) -> Int32
        let world: Handle = 0x4400_0000, float: Handle = 0x4c00_040a, double: Handle = 0x4c00_080b, sum: Handle = 0x5800_0003
        let inPlace = UnsafeRawPointer(bitPattern: -1)
        let library = try Library(candidates: ["libmpich.so.12", "libmpi.so.12"], launcher: "mpiexec (MPICH)")
        let initThread = try library.function("MPI_Init_thread", InitThread.self)
        let commRank = try library.function("MPI_Comm_rank", CommQuery.self), commSize = try library.function("MPI_Comm_size", CommQuery.self)
        let allreduce = try library.function("MPI_Allreduce", Allreduce.self)
        let barrier = try library.function("MPI_Barrier", CommCall.self), abort = try library.function("MPI_Abort", Abort.self)
        let finalize = try library.function("MPI_Finalize", Finalize.self)
        // MPICH's own symbol: refuses an Open MPI library named by LOFT_MPI_LIBRARY, whose
        // handles are pointers and would crash on these integers.
        _ = try library.symbol("MPIR_Err_return_comm")
        return MPIAPI(initThread: { initThread(nil, nil, $0, $1) }, commRank: { commRank(world, $0) }, commSize: { commSize(world, $0) },
                      allReduceSum: { allreduce(inPlace, $0, $1, $2 ? double : float, sum, world) },
                      barrier: { barrier(world) }, abort: { abort(world, $0) }, finalize: { finalize() })
    }
}

/// A shared library opened for its symbols (LOFT_MPI_LIBRARY overrides the candidates).
private struct Library {
    let name: String
    let handle: UnsafeMutableRawPointer

    init(candidates: [String], launcher: String) throws {
        let given = getenv("LOFT_MPI_LIBRARY").map { String(cString: $0) }
        let names = given.map { [$0] } ?? candidates
        var reason = ""
        for name in names {
            // GLOBAL: Open MPI's plugins, which it opens in turn, resolve their calls into libmpi.
            if let handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL) {
                self.name = name
                self.handle = handle
                return
            }
            reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
        }
        throw MPIError.libraryNotLoaded(library: names[0], launcher: launcher, reason: reason)
    }

    func symbol(_ symbol: String) throws -> UnsafeMutableRawPointer {
        guard let address = dlsym(handle, symbol) else { throw MPIError.missingSymbol(library: name, symbol: symbol) }
        return address
    }

    func function<T>(_ symbol: String, _ type: T.Type) throws -> T { unsafeBitCast(try self.symbol(symbol), to: type) }
}
