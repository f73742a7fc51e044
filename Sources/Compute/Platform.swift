// loft builds on Linux only: the code calls Glibc directly (mmap, madvise, sysconf, mallopt,
// copy_file_range, /proc/meminfo) and links Debian's OpenBLAS, zlib and json-c. Say so at
// compile time rather than fail later on a missing module.
#if !os(Linux)
#error("loft builds on Linux only (Glibc, OpenBLAS, zlib, json-c from the distribution)")
#endif
