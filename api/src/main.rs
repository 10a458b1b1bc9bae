// mimalloc instead of glibc's malloc: with many threads' worth of small, short-lived
// allocations (GraphQL values, JSON, socket buffers) it kept less memory per idle
// WebSocket and returned it after sockets closed (README, "Benchmark").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ils_api::cli::run()
}
