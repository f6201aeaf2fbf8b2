//! The `dealflow` command: parse the arguments, run, map the outcome to an exit code.

/// mimalloc rather than the system allocator: a step of the engine makes and drops dozens of
/// small values, and a long simulation or a busy daemon spends a third of its time in glibc's
/// malloc otherwise (see `benches/simulate.rs`, which measures with the same allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    dealflow::cli::main()
}
