// Open MPI's launcher, for the data-parallel tests: found on PATH, run as root when the
// tests are (mpirun refuses root unless told), and the traits that skip without it.

import Foundation
import Testing

public enum MPI {
    /// mpirun on PATH, nil when Open MPI is not installed.
    public static let mpirun: String? = onPath("mpirun")
    /// MPICH's Hydra launcher (Debian's mpich package), nil when it is not installed.
    public static let mpichLauncher: String? = onPath("mpiexec.hydra") ?? onPath("mpiexec.mpich")

    static func onPath(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// `mpiexec.hydra -n ranks executable arguments...` (MPICH).
    public static func runMPICH(ranks: Int, _ executable: String, _ arguments: [String]) throws -> ProcessResult {
        try Processes.run(try #require(mpichLauncher), ["-n", "\(ranks)", executable] + arguments)
    }

    public static var isRoot: Bool { getuid() == 0 }

    /// A system program in one of the usual directories.
    static func installed(_ name: String) -> Bool {
        ["/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"].contains { FileManager.default.isExecutableFile(atPath: $0 + name) }
    }

    /// The environment mpirun needs here: root allowed, shared memory between ranks without
    /// ptrace-based single copy (refused in containers), no PMIx/hwloc warnings about them.
    public static var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"
        environment["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
        return environment
    }

    /// `mpirun -np ranks executable arguments...` (more ranks than cores allowed), with
    /// `extra` set in every rank's environment.
    public static func run(ranks: Int, _ executable: String, _ arguments: [String], extra: [String: String] = [:]) throws -> ProcessResult {
        var launcher = ["-np", "\(ranks)", "--bind-to", "none"]
        for (name, value) in extra.sorted(by: { $0.key < $1.key }) { launcher += ["-x", "\(name)=\(value)"] }
        return try Processes.run(try #require(mpirun), launcher + [executable] + arguments, environment: environment)
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test only when Open MPI's mpirun and the debug `loft` binary are there.
    public static var requiresMPI: Self {
        .enabled(if: MPI.mpirun != nil && Repository.binary != nil, "needs Open MPI's mpirun (apt-get install openmpi-bin) and .build/debug/loft")
    }

    /// Runs the test only when MPICH's launcher and the debug `loft` binary are there.
    public static var requiresMPICH: Self {
        .enabled(if: MPI.mpichLauncher != nil && Repository.binary != nil, "needs MPICH's mpiexec.hydra (apt-get install mpich) and .build/debug/loft")
    }

    /// Runs the test only as root with `ip`, `unshare` and mpirun: what two network
    /// namespaces with their own hostnames need (scripts/mpi-netns.sh).
    public static var requiresNetworkNamespaces: Self {
        .enabled(if: MPI.mpirun != nil && Repository.binary != nil && MPI.isRoot && MPI.installed("ip") && MPI.installed("unshare"),
                        "needs root, ip (iproute2), unshare (util-linux) and Open MPI's mpirun")
    }
}
