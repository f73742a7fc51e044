// `loft convert` between formats keeps every value: safetensors <-> npz <-> npy, sharded
// in and out, and a cast to F16 byte-identical to numpy astype + safetensors save_file.

import Foundation
import Testing
import TensorIO

func expectSameTensors(_ a: String, _ b: String, renamed: (String) -> String = { $0 }) throws {
    let left = try tensorsOf(a), right = try tensorsOf(b)
    #expect(Set(left.keys.map(renamed)) == Set(right.keys))
    for (name, (info, bytes)) in left {
        let other = try #require(right[renamed(name)], "\(renamed(name)) missing in \(b)")
        #expect(other.0.dtype == info.dtype && other.0.shape == info.shape, "\(name)")
        #expect(other.1 == bytes, "\(name): values differ")
    }
}

@Suite struct ConvertRoundTripTests {
    @Test func safetensorsToNpzAndBack() throws {
        let scratch = ScratchDirectory()
        let source = Repo.fixture("small.safetensors")
        for (archive, flags) in [("stored.npz", [String]()), ("deflated.npz", ["--compress"])] {
            let npz = scratch.file(archive), back = scratch.file("back-\(archive).safetensors")
            #expect(loft(["convert", source, npz] + flags).status == 0)
            try expectSameTensors(source, npz)
            let result = loft("convert", npz, back, "--metadata", "format=pt")
            #expect(result.status == 0, "\(result.stderr)")
            // Same tensors, same single metadata key: the file save_file wrote.
            #expect(try Data(contentsOf: URL(fileURLWithPath: back)) == Data(contentsOf: URL(fileURLWithPath: source)))
        }
    }

    @Test func numpyArchivesFromNumPyConvertToSafetensors() throws {
        let scratch = ScratchDirectory()
        for file in ["small.npz", "small-deflated.npz"] {
            let out = scratch.file(file + ".safetensors")
            #expect(loft("convert", Repo.fixture(file), out).status == 0)
            try expectSameTensors(Repo.fixture("small.safetensors"), out)
        }
    }

    @Test func singleTensorToNpyIsWhatNumPySaved() throws {
        let scratch = ScratchDirectory()
        let npy = scratch.file("wte.npy")
        let result = loft("convert", Repo.fixture("small.safetensors"), npy, "--include", "transformer.wte.weight")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: npy)) == Data(contentsOf: URL(fileURLWithPath: Repo.fixture("wte.npy"))))
        let back = scratch.file("wte.safetensors")
        #expect(loft("convert", npy, back).status == 0)
        #expect(try tensorsOf(back).values.first?.1 == tensorsOf(Repo.fixture("wte.npy")).values.first?.1)
    }

    @Test func npyNeedsExactlyOneTensor() throws {
        let scratch = ScratchDirectory()
        let result = loft("convert", Repo.fixture("small.safetensors"), scratch.file("all.npy"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("exactly one tensor"))
        #expect(scratch.contents().isEmpty)
    }

    @Test func castToF16MatchesNumPyAstypeAndKeepsIntegers() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("f16.safetensors")
        let result = loft("convert", Repo.fixture("small.safetensors"), out, "--dtype", "f16")
        #expect(result.status == 0, "\(result.stderr)")
        // small-f16.safetensors: float arrays astype(float16), int64 and bool untouched, save_file.
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: Repo.fixture("small-f16.safetensors"))))
    }

    @Test func dtypeAllCastsIntegersToo() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("all.safetensors")
        #expect(loft("convert", Repo.fixture("small.safetensors"), out, "--dtype", "f32", "--dtype-all").status == 0)
        let tensors = try tensorsOf(out)
        #expect(tensors.values.allSatisfy { $0.0.dtype == .F32 })
        // position ids 0..<32 as float32.
        let ids = try #require(tensors["transformer.position_ids"]?.1)
        let values = ids.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(values == (0..<32).map(Float.init))
    }

    @Test func bf16WrittenToNumPyIsWidenedWithANote() throws {
        let scratch = ScratchDirectory()
        let out = scratch.file("bf16.npz")
        let result = loft("convert", Repo.fixture("small.safetensors"), out, "--dtype", "bf16")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("written as F32"))
        let tensors = try tensorsOf(out)
        #expect(tensors["transformer.wte.weight"]?.0.dtype == .F32)
        #expect(tensors["transformer.h.0.ln.weight"]?.0.dtype == .F32)
        #expect(tensors["transformer.position_ids"]?.0.dtype == .I64)
        // bf16 keeps the top 16 bits of a float32 (rounded): the low half of every value is zero.
        let wte = try #require(tensors["transformer.wte.weight"]?.1)
        let bits = wte.withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }
        #expect(bits.allSatisfy { $0 & 0xFFFF == 0 })
    }

    @Test(.requiresPython("numpy", "safetensors")) func numpyReadsWhatLoftWrote() throws {
        let scratch = ScratchDirectory()
        let npz = scratch.file("out.npz"), f16 = scratch.file("out.safetensors")
        #expect(loft("convert", Repo.fixture("small.safetensors"), npz, "--compress").status == 0)
        #expect(loft("convert", Repo.fixture("small.npz"), f16, "--dtype", "float16").status == 0)
        let check = Python.run("""
            import sys, numpy as np
            from safetensors.numpy import load_file
            ref = load_file(sys.argv[1])
            npz = np.load(sys.argv[2])
            assert set(npz.files) == set(ref), (npz.files, list(ref))
            for k, v in ref.items():
                assert npz[k].dtype == v.dtype and np.array_equal(npz[k], v, equal_nan=True), k
            half = load_file(sys.argv[3])
            for k, v in ref.items():
                want = v.astype(np.float16) if v.dtype.kind == "f" else v
                assert half[k].dtype == want.dtype and np.array_equal(half[k], want, equal_nan=True), k
            print("ok")
            """, arguments: [Repo.fixture("small.safetensors"), npz, f16])
        #expect(check?.status == 0, "\(check?.output ?? "")")
    }
}
